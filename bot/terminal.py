"""`dvk chat`: the same conversations in a terminal. Buttons become numbered options; messages
the bot queued for this person (outbox) are shown before each prompt."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from handlers.admin import broadcast
from handlers.core.jobs import Job, Throttle, run_job
from handlers.core.router import Core
from handlers.core.types import Choice, Inbound, Outbound
from storage import outbox
from storage.records.people import find_identity

CHANNEL = "terminal"


async def read_local_file(path: str) -> bytes:
    """A file "sent" in the terminal is a path on this machine (see `TerminalChat.attach`)."""
    return await asyncio.to_thread(Path(path).read_bytes)


class TerminalChat:
    def __init__(self, core: Core, person: str, out: Callable[[str], None]) -> None:
        self.core = core
        self.person = person
        self.out = out
        self.options: list[Choice] = []
        self.free_text = False
        core.config.invite_links.setdefault(CHANNEL, lambda code: f"/start {code}")
        core.config.fetch_file.setdefault(CHANNEL, read_local_file)

    def show(self, messages: list[Outbound]) -> None:
        for message in messages:
            self.out("")
            if message.document is not None:
                # No attachments in a terminal: the file is written beside it.
                name, content = message.document
                Path(name).write_bytes(content)
                self.out(f"[tệp / file: {Path(name).resolve()}]")
            if message.document_file is not None:
                name, path = message.document_file
                shutil.copyfile(path, name)
                self.out(f"[tệp / file: {Path(name).resolve()}]")
            self.out(message.text)
            if message.photo is not None:
                self.out("[ảnh / picture]")
            numbered = [choice for row in message.choices for choice in row]
            if numbered:
                self.options = numbered
                self.free_text = message.free_text
                # Where a typed number is an answer, options are picked with "#N".
                mark = "#" if message.free_text else ""
                for i, choice in enumerate(numbered, 1):
                    self.out(f"  [{mark}{i}] {choice.label}")

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
        for _, _, payload in mine:
            choices = [[Choice(c["label"], c["data"]) for c in row] for row in payload["choices"]]
            if payload.get("photo"):
                self.out(f"[ảnh / picture: {len(payload['photo']) * 3 // 4:,} bytes]")
            self.show([Outbound("🔔 " + payload["text"], choices)])

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
        choice = None
        number = line[1:] if line.startswith("#") else None if self.free_text else line
        if number and number.isdigit() and 1 <= int(number) <= len(self.options):
            choice = self.options[int(number) - 1].data
        inbound = Inbound(
            channel=CHANNEL,
            external_id=self.person,
            chat_id=self.person,
            text=None if choice else line,
            choice=choice,
            display_name=self.person,
        )
        if line.startswith("@") and len(line) > 1:
            attached = self.attach(line)
            if attached is None:
                return
            inbound = attached
        result = await self.core.handle(inbound)
        if result.notice:
            self.out(f"({result.notice})")
        self.show(result.messages)
        for message in result.messages:
            if message.track is not None:
                # Nothing is edited in a terminal: a changed progress is printed again later.
                await self.core.track_message(message.track, CHANNEL, self.person, "-")
        for job in result.jobs:
            await self.run_job(job)
        await self.queued()
        await self.progress()

    async def run_job(self, job: Job) -> None:
        """A background job (an export) run to its end: one person at a terminal waits for it,
        reading its progress line by line; a file it sends is written to this directory."""
        self.show([Outbound(job.first)])
        throttle = Throttle()

        async def progress(text: str, fraction: float) -> None:
            if throttle.due(fraction):
                self.out(text)

        async def deliver(messages: list[Outbound]) -> None:
            self.show(messages)

        await run_job(self.core, job, progress=progress, deliver=deliver)

    async def progress(self) -> None:
        """The progress of this person's broadcasts, when it changed since last shown."""
        edits = await broadcast.progress_updates(
            self.core.db, self.core.texts, self.core.clock(), channel=CHANNEL, chat_id=self.person
        )
        for edit in edits:
            self.show([Outbound(edit.text)])

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
