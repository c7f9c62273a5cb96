"""A channel's monthly message quota: how many messages the platform accepted this month, kept in
the database so that a restart or a second replica counts on from the same number, and the rule
that holds back what the bot sends on its own when only a reserve for replies is left.

Zalo counts the month from the 1st, Vietnam time: 2026-11-30T17:00Z is already December there.
None of these functions commit: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage import outbox
from storage.models import Base, Membership, OutboxMessage

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# The stages admins are told of, once each a month.
WARNING = "warning"  # 80% used
RESERVE = "reserve"  # only the reserve for replies is left


class ChannelUsage(Base):
    """Messages a channel's platform accepted in one month (Vietnam time), replies included."""

    __tablename__ = "channel_usage"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-12"
    sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the admins were told; set once, so a restart or another replica tells nobody again.
    warned_at: Mapped[datetime | None]
    reserve_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


def month_of(now: datetime) -> str:
    """The quota month `now` falls in: "2026-12"."""
    local = now.astimezone(VIETNAM)
    return f"{local.year:04}-{local.month:02}"


def month_start(now: datetime) -> datetime:
    """When the quota month of `now` began (00:00 on the 1st, Vietnam time), in UTC."""
    local = now.astimezone(VIETNAM)
    return datetime(local.year, local.month, 1, tzinfo=VIETNAM).astimezone(UTC)


@dataclass(frozen=True)
class Plan:
    """A monthly quota and the part of it kept for replies."""

    monthly: int
    reserve: int

    @classmethod
    def of(cls, monthly: int, reserve: int | None = None) -> Plan:
        """The reserve defaults to a tenth of the quota."""
        return cls(monthly, monthly // 10 if reserve is None else min(reserve, monthly))

    def left(self, used: int) -> int:
        return max(0, self.monthly - used)

    def in_reserve(self, used: int) -> bool:
        """Only the reserve is left: what the bot sends on its own waits for next month."""
        return self.left(used) <= self.reserve

    def stages(self, used: int) -> list[str]:
        """The stages reached at this count, in order."""
        reached = []
        if used * 5 >= self.monthly * 4:
            reached.append(WARNING)
        if self.in_reserve(used):
            reached.append(RESERVE)
        return reached


@dataclass(frozen=True)
class Usage:
    channel: str
    month: str
    sent: int
    warned: bool
    reserve: bool

    def told(self, stage: str) -> bool:
        return self.warned if stage == WARNING else self.reserve


async def usage(session: AsyncSession, *, channel: str, month: str) -> Usage:
    row = await session.get(ChannelUsage, (channel, month), populate_existing=True)
    if row is None:
        return Usage(channel, month, 0, False, False)
    return Usage(channel, month, row.sent, row.warned_at is not None, row.reserve_at is not None)


async def count_sent(session: AsyncSession, *, channel: str, count: int, now: datetime) -> Usage:
    """Add `count` accepted messages to this month's; one statement, so replicas counting at
    once all land. Returns the month's usage after it."""
    month = month_of(now)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = ChannelUsage.__table__
    statement = (
        dialect.insert(ChannelUsage)
        .values(channel=channel, month=month, sent=count, updated_at=now)
        .on_conflict_do_update(
            index_elements=["channel", "month"],
            set_={"sent": table.c.sent + count, "updated_at": now},
        )
        .returning(table.c.sent, table.c.warned_at, table.c.reserve_at)
    )
    row = (await session.execute(statement)).one()
    return Usage(channel, month, row.sent, row.warned_at is not None, row.reserve_at is not None)


async def claim_notice(
    session: AsyncSession, *, channel: str, month: str, stage: str, now: datetime
) -> bool:
    """Record that the admins are told of this stage this month. True for the one caller that
    records it first (whoever else tries, now or after a restart, gets False)."""
    column = ChannelUsage.warned_at if stage == WARNING else ChannelUsage.reserve_at
    result = await session.execute(
        update(ChannelUsage)
        .where(ChannelUsage.channel == channel, ChannelUsage.month == month, column.is_(None))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def months(session: AsyncSession, *, channel: str, limit: int = 12) -> list[Usage]:
    """The channel's latest months, newest first."""
    rows = await session.scalars(
        select(ChannelUsage)
        .where(ChannelUsage.channel == channel)
        .order_by(ChannelUsage.month.desc())
        .limit(limit)
    )
    return [
        Usage(r.channel, r.month, r.sent, r.warned_at is not None, r.reserve_at is not None)
        for r in rows
    ]


async def expired_since(
    session: AsyncSession, *, unit_ids: Collection[int], since: datetime
) -> int:
    """How many messages for people in these units expired unsent (created since a moment)."""
    members = select(Membership.member_id).where(Membership.unit_id.in_(unit_ids))
    return (
        await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.status == outbox.EXPIRED,
                OutboxMessage.created_at >= since,
                OutboxMessage.member_id.in_(members),
            )
        )
        or 0
    )
