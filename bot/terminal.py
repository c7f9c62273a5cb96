"""`dvk chat`: the same conversations in a terminal. Buttons become numbered options; messages
the bot queued for this person (outbox) are shown before each prompt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from handlers.dispatcher import Core
from handlers.types import Choice, Inbound, Outbound
from storage import outbox, queries

CHANNEL = "terminal"


class TerminalChat:
    def __init__(self, core: Core, person: str, out: Callable[[str], None]) -> None:
        self.core = core
        self.person = person
        self.out = out
        self.options: list[Choice] = []
        self.free_text = False
        core.config.invite_links.setdefault(CHANNEL, lambda code: f"/start {code}")

    def show(self, messages: list[Outbound]) -> None:
        for message in messages:
            self.out("")
            if message.document is not None:
                # No attachments in a terminal: the file is written beside it.
                name, content = message.document
                Path(name).write_bytes(content)
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
            identity = await queries.find_identity(
                session, channel=CHANNEL, external_id=self.person
            )
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
        result = await self.core.handle(inbound)
        if result.notice:
            self.out(f"({result.notice})")
        self.show(result.messages)
        await self.queued()

    async def run(self, stdin: TextIO, prompt: Callable[[], None]) -> None:
        await self.queued()
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
