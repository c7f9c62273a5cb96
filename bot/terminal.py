"""`dvk chat`: the same conversations in a terminal. It has no buttons and no edits: the shared
fallback (bot/delivery.py) numbers the options and the core reads a typed number against the
person's stored menu; messages the bot queued for this person (outbox) are shown before each
prompt, through the same delivery. `--channel zalo` shows what a Zalo user sees (its
capabilities: 2,000 characters, no files), with the terminal's own identities.

Everything stays on the screen here, so any message's options can be pressed, not only the
newest: each message with options is given a letter ("[b] ...") and "b2" presses its second
option as a button would be pressed in Telegram (the core answers a stale one politely). Zalo
keeps its own rule (the newest menu only), so its look has no letters. Files and pictures the
bot sends are written under data/downloads/ and their paths shown."""

from __future__ import annotations

import asyncio
import re
import shutil
import string
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.channels import TERMINAL, ZALO, ZALO_CAPABILITIES, channels_of
from bot.delivery import NO_MESSAGE_ID, ChatId, Output, marked, messages_of, own_messages
from handlers.admin import broadcast
from handlers.core.jobs import Job, Throttle, run_job
from handlers.core.numbered import shown_on_its_own
from handlers.core.router import Core
from handlers.core.types import Choice, Inbound, Outbound
from storage import outbox
from storage.media import MediaRefused, extension_of
from storage.records.conversations import get_conversation
from storage.records.people import find_identity

CHANNEL = TERMINAL
DOWNLOADS = Path("data/downloads")
HISTORY = Path("data/chat-history")
PICTURES = (".png", ".jpg", ".jpeg", ".webp")
# "b2", "B 2", "b#2": the second option of the message lettered b.
PRESS = re.compile(r"([a-z])\s*#?(\d{1,3})", re.IGNORECASE)
# Reads one line; None when the person is done (end of input, Ctrl-D, Ctrl-C).
Read = Callable[[], str | None]


class TerminalOutput(Output):
    """Printed lines; a file is written to this directory, as nothing is attached here."""

    def __init__(self, chat: TerminalChat) -> None:
        core = chat.core

        async def track(key: str, chat_id: str, message_id: str) -> None:
            # Nothing is edited in a terminal: a changed progress is printed again later.
            await core.track_message(key, CHANNEL, chat_id, message_id)

        channels = channels_of(core)
        shown = ZALO_CAPABILITIES if chat.looks == ZALO else channels[CHANNEL].capabilities
        # `publish` serves only where the capabilities have no documents or pictures (as Zalo).
        super().__init__(
            shown, texts=core.texts, track=track, publish=channels.publish, media=channels.media
        )
        self.chat = chat

    async def deliver(self, chat_id: ChatId, message: Outbound) -> None:
        self.chat.out("")
        await super().deliver(chat_id, message)

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        letter, self.chat.lettering = self.chat.lettering, None
        self.chat.out(f"[{letter}] {text}" if letter else text)
        return NO_MESSAGE_ID

    async def send_document(self, chat_id: ChatId, name: str, content: bytes) -> None:
        path = await asyncio.to_thread(_write, name, content)
        self.chat.out(self.texts("terminal-file-saved", path=path))

    async def send_file(self, chat_id: ChatId, name: str, path: Path) -> None:
        copied = await asyncio.to_thread(_copy, path, name)
        self.chat.out(self.texts("terminal-file-saved", path=copied))

    async def send_photo(self, chat_id: ChatId, photo: bytes) -> None:
        stamp = self.chat.core.clock().astimezone(self.chat.core.config.timezone)
        path = await asyncio.to_thread(_write, f"anh-{stamp:%Y%m%d-%H%M%S}.png", photo)
        self.chat.out(self.texts("terminal-picture-saved", path=path))

    async def send_album(self, chat_id: ChatId, items: list[bytes | str], keys: list[str]) -> None:
        # Evidence photos keep their own type (a JPEG is not saved as .png).
        for item, key in zip(items, keys, strict=True):
            if isinstance(item, bytes):
                name = f"anh-{key[:10]}.{extension_of(key)}" if key else "anh.jpg"
                path = await asyncio.to_thread(_write, name, item)
                self.chat.out(self.texts("terminal-picture-saved", path=path))

    def offer(self, chat_id: ChatId, options: list[Choice], free_text: bool) -> None:
        # A plain number is read by the core against the stored menu (the newest); a letter
        # lets the person press the options of an earlier message still on the screen.
        self.chat.options = options
        self.chat.free_text = free_text
        if self.chat.looks == TERMINAL:
            self.chat.lettering = self.chat.letter(options)


