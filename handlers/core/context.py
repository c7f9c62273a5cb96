"""The context one inbound event is handled in: one session, one person, one clock reading."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core.types import Inbound, Result
from language.texts import Texts
from storage import rules
from storage.media import MediaStore
from storage.models import Conversation, Identity, Member, Membership, Unit
from storage.periods import QuietHours
from storage.records.conversations import get_conversation
from storage.records.people import Person, memberships_of
from storage.records.units import coordinated_unit_ids, units_by_ids

Fetch = Callable[[str], Awaitable[bytes]]
T = TypeVar("T")


class Channels(Protocol):
    """What the core asks of the channels (bot/channels.py holds their descriptions, complete
    before the first update is handled)."""

    def invite_link(self, channel: str, code: str) -> str:
        """How an invite code becomes something a person of that channel can open."""
        ...

    def file_fetcher(self, channel: str) -> Fetch | None:
        """How the bytes of a file someone sent (`Inbound.file_id`) are fetched; None when the
        channel cannot."""
        ...

    def join_links(self, code: str) -> list[tuple[str, str]]:
        """(channel, link) for every channel people are invited on here and that is ready now,
        in the order to show them: how /moi tells people to join on each."""
        ...

    def takes_files(self, channel: str) -> bool:
        """Whether a person can send the bot a file on that channel; where not (Zalo), a file
        comes through the one-time upload page."""
        ...

    def upload_page(self) -> str | None:
        """The address the upload page's links start with (`<base>/upload/`); None where the
        page is not served (no DVK_PUBLIC_URL)."""
        ...

    def media_store(self) -> MediaStore | None:
        """The media store the channels keep received photos in (storage/media.py), for work
        that reads them back (an export of the evidence); None where there is none."""
        ...


class NoChannels:
    """No channel described: an invite is the command that redeems it, nothing is fetched."""

    def invite_link(self, channel: str, code: str) -> str:
        return f"/start {code}"

    def file_fetcher(self, channel: str) -> Fetch | None:
        return None

    def join_links(self, code: str) -> list[tuple[str, str]]:
        return []

    def takes_files(self, channel: str) -> bool:
        return True

    def upload_page(self) -> str | None:
        return None

    def media_store(self) -> MediaStore | None:
        return None


# Frozen: the core is built once, complete; what channels learn at start-up goes in `channels`.
@dataclass(frozen=True)
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
    # How long a refused or unanswered join request's data is kept (the notice says it).
    retention_days: int = 90
    # channel -> external ids that are admins from the configuration
    bootstrap_admins: dict[str, set[str]] = field(default_factory=dict)
    # A read-only view of the channels' descriptions.
    channels: Channels = field(default_factory=NoChannels)
    # The pepper /lienket codes are kept under (an HMAC of each; bot/runtime.py `link_pepper`).
    link_pepper: bytes = b"dvk-link-code"
    # The year-end report's Word template (DVK_REPORT_TEMPLATE); None: the one shipped.
    report_template: Path | None = None
    # How many updates compute their step at once (DVK_CONCURRENT_STEPS, `Core.handle`).
    concurrent_steps: int = 4

    def invite_link(self, channel: str, code: str) -> str:
        return self.channels.invite_link(channel, code)


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
    # Read once per update (one unit of work): a step asks the same questions several times.
    _admin_read: bool = False
    _coordinated: set[int] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)
    _units: dict[int, Unit] = field(default_factory=dict)
    # The conversation as the update's first read found it (`knows`), until it is asked for.
    _first_conversation: tuple[Conversation | None] | None = None

    def knows(self, person: Person) -> None:
        """What the update's first read found (`read_person`, in this session), so that the
        step does not ask the database again: the memberships and their units, the agreement
        to the personal-data notice, the role of admin and the open conversation."""
        self._memberships = list(person.memberships)
        self._units = dict(person.units)
        self._memo["agreed"] = person.agreed
        self._admin_read = True
        self._first_conversation = (person.conversation,)

    def person_changed(self) -> None:
        """The update changed who the person is (a membership made, their identity linked to
        another member): what it read of them is read again when next asked."""
        self._memberships, self._coordinated, self._admin_read = None, None, False
        self.forget("agreed")

    async def conversation(self) -> Conversation | None:
        """The person's open form: the first time as read with the person, from the session
        after (a step may have ended one or begun another)."""
        first, self._first_conversation = self._first_conversation, None
        if first is not None and (first[0] is None or inspect(first[0]).persistent):
            return first[0]
        return await get_conversation(self.session, member_id=self.member.id)

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

    async def membership_units(self) -> dict[int, Unit]:
        """The units of this person's memberships, by id."""
        missing = {m.unit_id for m in await self.memberships()} - self._units.keys()
        if missing:
            self._units.update(await units_by_ids(self.session, ids=missing))
        return self._units

    async def is_member(self) -> bool:
        return bool(await self.memberships())

    async def is_coordinator(self) -> bool:
        return any(m.role == rules.ROLE_COORDINATOR for m in await self.memberships())

    async def coordinated_units(self) -> set[int]:
        """The units this person coordinates and every unit below them."""
        if self._coordinated is None:
            self._coordinated = await coordinated_unit_ids(self.session, member_id=self.member.id)
        return self._coordinated

    async def is_admin(self) -> bool:
        # Re-read from the database once per update: a role taken away a moment ago must
        # already count (what this update changes itself is on the same object).
        if not self._admin_read:
            await self.session.refresh(self.member, ["is_admin"])
            self._admin_read = True
        return self.member.is_admin

    async def once(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """`load()` the first time `key` is asked in this update, the same value after: for
        reads a step repeats (a form's options for checking the answer, then for the next
        question) of rows the step itself does not change."""
        if key not in self._memo:
            self._memo[key] = await load()
        return self._memo[key]  # type: ignore[no-any-return]

    def forget(self, key: str) -> None:
        """What `once(key)` read changed in this update: read it again when next asked."""
        self._memo.pop(key, None)

    def remember(self, key: str, value: object) -> None:
        """What `once(key)` would read, known because this update just wrote it."""
        self._memo[key] = value

    def say(self, key: str, **params: object) -> None:
        self.result.say(self.t(key, **params))

    def label(self, key_or_text: str) -> str:
        return self.t(key_or_text) if self.t.has(key_or_text) else key_or_text
