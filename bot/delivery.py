"""One delivery per channel, and the fallback every channel shares.

A channel's `Output` turns one `Outbound` into that channel's calls: replies, the outbox sender
and background jobs all go through `deliver`, so a message with choices, a document, a photo or a
tracked progress message is rendered in one place. As Rasa's `OutputChannel` does, a channel
implements only the calls its platform has (`send_text`, `send_document`, `send_photo`, ...); the
channel's declared capabilities (bot/channels.py) decide where the shared fallback below takes
over: choices become numbered lines, a document becomes a link or a notice, a picture a link or a
notice, a long text several messages, and progress is sent anew where nothing can be edited.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.channels import Capabilities
from bot.media_links import MEDIA, Media
from handlers.core.numbered import menu_of, typed_instead
from handlers.core.types import Choice, Outbound, Picture
from language.texts import Texts

ChatId = str | int
# One outbox payload to one chat; raises the errors below. It may return how many of the
# platform's messages it took (counted against a quota: bot/quota.py); None counts one.
Transport = Callable[[str, dict[str, Any]], Awaitable[int | None]]
# Where a followed message went: (Outbound.track, chat id, message id); see Core.track_message.
Track = Callable[[str, str, str], Awaitable[None]]
# A file made public for a while (a signed, expiring URL served by the bot): (name, content).
Publish = Callable[[str, bytes], Awaitable[str]]
# The id a channel without edits gives its messages: nothing will refer to them again.
NO_MESSAGE_ID = "-"


# --- what a delivery may raise, for the outbox sender (bot/sender.py) --------------------------


class RetryLater(Exception):
    """Flood control (429): nothing may be sent for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = seconds


class Unreachable(Exception):
    """The person blocked the bot or deleted the account (403)."""


class Rejected(Exception):
    """The platform refused this message (400); sending it again would not help."""


class Transient(Exception):
    """A timeout, a network error or a server error: worth trying again later."""


# --- the shared fallback -------------------------------------------------------------------------


def chunks(text: str, size: int | None) -> list[str]:
    """Split a long text so each part fits in one message (None: no limit): between paragraphs
    where it can, else at line breaks, else between words; only a word longer than a whole
    message is cut."""
    if size is None or len(text) <= size:
        return [text]
    return _split(text, size, ("\n\n", "\n", " "))


def _split(text: str, size: int, separators: tuple[str, ...]) -> list[str]:
    if len(text) <= size:
        return [text]
    if not separators:
        return [text[i : i + size] for i in range(0, len(text), size)]
    separator, finer = separators[0], separators[1:]
    parts: list[str] = []
    current: str | None = None
    for piece in text.split(separator):
        candidate = piece if current is None else f"{current}{separator}{piece}"
        if len(candidate) <= size:
            current = candidate
            continue
        if current is not None:
            parts.append(current)
        # A piece too long alone is split finer; its last part may still take the next pieces.
        *whole, current = _split(piece, size, finer)
        parts.extend(whole)
    if current is not None:
        parts.append(current)
    return parts


def numbered_lines(options: list[Choice], *, free_text: bool) -> list[str]:
    """Choices as lines to answer by number. Where a typed number is itself an answer (the
    person is asked for one), options are picked with "#N"."""
    mark = "#" if free_text else ""
    return [f"  [{mark}{i}] {choice.label}" for i, choice in enumerate(options, 1)]


