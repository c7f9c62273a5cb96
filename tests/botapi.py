"""A recording Bot API: the real `Application` talks to it instead of Telegram. Every call is
kept as (method, parameters); answers look like Telegram's, with message ids, dates and chats.
`ChatClient` on top makes a test read like the conversation it checks."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Dân vận khéo",
    "username": "dvk_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


# The start of a JPEG file (what the media store checks) as the content of a sent photo.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00" + bytes(64) + b"\xff\xd9"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        # method -> exception-like answer (status, body) to give once, for failure tests
        self.fail_next: dict[str, tuple[int, dict[str, Any]]] = {}
        # file id -> content of a file a person sent: getFile finds it, its URL serves it
        self.files: dict[str, bytes] = {}
        # chat id -> answer (status, body) to every sendMessage to that chat
        self.fail_chats: dict[int, tuple[int, dict[str, Any]]] = {}
        # While set and not yet released, downloads wait for it (a slow link).
        self.downloads_held: asyncio.Event | None = None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if params.get("reply_markup"):
            markup = params["reply_markup"]
            message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        self.messages[message["message_id"]] = message
        return message

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        match method:
            case "getMe":
                return BOT_USER
            case "sendMessage" | "sendPhoto" | "sendDocument":
                return self._message(params)
            case "sendMediaGroup":  # an album: one message per picture
                media = params["media"]
                media = json.loads(media) if isinstance(media, str) else media
                return [self._message({"chat_id": params["chat_id"]}) for _ in media]
            case "editMessageText":
                message = dict(self.messages[int(params["message_id"])])
                message["text"] = params["text"]
                message.pop("reply_markup", None)
                if params.get("reply_markup"):
                    message["reply_markup"] = params["reply_markup"]
                self.messages[message["message_id"]] = message
                return message
            case "getUpdates":
                return []
            case "getFile":
                file_id = str(params["file_id"])
                return {
                    "file_id": file_id,
                    "file_unique_id": f"u-{file_id}",
                    "file_size": len(self.files.get(file_id, b"")),
                    "file_path": f"documents/{file_id}",
                }
        return True

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if "/file/bot" in url:
            # A download (File.download_*): python-telegram-bot GETs the file's URL, whose last
            # part is the file path getFile gave: "documents/<file id>".
            self.calls.append(Call("downloadFile", {"file_id": name}))
            if self.downloads_held is not None:
                await self.downloads_held.wait()
            if name not in self.files:
                return 404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'
            return 200, self.files[name]
        params = dict(request_data.parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            # Uploaded files, as (file name, content), for tests to open.
            params["_files"] = {
                name: (part[0], part[1]) for name, part in request_data.multipart_data.items()
            }
        self.calls.append(Call(name, params))
        if name in self.fail_next:
            status, body = self.fail_next.pop(name)
            return status, json.dumps(body).encode()
        if name == "sendMessage" and int(params.get("chat_id", 0)) in self.fail_chats:
            status, body = self.fail_chats[int(params["chat_id"])]
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._answer(name, params)}).encode()

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "sendMessage"
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


_update_ids = itertools.count(1)


# The first words of the personal-data notice shown to someone known already (consent-again).
NOTICE_AGAIN = "Thông báo về dữ liệu cá nhân đã thay đổi"


@dataclass
class ChatClient:
    """One person in a private chat with the bot."""

    app: Application
    api: RecordingRequest
    user_id: int
    first_name: str = "Người dùng"
    seen: int = 0
    notices: list[str] = field(default_factory=list)
    # Agrees to the personal-data notice whenever it is shown, as nearly every test's people do:
    # the answer is what comes after agreeing (for someone known already, whose message the
    # notice stood in for, the message sent again). Tests of the notice itself set it False.
    agrees: bool = True

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name}

    async def _process(self, data: dict[str, Any]) -> list[str]:
        self.seen = len(self.api.calls)
        after = max(self.api.messages, default=0)
        await self.app.process_update(
            Update.de_json({"update_id": next(_update_ids), **data}, self.app.bot)
        )
        if self.agrees and (agree := self._consent_button(after)) is not None:
            replies = await self.press(*agree)
            if agree[1]["text"].startswith(NOTICE_AGAIN):
                return await self._process(data)
            return replies
        return self.replies()

    def _consent_button(self, after: int) -> tuple[str, dict[str, Any]] | None:
        """The «Đồng ý» of a personal-data notice sent here after message `after`, and its
        message."""
        for message_id, message in self.api.messages.items():
            if message_id <= after or message["chat"]["id"] != self.user_id:
                continue
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button.get("callback_data", "").startswith("cs:y:"):
                        return button["callback_data"], message
        return None

    async def settle(self) -> list[str]:
        """The background jobs run to their end and the outbox sent (handlers/core/jobs.py):
        every text sent to this chat since the last action, the job's outcome with them."""
        from bot.telegram.outbox import flush_outbox

        await asyncio.gather(*self.app.bot_data.get("jobs", {}).values())
        while await flush_outbox(self.app):
            pass
        return self.replies()

    def replies(self) -> list[str]:
        """Texts the bot sent to this chat since the last action."""
        return [
            c.params["text"]
            for c in self.api.calls[self.seen :]
            if c.method == "sendMessage" and int(c.params["chat_id"]) == self.user_id
        ]

    async def send(self, text: str) -> list[str]:
        message: dict[str, Any] = {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private", "first_name": self.first_name},
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return await self._process({"message": message})

    async def send_photo(
        self,
        caption: str | None = None,
        *,
        content: bytes = JPEG,
        file_id: str = "AgAD",
        size: int | None = None,
    ) -> list[str]:
        """Send a photo whose download (getFile, then its URL) gives `content`; `size` is what
        Telegram says it weighs (none by default, as for small photos)."""
        self.api.files[file_id] = content
        photo: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "width": 90,
            "height": 90,
        }
        if size is not None:
            photo["file_size"] = size
        message: dict[str, Any] = {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": self.user,
            "photo": [photo],
        }
        if caption:
            message["caption"] = caption
        return await self._process({"message": message})

    async def send_document(
        self, file_name: str, content: bytes, *, size: int | None = None, caption: str | None = None
    ) -> list[str]:
        """Send a file; `size` is what Telegram says it weighs (default: its length)."""
        file_id = f"doc{next(_update_ids)}"
        self.api.files[file_id] = content
        message: dict[str, Any] = {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": self.user,
            "document": {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_name": file_name,
                "file_size": len(content) if size is None else size,
            },
        }
        if caption:
            message["caption"] = caption
        return await self._process({"message": message})

    def last_message(self) -> dict[str, Any]:
        for message in reversed(list(self.api.messages.values())):
            if message["chat"]["id"] == self.user_id:
                return message
        raise AssertionError("the bot has not written in this chat")

    def last_keyboard_message(self) -> dict[str, Any]:
        for message in reversed(list(self.api.messages.values())):
            if message["chat"]["id"] == self.user_id and message.get("reply_markup"):
                return message
        raise AssertionError("no message with buttons in this chat")

    def buttons(self, message: dict[str, Any] | None = None) -> list[str]:
        message = message or self.last_keyboard_message()
        return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]

    def _find(self, label: str) -> tuple[dict[str, Any], str]:
        for message in reversed(list(self.api.messages.values())):
            if message["chat"]["id"] != self.user_id or not message.get("reply_markup"):
                continue
            for row in message["reply_markup"]["inline_keyboard"]:
                for button in row:
                    if button["text"] == label:
                        return message, button["callback_data"]
        raise AssertionError(f"no button {label!r}; last buttons: {self.buttons()}")

    async def click(self, label: str, *, message: dict[str, Any] | None = None) -> list[str]:
        """Press the newest button with this label (or one in a given older message)."""
        if message is None:
            message, data = self._find(label)
        else:
            data = next(
                b["callback_data"]
                for row in message["reply_markup"]["inline_keyboard"]
                for b in row
                if b["text"] == label
            )
        return await self.press(data, message)

    async def cancel_form(self) -> list[str]:
        """/huy, confirmed where the form has answers to lose (the bot asks first)."""
        replies = await self.send("/huy")
        if "🗑 Hủy, bỏ phần đã điền" in self.buttons():
            replies = await self.click("🗑 Hủy, bỏ phần đã điền")
        return replies

    async def press(self, data: str, message: dict[str, Any] | None = None) -> list[str]:
        """Send callback data as is, forged or not."""
        message = message or self.last_message()
        query = {
            "id": str(next(_update_ids)),
            "from": self.user,
            "chat_instance": "ci",
            "data": data,
            "message": message,
        }
        texts = await self._process({"callback_query": query})
        for call in self.api.calls[self.seen :]:
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.notices.append(call.params["text"])
        return texts

    def last_notice(self) -> str | None:
        for call in reversed(self.api.calls[self.seen :]):
            if call.method == "answerCallbackQuery":
                return call.params.get("text")
        return None
