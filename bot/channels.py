"""The registry of channel descriptions: per channel what it can show, how an invite becomes a
link, how a received file is fetched and how fast the outbox may send. Built with the core;
values only known at start-up (the Telegram bot's username) are filled in before the first
update is handled, and the core reads them through the `Channels` view (handlers/core/context).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.media_links import Media, media_of
from handlers.core.context import Fetch
from handlers.core.types import Inbound
from storage.media import MediaStore

if TYPE_CHECKING:
    from handlers.core.router import Core

TELEGRAM = "telegram"
TERMINAL = "terminal"
FETCH = "fetch"  # a start-up value that is the channel's way of fetching files


@dataclass(frozen=True)
class Capabilities:
    buttons: bool  # inline buttons; without them choices become numbered options
    edits: bool  # a sent message can be changed (progress is edited in, not sent anew)
    documents: bool  # files can be sent
    photo_bytes: bool  # a picture can be uploaded
    photo_url: bool  # a picture can be sent as a public URL the platform fetches
    text_limit: int | None  # characters in one message; None: no limit


@dataclass(frozen=True)
class Rates:
    """What the outbox sender keeps to on this channel."""

    per_second: float
    per_chat_interval: float = 1.0
    group_per_minute: int = 20
    # The platform's limit for replies and outbox together, when it has one.
    overall: float | None = None
    # Messages a calendar month (a free plan's quota), when the platform counts them; the part
    # of it kept for replies (default a tenth); whether messages are counted without a quota.
    monthly_quota: int | None = None
    reply_reserve: int | None = None
    counted: bool = False


@dataclass
class Channel:
    name: str
    capabilities: Capabilities
    # How an invite code becomes a link: a template of `code` and the start-up values.
    invite: str
    # None: nothing is sent on this channel on its own (the terminal reads its queue itself).
    rates: Rates | None = None
    fetch: Fetch | None = None
    # What start-up must fill in before the first update: names of `values`, or FETCH.
    startup: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)
    # /moi tells people how to join here (a channel people use, not a tool like the terminal).
    offered: bool = False
    # How an event that did not arrive through the channel itself (a file given on the upload
    # page) is handled and answered in the person's chat there; set by its runner at start.
    answer: Callable[[Inbound], Awaitable[None]] | None = None

    def missing(self) -> list[str]:
        return [
            name
            for name in self.startup
            if (self.fetch is None if name == FETCH else name not in self.values)
        ]

    def invite_link(self, code: str) -> str:
        if self.missing():
            raise ChannelNotReady(self.name, self.missing())
        return self.invite.format(code=code, **self.values)


class ChannelNotReady(RuntimeError):
    def __init__(self, name: str, missing: list[str]) -> None:
        super().__init__(f"channel {name} is not started: {', '.join(missing)} not known yet")


class Registry:
    """Every channel this process serves. Implements the core's `Channels` view."""

    def __init__(
        self,
        channels: Iterable[Channel],
        media: Media | None = None,
        *,
        public_url: str | None = None,
    ) -> None:
        self._channels = {channel.name: channel for channel in channels}
        # The media store every channel keeps received photos in and publishes from.
        self.media = media
        # DVK_PUBLIC_URL: the HTTP server's address, where the upload page is served.
        self.public_url = public_url.rstrip("/") if public_url else None
        # Files given on the upload page while the core handles them, by a one-off file id:
        # what a channel that cannot send files fetches (bot/zalo/upload.py).
        self.uploaded: dict[str, bytes] = {}

    @property
    def publish(self) -> Callable[[str, bytes], Awaitable[str]] | None:
        """The `publish` of a channel's `Output` (bot/delivery.py): bytes kept in the media store,
        a signed link returned. None without DVK_PUBLIC_URL: the delivery then says the file
        cannot be sent here."""
        if self.media is None or self.media.links is None:
            return None
        return self.media.publish

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __contains__(self, name: object) -> bool:
        return name in self._channels

    def names(self) -> list[str]:
        return list(self._channels)

    def start(
        self,
        name: str,
        *,
        fetch: Fetch | None = None,
        answer: Callable[[Inbound], Awaitable[None]] | None = None,
        **values: str,
    ) -> None:
        """Fill in what a channel learned at start-up (before polling or the webhook begins)."""
        channel = self._channels[name]
        if fetch is not None:
            channel.fetch = fetch
        if answer is not None:
            channel.answer = answer
        channel.values.update(values)

    def missing(self) -> list[str]:
        return [f"{c.name}.{name}" for c in self._channels.values() for name in c.missing()]

    def require_complete(self, *names: str) -> None:
        """Raises unless these channels (all by default) are fully described: a process calls
        it for the channels it serves before it takes their first update."""
        for channel in (self._channels[name] for name in names or self._channels):
            if channel.missing():
                raise ChannelNotReady(channel.name, channel.missing())

    # --- the core's view (handlers.core.context.Channels) ----------------------------------------

    def invite_link(self, channel: str, code: str) -> str:
        if channel not in self._channels:
            return f"/start {code}"
        return self._channels[channel].invite_link(code)

    def file_fetcher(self, channel: str) -> Fetch | None:
        found = self._channels.get(channel)
        if found is not None and found.fetch is None and not found.capabilities.documents:
            return self._uploaded_file
        return found.fetch if found is not None else None

    async def _uploaded_file(self, file_id: str) -> bytes:
        return self.uploaded[file_id]

    def takes_files(self, channel: str) -> bool:
        found = self._channels.get(channel)
        return found is None or found.capabilities.documents

    def upload_page(self) -> str | None:
        return f"{self.public_url}/upload/" if self.public_url else None

    def media_store(self) -> MediaStore | None:
        return self.media.store if self.media is not None else None

    def join_links(self, code: str) -> list[tuple[str, str]]:
        # A channel this process has not started (Telegram's username unknown) is left out.
        return [
            (channel.name, channel.invite_link(code))
            for channel in self._channels.values()
            if channel.offered and not channel.missing()
        ]