class Output:
    """One channel's delivery. Subclasses implement their platform's calls; `deliver` and
    `edit` are the only entries, and the fallbacks are decided here from the capabilities."""

    # The platform sends a photo again by the file id it gave it (Telegram).
    file_ids = False

    def __init__(
        self,
        capabilities: Capabilities,
        *,
        texts: Texts | None = None,
        track: Track | None = None,
        publish: Publish | None = None,
        media: Media | None = None,
    ) -> None:
        self.capabilities = capabilities
        self.texts = texts or Texts()
        self.track = track
        self.publish = publish
        # Where photos people sent are read from, and signed links to them made.
        self.media = media

    # --- the platform's calls: a channel implements those its capabilities declare ---------

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        """One message of at most the text limit, with buttons when there are choices;
        returns its message id."""
        raise NotImplementedError

    async def send_document(self, chat_id: ChatId, name: str, content: bytes) -> None:
        raise NotImplementedError

    async def send_file(self, chat_id: ChatId, name: str, path: Path) -> None:
        """A document from disk (too big to hold in memory for long)."""
        await self.send_document(chat_id, name, await asyncio.to_thread(path.read_bytes))

    async def send_photo(self, chat_id: ChatId, photo: bytes) -> None:
        raise NotImplementedError

    async def send_photo_url(self, chat_id: ChatId, url: str) -> None:
        raise NotImplementedError

    async def send_album(self, chat_id: ChatId, items: list[bytes | str], keys: list[str]) -> None:
        """Photos shown together; each item is the picture's bytes or, where `file_ids`, the
        platform's own id of it (`keys`: their media keys, "" where none). One by one unless the
        platform groups them."""
        for item in items:
            if isinstance(item, bytes):
                await self.send_photo(chat_id, item)

    async def edit_text(self, chat_id: ChatId, message_id: str, text: str) -> None:
        raise NotImplementedError

    def offer(self, chat_id: ChatId, options: list[Choice], free_text: bool) -> None:
        """Numbered options were shown in this chat. Nothing to do: the core stores the menu of
        a reply with it (handlers/core/numbered.py), and reads a typed number against it."""

    # --- one message in, the channel's calls out -----------------------------------------------

    async def deliver(self, chat_id: ChatId, message: Outbound) -> None:
        if message.document is not None:
            name, content = message.document
            await self._document(chat_id, name, content=content)
        if message.document_file is not None:
            name, path = message.document_file
            await self._document(chat_id, name, path=path)
        sent = NO_MESSAGE_ID
        alone = message.photo is None and message.document is None
        if message.text or (alone and message.document_file is None):
            sent = await self._text(chat_id, message)
        if message.track is not None and self.track is not None:
            await self.track(message.track, str(chat_id), sent)
        if message.photo is not None:
            await self._photo(chat_id, message.photo)
        if message.pictures:
            await self._pictures(chat_id, message.pictures)

    async def edit(self, chat_id: ChatId, message_id: str, text: str) -> None:
        """A message shown again with new content (a job's progress): edited where the channel
        can, sent anew where it cannot."""
        if self.capabilities.edits and message_id != NO_MESSAGE_ID:
            await self.edit_text(chat_id, message_id, text)
        else:
            await self._text(chat_id, Outbound(text))

    async def _text(self, chat_id: ChatId, message: Outbound) -> str:
        text, choices = message.text, message.choices
        if choices and not self.capabilities.buttons:
            # Back, skip and cancel are words there (explained by the core), never numbers.
            options = list(menu_of(message).options)
            text = "\n".join([text, *numbered_lines(options, free_text=message.free_text)])
            if options:
                self.offer(chat_id, options, message.free_text)
            choices = []
        parts = chunks(text, self.capabilities.text_limit)
        sent = NO_MESSAGE_ID
        for i, part in enumerate(parts):
            sent = await self.send_text(chat_id, part, choices if i == len(parts) - 1 else [])
        return sent

    async def _document(
        self, chat_id: ChatId, name: str, *, content: bytes | None = None, path: Path | None = None
    ) -> None:
        if self.capabilities.documents:
            if content is not None:
                await self.send_document(chat_id, name, content)
            elif path is not None:
                await self.send_file(chat_id, name, path)
            return
        if self.publish is None:
            await self._text(chat_id, Outbound(self.texts("channel-file-not-here", name=name)))
            return
        if content is None and path is not None:
            content = await asyncio.to_thread(path.read_bytes)
        link = await self.publish(name, content or b"")
        await self._text(chat_id, Outbound(self.texts("channel-file-link", name=name, link=link)))

    async def _photo(self, chat_id: ChatId, photo: bytes) -> None:
        if self.capabilities.photo_bytes:
            await self.send_photo(chat_id, photo)
        elif self.capabilities.photo_url and self.publish is not None:
            await self.send_photo_url(chat_id, await self.publish("chart.png", photo))
        else:
            await self._text(chat_id, Outbound(self.texts("channel-photo-not-here")))

    async def _pictures(self, chat_id: ChatId, pictures: list[Picture]) -> None:
        media = self.media
        shown = 0
        if self.capabilities.photo_bytes:
            items: list[bytes | str] = []
            keys: list[str] = []
            for picture in pictures:
                if picture.file_id and self.file_ids:
                    items.append(picture.file_id)
                elif media is not None and picture.media_key:
                    content = await media.store.get(picture.media_key)
                    if content is None:
                        continue
                    items.append(content)
                else:
                    continue
                keys.append(picture.media_key or "")
            if items:
                await self.send_album(chat_id, items, keys)
            shown = len(items)
        elif self.capabilities.photo_url and media is not None and media.links is not None:
            links = [
                media.links.url(MEDIA, picture.media_key)
                for picture in pictures
                if picture.media_key and await media.store.exists(picture.media_key)
            ]
            if links:
                lines = [self.texts("channel-pictures-links", count=len(links))]
                lines += [f"{i}. {link}" for i, link in enumerate(links, 1)]
                await self._text(chat_id, Outbound("\n".join(lines)))
            shown = len(links)
        elif not self.capabilities.photo_bytes:
            await self._text(
                chat_id, Outbound(self.texts("channel-pictures-not-here", count=len(pictures)))
            )
            return
        if shown < len(pictures):
            missing = len(pictures) - shown
            await self._text(
                chat_id, Outbound(self.texts("channel-pictures-missing", count=missing))
            )


# --- the outbox: its payloads are delivered like replies ------------------------------------------


def messages_of(payload: dict[str, Any]) -> list[Outbound]:
    """An outbox payload as messages: {"text", "choices": [[{"label", "data"}]], "photo": base64
    PNG}. A digest's chart goes before its text."""
    choices = [
        [Choice(choice["label"], choice["data"]) for choice in row]
        for row in payload.get("choices") or []
    ]
    messages = [Outbound(payload["text"], choices)]
    if payload.get("photo"):
        messages.insert(0, Outbound("", photo=base64.b64decode(payload["photo"])))
    return messages


def own_messages(output: Output, payload: dict[str, Any]) -> list[Outbound]:
    """An outbox payload as this channel shows it. Without buttons, an option names the command
    to type instead of being numbered, so it never replaces the menu of a form in progress."""
    messages = messages_of(payload)
    if output.capabilities.buttons:
        return messages
    return [typed_instead(message, output.texts) for message in messages]


def outbox_transport(output: Output) -> Transport:
    async def send(chat_id: str, payload: dict[str, Any]) -> None:
        for message in own_messages(output, payload):
            await output.deliver(chat_id, message)

    return send


def marked(messages: list[Outbound], mark: str) -> list[Outbound]:
    """The same messages with `mark` before their text (a terminal marks what was queued)."""
    return [replace(m, text=f"{mark}{m.text}") if m.text else m for m in messages]
