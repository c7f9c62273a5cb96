"""The context one inbound event is handled in: one session, one person, one clock reading."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core.types import Inbound, Result
from language.texts import Texts
from storage import rules
from storage.models import Identity, Member, Membership
from storage.periods import QuietHours
from storage.records.people import memberships_of


@dataclass
class CoreConfig:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    language: str = "vi"
    draft_ttl: timedelta = timedelta(hours=24)
    quiet_hours: QuietHours = field(default_factory=lambda: QuietHours.parse("20:00-07:30"))
    reminder_hour: int = 8
    remind_before_days: int = 3
    remind_overdue_days: int = 2
    # An unfinished registration or report gets one nudge after this long.
    nudge_after: timedelta = timedelta(days=1)
    # channel -> external ids that are admins from the configuration
    bootstrap_admins: dict[str, set[str]] = field(default_factory=dict)
    # channel -> how an invite code becomes something a person can open
    invite_links: dict[str, Callable[[str], str]] = field(default_factory=dict)
    # channel -> how the bytes of a file someone sent (`Inbound.file_id`) are fetched; set by
    # the channel's adapter (Telegram downloads it, the terminal reads a local path)
    fetch_file: dict[str, Callable[[str], Awaitable[bytes]]] = field(default_factory=dict)

    def invite_link(self, channel: str, code: str) -> str:
        make = self.invite_links.get(channel)
        return make(code) if make else f"/start {code}"


@dataclass
class Ctx:
    session: AsyncSession
    inbound: Inbound
    identity: Identity
    now: datetime
    config: CoreConfig
    t: Texts
    result: Result = field(default_factory=Result)
    _memberships: list[Membership] | None = None

    @property
    def member(self) -> Member:
        return self.identity.member

    @property
    def today(self) -> date:
        return self.now.astimezone(self.config.timezone).date()

    async def memberships(self) -> list[Membership]:
        if self._memberships is None:
            self._memberships = list(await memberships_of(self.session, member_id=self.member.id))
        return self._memberships

    async def is_member(self) -> bool:
        return bool(await self.memberships())

    async def is_coordinator(self) -> bool:
        return any(m.role == rules.ROLE_COORDINATOR for m in await self.memberships())

    async def is_admin(self) -> bool:
        # Re-read from the database: a role taken away a moment ago must already count.
        await self.session.refresh(self.member, ["is_admin"])
        return self.member.is_admin

    def say(self, key: str, **params: object) -> None:
        self.result.say(self.t(key, **params))

    def label(self, key_or_text: str) -> str:
        return self.t(key_or_text) if self.t.has(key_or_text) else key_or_text
