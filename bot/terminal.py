"""`dvk chat`: the same conversations in a terminal. It has no buttons and no edits: the shared
fallback (bot/delivery.py) numbers the options and the core reads a typed number against the
person's stored menu; messages the bot queued for this person (outbox) are shown before each
prompt, through the same delivery. `--channel zalo` shows what a Zalo user sees (its
capabilities: 2,000 characters, no files), with the terminal's own identities."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.channels import TERMINAL, ZALO, ZALO_CAPABILITIES, channels_of
from bot.delivery import NO_MESSAGE_ID, ChatId, Output, marked, messages_of, own_messages
from handlers.admin import broadcast
from handlers.core.jobs import Job, Throttle, run_job
from handlers.core.numbered import shown_on_its_own
from handlers.core.router import Core
from handlers.core.types import Choice, Inbound, Outbound
from storage import outbox
from storage.records.conversations import get_conversation
from storage.records.people import find_identity

CHANNEL = TERMINAL


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
        super().__init__(shown, texts=core.texts, track=track, publish=channels.publish)
        self.chat = chat

    async def deliver(self, chat_id: ChatId, message: Outbound) -> None:
        self.chat.out("")
        await super().deliver(chat_id, message)

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        self.chat.out(text)
        return NO_MESSAGE_ID

    async def send_document(self, chat_id: ChatId, name: str, content: bytes) -> None:
        self.chat.out(f"[tệp / file: {await asyncio.to_thread(_write, name, content)}]")

    async def send_file(self, chat_id: ChatId, name: str, path: Path) -> None:
        self.chat.out(f"[tệp / file: {await asyncio.to_thread(_copy, path, name)}]")

    async def send_photo(self, chat_id: ChatId, photo: bytes) -> None:
        self.chat.out(f"[ảnh / picture: {len(photo):,} bytes]")

    def offer(self, chat_id: ChatId, options: list[Choice], free_text: bool) -> None:
        # What was last shown, for a look; a number is read against the stored menu.
        self.chat.options = options
        self.chat.free_text = free_text


def _write(name: str, content: bytes) -> Path:
    Path(name).write_bytes(content)
    return Path(name).resolve()


def _copy(path: Path, name: str) -> Path:
    shutil.copyfile(path, name)
    return Path(name).resolve()


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
        channels_of(core).require_complete(CHANNEL)
        self.output = TerminalOutput(self)

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

    def attach(self, line: str) -> Inbound | None:
        """A line "@PATH" sends the local file at PATH, as a document is sent in Telegram."""
        path = Path(line[1:].strip().strip("\"'")).expanduser()
        if not path.is_file():
            self.out(f"(không có tệp / no such file: {path})")
            return None
        return Inbound(
            channel=CHANNEL,
            external_id=self.person,
            chat_id=self.person,
            attachment="document",
            file_id=str(path.resolve()),
            display_name=self.person,
            file_name=path.name,
            file_size=path.stat().st_size,
        )

    async def say(self, line: str) -> None:
        line = line.strip()
        inbound = Inbound(
            channel=CHANNEL,
            external_id=self.person,
            chat_id=self.person,
            text=line,
            display_name=self.person,
            numbered=not self.output.capabilities.buttons,
        )
        if line.startswith("@") and len(line) > 1:
            attached = self.attach(line)
            if attached is None:
                return
            inbound = attached
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

    async def run(self, stdin: TextIO, prompt: Callable[[], None]) -> None:
        await self.queued()
        await self.progress()
        while True:
            prompt()
            line = stdin.readline()
            if not line:
                self.out("")
                return
            if line.strip() in ("/thoat", "/exit", "/quit"):
                return
            if line.strip():
                await self.say(line)
