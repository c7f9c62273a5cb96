"""One person on one channel, driven the same way on both: `send(text)`, `send_photo()`,
`choose(label)` (presses the button on Telegram, types its number on Zalo), `last_texts()`; and
one world per channel around them: the outbox sender, the background jobs, the files and pictures
a person received. A scenario written against these runs unchanged on Telegram (the real
`Application` and the recording Bot API) and on Zalo (the real polling runner against the fake
Zalo Bot API, with the bot's own HTTP server answering the links it hands out)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.channels import ZALO, channels_of
from bot.http import make_app
from bot.sender import Sender
from bot.zalo import upload
from bot.zalo.runner import ZaloRunner
from handlers.core.router import Core
from tests.botapi import JPEG, NOTICE_AGAIN, ChatClient, RecordingRequest
from tests.fakezalo import FakeZalo

# The form's own keys are words on Zalo, never numbers (docs/zalo.md).
ZALO_WORDS = {
    "« Quay lại": "quay lại",
    "Bỏ qua »": "bỏ qua",
    "↩ Giữ nguyên": "bỏ qua",  # skip, where a corrected answer keeps its value
    "✖ Hủy": "hủy",
}
PUBLIC_URL = "https://dvk.example.org"
CDN = "https://cdn.zalo.test"
# channel-file-link in the catalog: "📎 Tệp {name}: {link}".
UPLOAD_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/upload/[A-Za-z0-9_-]+)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The personal-data notice's first line (consent-notice in the catalog).
CONSENT = "Thông báo về dữ liệu cá nhân (phiên bản"
FILE_LINK = re.compile(r"📎 Tệp (.+?): (" + re.escape(PUBLIC_URL) + r"/files/\S+)")


class Person(Protocol):
    user_id: int

    async def send(self, text: str) -> list[str]: ...
    async def open_invite(self, code: str) -> list[str]: ...
    async def send_photo(self) -> list[str]: ...
    async def choose(self, label: str) -> list[str]: ...
    async def upload(self, name: str, content: bytes) -> list[str]: ...
    def last_texts(self) -> list[str]: ...
    def all_texts(self) -> list[str]: ...


# --- Telegram -----------------------------------------------------------------------------------


@dataclass
class TelegramPerson:
    client: ChatClient
    world: TelegramWorld

    @property
    def user_id(self) -> int:
        return self.client.user_id

    async def send(self, text: str) -> list[str]:
        return await self.client.send(text)

    async def open_invite(self, code: str) -> list[str]:
        # The link https://t.me/<bot>?start=CODE opens the chat with this command.
        return await self.client.send(f"/start {code}")

    async def send_photo(self) -> list[str]:
        return await self.client.send_photo()

    async def choose(self, label: str) -> list[str]:
        return await self.client.click(label)

    async def upload(self, name: str, content: bytes) -> list[str]:
        """A file for the step that asks for one: sent in the chat, as Telegram allows."""
        return await self.client.send_document(name, content)

    def last_texts(self) -> list[str]:
        return self.client.replies()

    def all_texts(self) -> list[str]:
        return [c.params["text"] for c in self.world.api.sent(self.user_id)]


@dataclass
class TelegramWorld:
    name = "telegram"
    channel = "telegram"
    core: Core
    app: Any
    api: RecordingRequest

    def person(
        self, user_id: int, name: str = "Người dùng", *, agrees: bool = True
    ) -> TelegramPerson:
        client = ChatClient(self.app, self.api, user_id, name, agrees=agrees)
        return TelegramPerson(client, self)

    async def flush(self) -> int:
        """The outbox sender until nothing is due now; how many were settled."""
        from bot.telegram.outbox import flush_outbox

        total = 0
        while settled := await flush_outbox(self.app):
            total += settled
        return total

    async def settle_jobs(self) -> None:
        await asyncio.gather(*self.app.bot_data.get("jobs", {}).values())

    def outbox_texts(self, user_id: int) -> list[str]:
        return [c.params["text"] for c in self.api.sent(user_id)]

    async def broadcast_progress(self, user_id: int) -> list[str]:
        """One round of the broadcast progress job: what this admin was shown (edits)."""
        from bot.telegram.schedule import run_broadcast_progress

        before = len(self.api.calls)
        await run_broadcast_progress(self.app)
        return [
            c.params["text"]
            for c in self.api.calls[before:]
            if c.method in ("editMessageText", "sendMessage")
            and int(c.params["chat_id"]) == user_id
        ]

    def sent_to(self) -> list[int]:
        return [int(c.params["chat_id"]) for c in self.api.sent()]

    async def files(self, user_id: int) -> list[tuple[str, bytes]]:
        return [
            c.params["_files"]["document"]
            for c in self.api.calls
            if c.method == "sendDocument" and int(c.params["chat_id"]) == user_id
        ]

    async def photos(self, user_id: int) -> list[bytes]:
        return [
            next(iter(c.params["_files"].values()))[1]
            for c in self.api.calls
            if c.method == "sendPhoto" and int(c.params["chat_id"]) == user_id
        ]


# --- Zalo ---------------------------------------------------------------------------------------


@dataclass
class ZaloPerson:
    user_id: int
    name: str
    world: ZaloWorld
    seen: int = 0
    # As on Telegram (tests/botapi.py ChatClient.agrees): «Đồng ý» typed whenever the
    # personal-data notice is shown, and the answer is what comes after it.
    agrees: bool = True

    @property
    def chat(self) -> str:
        return str(self.user_id)

    async def _update(self, make: Callable[[], dict[str, Any]]) -> list[str]:
        self.seen = len(self.world.zalo.texts(self.chat))
        self.world.zalo.queue(make())
        polled = await self.world.runner.api.get_update(poll_seconds=1)
        assert polled is not None
        await self.world.runner.handle(polled)
        if self.agrees and any(CONSENT in text for text in self.last_texts()):
            again = any(text.startswith(NOTICE_AGAIN) for text in self.last_texts())
            replies = await self.send("đồng ý")
            # Someone known already: the message the notice stood in for, sent again.
            return await self._update(make) if again else replies
        return self.last_texts()

    async def send(self, text: str) -> list[str]:
        zalo = self.world.zalo
        return await self._update(
            lambda: zalo.event("message.text.received", self.chat, self.name, text=text)
        )

    async def open_invite(self, code: str) -> list[str]:
        # No deep links on Zalo: the person opens the bot and types the code.
        return await self.send(code)

    async def send_photo(self) -> list[str]:
        url = f"{CDN}/p{len(self.world.cdn) + 1}.jpg"
        self.world.cdn[url] = JPEG
        zalo = self.world.zalo
        return await self._update(
            lambda: zalo.event("message.image.received", self.chat, self.name, photo_url=url)
        )

    async def choose(self, label: str) -> list[str]:
        """Type what stands for the option: its number in the last numbered list that has it,
        the word for a form key, or the command a message of the bot's own names."""
        if label in ZALO_WORDS:
            return await self.send(ZALO_WORDS[label])
        option = re.compile(r"^\s*\[(#?\d+)\] " + re.escape(label) + "$")
        command = re.compile(r"^👉 " + re.escape(label) + r": gõ (/\S+(?: \S+)?)$")
        for text in reversed(self.all_texts()):
            for line in text.splitlines():
                if found := option.match(line):
                    return await self.send(found.group(1))
                if found := command.match(line):
                    return await self.send(found.group(1))
        raise AssertionError(f"no option {label!r} in what was sent; last: {self.all_texts()[-1:]}")

    async def upload(self, name: str, content: bytes) -> list[str]:
        """Zalo sends no files: the upload page's link in the bot's last message is opened and
        the file posted to it, as a person does in the phone's browser; the import's answer
        then arrives in the Zalo chat."""
        self.seen = len(self.world.zalo.texts(self.chat))
        link = next(
            found.group(1)
            for text in reversed(self.all_texts())
            if (found := UPLOAD_LINK.search(text))
        )
        app = make_app(upload.routes(self.world.core), media=channels_of(self.world.core).media)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            page = await client.post(link, files={"file": (name, content, XLSX)})
        assert page.status_code == 200, (page.status_code, page.text)
        return self.last_texts()

    def last_texts(self) -> list[str]:
        return self.world.zalo.texts(self.chat)[self.seen :]

    def all_texts(self) -> list[str]:
        return self.world.zalo.texts(self.chat)


