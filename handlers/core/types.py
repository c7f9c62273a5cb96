"""What goes in and out of the channel-neutral core. Adapters translate these to and from
Telegram, the terminal or (later) Zalo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.core.jobs import Job


@dataclass(frozen=True)
class Inbound:
    channel: str  # "telegram", "terminal", ...
    external_id: str  # the person's id on that channel
    chat_id: str
    text: str | None = None
    choice: str | None = None  # data of a pressed button; untrusted
    attachment: str | None = None  # kind of file sent ("photo", "document", ...)
    file_id: str | None = None  # the channel's id of that file, to keep as evidence
    display_name: str | None = None
    # A document's name and size in bytes as the channel tells them, before any download.
    file_name: str | None = None
    file_size: int | None = None
    # A photo already kept in the media store (storage/media.py) by the adapter: its key.
    media_key: str | None = None
    # The person sees choices as numbered options (a channel without buttons): a typed reply is
    # read against their current menu (handlers/core/numbered.py).
    numbered: bool = False


@dataclass(frozen=True)
class Choice:
    label: str
    data: str  # at most 64 ASCII bytes (Telegram's callback_data limit)


@dataclass(frozen=True)
class Picture:
    """A photo someone sent (report evidence), shown to someone else: by its key in the media
    store, and by Telegram's own file id where it came through Telegram (sent again without an
    upload; the only way to show a photo from before the store)."""

    media_key: str | None
    file_id: str | None = None


@dataclass
class Outbound:
    text: str
    choices: list[list[Choice]] = field(default_factory=list)
    # The person is expected to type an answer (a number, say): channels that turn buttons into
    # numbered options must not read a typed "2" as option 2.
    free_text: bool = False
    # A file to send with the text: (file name, content).
    document: tuple[str, bytes] | None = None
    # A file on disk to send with the text, for files too big to hold: (file name, path).
    document_file: tuple[str, Path] | None = None
    # The core follows this message ("broadcast:12"): once sent, the adapter reports where it
    # is (`Core.track_message`) so that it can be edited later (a broadcast's progress).
    track: str | None = None
    # A picture (PNG bytes) shown after the text, such as a chart.
    photo: bytes | None = None
    # Photos people sent, after the text: an album where pictures can be uploaded, signed links
    # where they go only by URL (each picture would cost a message there).
    pictures: list[Picture] = field(default_factory=list)


@dataclass
class Result:
    messages: list[Outbound] = field(default_factory=list)
    # A short notice for a pressed button (Telegram shows it as a toast).
    notice: str | None = None
    # The pressed button was acted on: the adapter may mark the old message as answered.
    accepted_choice: bool = False
    # People whose commands menu must change (their role changed): (channel, external_id).
    roles_changed: list[tuple[str, str]] = field(default_factory=list)
    # Work that outlasts a reply (an export), run by the adapter in the background.
    jobs: list[Job] = field(default_factory=list)
    # The forms an answer of this update moved on, by name (the metrics' steps per form).
    form_steps: list[str] = field(default_factory=list)
    # What must wait until the update's unit of work has committed (files of erased data are
    # deleted only once no row refers to them), run by the core right after the commit.
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def say(
        self, text: str, choices: list[list[Choice]] | None = None, *, free_text: bool = False
    ) -> None:
        self.messages.append(Outbound(text, choices or [], free_text))