async def read_local_file(path: str) -> bytes:
    """A file "sent" in the terminal is a path on this machine (see `TerminalChat.attach`)."""
    return await asyncio.to_thread(Path(path).read_bytes)


# Telegram: inline buttons, edits, documents, photos uploaded or by URL; 4,096 characters a
# message, with a margin for what python-telegram-bot counts differently.
TELEGRAM_CAPABILITIES = Capabilities(
    buttons=True, edits=True, documents=True, photo_bytes=True, photo_url=True, text_limit=4000
)
# The terminal: files are written beside it, a picture is announced by its size.
TERMINAL_CAPABILITIES = Capabilities(
    buttons=False, edits=False, documents=True, photo_bytes=True, photo_url=False, text_limit=None
)


def telegram(settings: Settings) -> Channel:
    return Channel(
        name=TELEGRAM,
        capabilities=TELEGRAM_CAPABILITIES,
        invite="https://t.me/{username}?start={code}",
        # Telegram allows about 30 messages/s overall, 1/s per chat, 20/min per group.
        rates=Rates(per_second=settings.send_rate, overall=30),
        # The bot's username comes from getMe; files are downloaded by that bot.
        startup=("username", FETCH),
        offered=True,
    )


def terminal() -> Channel:
    return Channel(
        name=TERMINAL,
        capabilities=TERMINAL_CAPABILITIES,
        invite="/start {code}",
        fetch=read_local_file,
    )


def registry(settings: Settings, clock: Callable[[], datetime] | None = None) -> Registry:
    return Registry(
        [telegram(settings), terminal(), zalo(settings)],
        media=media_of(settings, clock),
        public_url=settings.public_url,
    )


def channels_of(core: Core) -> Registry:
    """The registry behind a core built by bot/runtime.py."""
    found = core.config.channels
    if not isinstance(found, Registry):
        raise TypeError(f"the core was built without a channel registry: {found!r}")
    return found


# --- Zalo (docs/zalo.md) -----------------------------------------------------------------------

ZALO = "zalo"
# Zalo Bot Platform: no buttons, no edits, no documents; a picture only as a public URL Zalo
# fetches; 2,000 characters a message.
ZALO_CAPABILITIES = Capabilities(
    buttons=False, edits=False, documents=False, photo_bytes=False, photo_url=True, text_limit=2000
)


def zalo(settings: Settings) -> Channel:
    # Zalo links carry no start payload: /moi shows the bot's link and the code to send
    # (invite-join-zalo); without the bot's link Zalo is not offered there.
    invite = "{bot_url}" if settings.zalo_bot_url else "/start {code}"
    return Channel(
        name=ZALO,
        capabilities=ZALO_CAPABILITIES,
        invite=invite,
        # No request rate is published; the free plan counts messages a month.
        # Every accepted message is counted (bot/quota.py), replies too.
        rates=Rates(
            per_second=settings.zalo_send_rate,
            monthly_quota=settings.zalo_monthly_quota,
            reply_reserve=settings.zalo_reply_reserve,
            counted=True,
        ),
        values={"bot_url": settings.zalo_bot_url} if settings.zalo_bot_url else {},
        offered=bool(settings.zalo_bot_url),
    )