@dataclass
class ZaloWorld:
    name = "zalo"
    channel = ZALO
    core: Core
    runner: ZaloRunner
    zalo: FakeZalo
    sender: Sender
    # What Zalo's CDN serves: the pictures people send.
    cdn: dict[str, bytes] = field(default_factory=dict)
    # What Zalo fetched for each sendPhoto (it takes the URL during the call).
    fetched: dict[str, bytes] = field(default_factory=dict)

    def person(self, user_id: int, name: str = "Người dùng", *, agrees: bool = True) -> ZaloPerson:
        return ZaloPerson(user_id, name, self, agrees=agrees)

    async def flush(self) -> int:
        total = 0
        while settled := await self.sender.run_once():
            total += settled
        return total

    async def settle_jobs(self) -> None:
        await asyncio.gather(*self.runner.jobs)

    def outbox_texts(self, user_id: int) -> list[str]:
        return self.zalo.texts(str(user_id))

    async def broadcast_progress(self, user_id: int) -> list[str]:
        before = len(self.zalo.texts(str(user_id)))
        await self.runner.broadcast_progress()
        await self.flush()  # the final count goes through the outbox
        return self.zalo.texts(str(user_id))[before:]

    def sent_to(self) -> list[int]:
        return [int(s.params["chat_id"]) for s in self.zalo.sent if s.method == "sendMessage"]

    async def get(self, url: str) -> httpx.Response:
        """A link the bot handed out, opened on its own HTTP server."""
        assert url.startswith(PUBLIC_URL + "/"), url
        app = make_app(media=channels_of(self.core).media)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            return await client.get(url[len(PUBLIC_URL) :])

    async def files(self, user_id: int) -> list[tuple[str, bytes]]:
        """Files reach Zalo as signed links in a text: each is downloaded as a person would."""
        found = []
        for text in self.outbox_texts(user_id):
            for name, url in FILE_LINK.findall(text):
                answer = await self.get(url)
                assert answer.status_code == 200, (answer.status_code, url)
                found.append((name, answer.content))
        return found

    async def photos(self, user_id: int) -> list[bytes]:
        return [
            self.fetched[s.params["photo"]]
            for s in self.zalo.sent
            if s.method == "sendPhoto" and s.params["chat_id"] == str(user_id)
        ]


def zalo_fetch(world_of: Callable[[], ZaloWorld]) -> Callable[[str], Awaitable[tuple[int, bytes]]]:
    """Zalo fetching a sendPhoto URL: from the bot's HTTP server, as the real one would."""

    async def fetch(url: str) -> tuple[int, bytes]:
        world = world_of()
        answer = await world.get(url)
        if answer.status_code == 200:
            world.fetched[url] = answer.content
        return answer.status_code, answer.content

    return fetch