def _local_file(typed: str) -> tuple[Path, int | None]:
    """The file a person named after "@", and its size (None: there is no such file)."""
    path = Path(typed.strip().strip("\"'")).expanduser()
    return path, path.stat().st_size if path.is_file() else None


def _free(name: str) -> Path:
    """Where a file the bot sent is written: data/downloads/NAME, or NAME-2, -3, ... beside an
    earlier one (an export of the same day is not overwritten)."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    plain = DOWNLOADS / Path(name).name
    path, n = plain, 1
    while path.exists():
        n += 1
        path = plain.with_name(f"{plain.stem}-{n}{plain.suffix}")
    return path


def _write(name: str, content: bytes) -> Path:
    path = _free(name)
    path.write_bytes(content)
    return path


def _copy(source: Path, name: str) -> Path:
    path = _free(name)
    shutil.copyfile(source, path)
    return path


class Keyboard:
    """Lines typed at the terminal. Arrow keys edit the line and recall earlier lines (readline,
    the history kept in data/chat-history); Ctrl-D and Ctrl-C end the chat without a traceback."""

    def __init__(self, prompt: str = "> ", history: Path = HISTORY) -> None:
        self.prompt = prompt
        self.history: Path | None = None
        if sys.stdin.isatty():
            try:
                import readline
            except ImportError:  # a Python built without it: plain lines still work
                return
            self.history = history
            with suppress(OSError):
                readline.read_history_file(history)
            readline.set_history_length(1000)

    def __call__(self) -> str | None:
        try:
            return input(self.prompt)
        except (EOFError, KeyboardInterrupt):
            return None

    def close(self) -> None:
        if self.history is not None:
            import readline

            with suppress(OSError):
                self.history.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(self.history)


class TerminalChat:
    def __init__(
        self, core: Core, person: str, out: Callable[[str], None], looks: str = TERMINAL
    ) -> None:
        self.core = core
        self.looks = looks  # the channel whose capabilities are shown (TERMINAL or ZALO)
        self.person = person
        self.out = out
        self.options: list[Choice] = []
        self.free_text = False
        # The options of each message shown, by the letter it was given (a-z, then a again).
        self.lettered: dict[str, list[Choice]] = {}
        self.lettering: str | None = None  # the letter of the message being printed
        self.given = 0
        channels_of(core).require_complete(CHANNEL)
        if looks == ZALO:
            # The core decides as for Zalo too: no file is taken in the chat (an import asks
            # through the upload page), what the bot sends goes as links.
            channels_of(core)[CHANNEL].capabilities = ZALO_CAPABILITIES
        self.output = TerminalOutput(self)

    def letter(self, options: list[Choice]) -> str:
        letter = string.ascii_lowercase[self.given % 26]
        self.given += 1
        self.lettered[letter] = options
        return letter

    async def show(self, messages: list[Outbound]) -> None:
        for message in messages:
            await self.output.deliver(self.person, message)

    async def queued(self) -> None:
        """Messages the bot queued for this person. Someone sitting at the terminal is reading
        now, so what waits for the end of quiet hours is shown too."""
        async with self.core.db.session() as session:
            identity = await find_identity(session, channel=CHANNEL, external_id=self.person)
            if identity is None:
                return
            mine = await outbox.due(
                session,
                channel=CHANNEL,
                now=self.core.clock() + timedelta(days=1),
                limit=50,
                member_id=identity.member_id,
            )
            for message_id, _, _ in mine:
                await outbox.settle(
                    session, message_id=message_id, status=outbox.SENT, now=self.core.clock()
                )
            # The terminal itself numbers the options of what waited while no form is in
            # progress (they become the menu); otherwise, and as Zalo, they name commands.
            numbers = self.looks == TERMINAL and not await get_conversation(
                session, member_id=identity.member_id
            )
            shown = [
                marked(messages_of(p) if numbers else own_messages(self.output, p), "🔔 ")
                for _, _, p in mine
            ]
            offered = [m for messages in shown for m in messages if m.choices]
            if numbers and offered:
                await shown_on_its_own(
                    session, identity_id=identity.id, message=offered[-1], now=self.core.clock()
                )
        for messages in shown:
            await self.show(messages)

    def inbound(self, **fields: Any) -> Inbound:
        """What this person sent, as every channel's adapter makes it."""
        return Inbound(
            channel=CHANNEL,
            external_id=self.person,
            chat_id=self.person,
            display_name=self.person,
            **fields,
        )

    async def attach(self, line: str) -> Inbound | None:
        """A line "@PATH" sends the local file at PATH, as a document is sent in Telegram; a
        picture (.png, .jpg, .webp) is sent as a photo, kept in the media store as Telegram's
        are, so it can be evidence at a photo step."""
        path, size = _local_file(line[1:])
        if size is None:
            self.out(self.core.texts("terminal-no-such-file", path=path))
            return None
        file_id = str(path.resolve())
        if path.suffix.lower() not in PICTURES and self.looks == ZALO:
            self.out(self.core.texts("terminal-zalo-no-files"))
            return None
        if path.suffix.lower() not in PICTURES:
            return self.inbound(
                attachment="document", file_id=file_id, file_name=path.name, file_size=size
            )
        media, key = channels_of(self.core).media, None
        if media is not None:
            try:
                key = await media.keep_photo(await asyncio.to_thread(path.read_bytes))
            except MediaRefused as refused:
                self.out(self.core.texts(refused.key, **refused.params))
                return None
        return self.inbound(attachment="photo", file_id=file_id, media_key=key)

    def pressed(self, line: str) -> Inbound | None:
        """ "b2": the second option of the message lettered b, pressed as a button."""
        found = PRESS.fullmatch(line) if self.looks == TERMINAL else None
        if found is None:
            return None
        options = self.lettered.get(found[1].lower(), [])
        number = int(found[2])
        if not 1 <= number <= len(options):
            return None
        return self.inbound(choice=options[number - 1].data, numbered=True)

    async def say(self, line: str) -> None:
        line = line.strip()
        numbered = not self.output.capabilities.buttons
        inbound: Inbound | None
        if line.startswith("\\"):
            # Sent as typed: an answer that would otherwise read as a file or a letter press.
            inbound = self.inbound(text=line[1:].strip(), numbered=numbered)
        elif line.startswith("@") and len(line) > 1:
            inbound = await self.attach(line)
        else:
            inbound = self.pressed(line) or self.inbound(text=line, numbered=numbered)
        if inbound is None:
            return
        result = await self.core.handle(inbound)
        if result.notice:
            self.out(f"({result.notice})")
        await self.show(result.messages)
        for job in result.jobs:
            await self.run_job(job)
        await self.queued()
        await self.progress()

    async def run_job(self, job: Job) -> None:
        """A background job (an export) run to its end: one person at a terminal waits for it,
        reading its progress line by line; a file it sends is written to this directory."""
        await self.show([Outbound(job.first)])
        throttle = Throttle()

        async def progress(text: str, fraction: float) -> None:
            if throttle.due(fraction):
                await self.output.edit(self.person, NO_MESSAGE_ID, text)

        async def deliver(messages: list[Outbound]) -> None:
            await self.show(messages)

        await run_job(self.core, job, progress=progress, deliver=deliver)

    async def progress(self) -> None:
        """The progress of this person's broadcasts, when it changed since last shown."""
        edits = await broadcast.progress_updates(
            self.core.db, self.core.texts, self.core.clock(), channel=CHANNEL, chat_id=self.person
        )
        for edit in edits:
            await self.show([Outbound(edit.text)])

    async def run(self, read: Read) -> None:
        await self.queued()
        await self.progress()
        while True:
            line = read()
            if line is None:
                self.out("")
                return
            if line.strip() in ("/thoat", "/exit", "/quit"):
                return
            if line.strip():
                await self.say(line)
