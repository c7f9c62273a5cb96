"""A channel's monthly quota as the runtime keeps it: every message the platform accepted is
counted in the database (storage/quota.py), replies and the outbox alike, so a restart or a
second replica counts on from the same number; the outbox sender asks what it may claim.

When what is left of the month falls to the reserve (a tenth of the quota unless configured),
only reply-like outbox messages (priority <= outbox.REPLY_LIKE: outcomes, notices to admins) go
on, while reminders, digests and broadcasts wait; replies to people go on until the quota itself
is used up. Admins are told once a month at 80% and once at the reserve: the fact is stored with
the month's count, and the notice is queued in the same transaction as the count that crossed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import Channel
from language import vn
from language.texts import Texts
from storage import outbox, quota
from storage.db import Database
from storage.records.people import all_admins

log = logging.getLogger(__name__)
# Notices to admins go before every other reply-like message.
NOTICE_PRIORITY = 1
_TEXT = {quota.WARNING: "quota-warning", quota.RESERVE: "quota-reserve"}


class QuotaKeeper:
    """One channel's count of accepted messages, and its plan when it has one."""

    def __init__(
        self,
        db: Database,
        channel: str,
        *,
        monthly: int | None,
        reserve: int | None = None,
        texts: Texts | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.channel = channel
        self.plan = quota.Plan.of(monthly, reserve) if monthly is not None else None
        self.texts = texts
        self.clock = clock

    @classmethod
    def for_channel(
        cls,
        db: Database,
        channel: Channel,
        *,
        texts: Texts | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> QuotaKeeper:
        rates = channel.rates
        return cls(
            db,
            channel.name,
            monthly=rates.monthly_quota if rates else None,
            reserve=rates.reply_reserve if rates else None,
            texts=texts,
            clock=clock or (lambda: datetime.now(UTC)),
        )

    async def allowance(
        self, session: AsyncSession, *, now: datetime, batch: int
    ) -> tuple[int, int | None]:
        """How many outbox messages a round may claim now, and the highest priority it may
        claim (None: any)."""
        if self.plan is None:
            return batch, None
        used = (await quota.usage(session, channel=self.channel, month=quota.month_of(now))).sent
        left = self.plan.left(used)
        if self.plan.in_reserve(used):
            return min(batch, left), outbox.REPLY_LIKE
        return min(batch, left - self.plan.reserve), None

    async def counted(self, session: AsyncSession, count: int, *, now: datetime) -> None:
        """`count` more messages accepted, in the caller's unit of work; admins are told of a
        stage the count reached (once a month)."""
        if count <= 0:
            return
        usage = await quota.count_sent(session, channel=self.channel, count=count, now=now)
        if self.plan is None:
            return
        for stage in self.plan.stages(usage.sent):
            if usage.told(stage):
                continue
            if await quota.claim_notice(
                session, channel=self.channel, month=usage.month, stage=stage, now=now
            ):
                await self._tell_admins(session, stage, usage, now)

    async def record(self, count: int) -> None:
        """`count` replies accepted: counted in a unit of work of their own. A failure to count is
        logged, never raised: the person has been answered already."""
        if count <= 0:
            return
        try:
            async with self.db.session() as session:
                await self.counted(session, count, now=self.clock())
        except Exception:
            log.exception("could not count %d messages sent on %s", count, self.channel)

    async def _tell_admins(
        self, session: AsyncSession, stage: str, usage: quota.Usage, now: datetime
    ) -> None:
        assert self.plan is not None
        log.warning(
            "%s: %d of %d messages of %s used (%s)",
            self.channel,
            usage.sent,
            self.plan.monthly,
            usage.month,
            stage,
        )
        if self.texts is None:
            return
        year, month = usage.month.split("-")
        text = self.texts(
            _TEXT[stage],
            channel=self.channel.capitalize(),
            used=vn.format_number(usage.sent),
            quota=vn.format_number(self.plan.monthly),
            left=vn.format_number(self.plan.left(usage.sent)),
            reserve=vn.format_number(self.plan.reserve),
            month=f"{int(month)}/{year}",
        )
        for admin in await all_admins(session):
            await outbox.enqueue(
                session,
                key=f"quota:{self.channel}:{usage.month}:{stage}:{admin.id}",
                member_id=admin.id,
                payload={"text": text},
                now=now,
                priority=NOTICE_PRIORITY,
            )
