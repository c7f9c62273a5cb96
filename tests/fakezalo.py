"""A fake Zalo Bot Platform API that behaves as the real one is documented and observed to:
one update per `getUpdates` call and no offsets, HTTP 408 for an idle poll, 400 while a webhook
is set, no buttons or edits, 2,000 characters a message, `sendPhoto` fetching its URL during the
call, and 429 once the month's quota is used up. Plugged into httpx as a transport, so the
client under test makes real HTTP requests with real bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN = "1234567890:zalo-test-token-abcdefghijklmnop"


@dataclass
class Sent:
    method: str
    params: dict[str, Any]


@dataclass
class FakeZalo:
    token: str = TOKEN
    # What people sent, waiting for getUpdates (one per call) or a webhook delivery.
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    sent: list[Sent] = field(default_factory=list)
    webhook: dict[str, str] | None = None
    quota: int | None = None
    # Fetches a sendPhoto URL during the call, as Zalo does; (status, bytes).
    fetch: Callable[[str], Awaitable[tuple[int, bytes]]] | None = None
    # How long an idle getUpdates waits for something to arrive before its 408, as the real
    # one holds the poll (0: at once; a test that runs the polling loop sets it).
    hold_idle: float = 0.0
    # Methods that answer 429 until taken out (a quota used up, or sending too fast).
    refuse: set[str] = field(default_factory=set)
    _ids: int = 0
    _arrived: asyncio.Event | None = None
    # Set on each message sent: a test waits on it instead of on time.
    delivered: asyncio.Event = field(default_factory=asyncio.Event)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def queue_text(self, user_id: str, text: str, *, name: str = "Người dùng") -> None:
        self.queue(self.event("message.text.received", user_id, name, text=text))

    def queue(self, update: dict[str, Any]) -> None:
        self.pending.append(update)
        if self._arrived is not None:
            self._arrived.set()

    def in_group(self, update: dict[str, Any], group_id: str) -> dict[str, Any]:
        update["message"]["chat"] = {"id": group_id, "chat_type": "GROUP"}
        return update

    def event(self, event: str, user_id: str, name: str, **message: Any) -> dict[str, Any]:
        self._ids += 1
        return {
            "event_name": event,
            "message": {
                "from": {"id": user_id, "display_name": name, "is_bot": False},
                "chat": {"id": user_id, "chat_type": "PRIVATE"},
                "message_id": f"m{self._ids}",
                "date": 1764900000000 + self._ids,
                **message,
            },
        }

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [
            s.params["text"]
            for s in self.sent
            if s.method == "sendMessage" and (chat_id is None or s.params["chat_id"] == chat_id)
        ]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        prefix = f"/bot{self.token}/"
        if not request.url.path.startswith(prefix):
            return _error(401, "Unauthorized")
        method = request.url.path[len(prefix) :]
        params = json.loads(request.content) if request.content else {}
        match method:
            case "getMe":
                return _ok({"id": "bot1", "account_name": "bot.dvk", "can_join_groups": False})
            case "getUpdates":
                if self.webhook is not None:
                    return _error(400, "Webhook is set")
                if not self.pending and self.hold_idle:
                    self._arrived = asyncio.Event()
                    hold = min(self.hold_idle, float(params.get("timeout", self.hold_idle)))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), hold)
                if not self.pending:
                    return _error(408, "Request Timeout")
                return _ok(self.pending.popleft())
            case "setWebhook":
                secret = params.get("secret_token", "")
                if not str(params.get("url", "")).startswith("https://"):
                    return _error(400, "url must be https")
                if not 8 <= len(secret) <= 256:
                    return _error(400, "secret_token must have 8-256 characters")
                self.webhook = {"url": params["url"], "secret_token": secret}
                return _ok(True)
            case "deleteWebhook":
                self.webhook = None
                return _ok(True)
            case "sendMessage" | "sendPhoto" | "sendChatAction":
                return await self._send(method, params)
        return _error(404, "Not Found")

    async def _send(self, method: str, params: dict[str, Any]) -> httpx.Response:
        if method == "sendMessage" and not 1 <= len(params.get("text", "")) <= 2000:
            return _error(400, "text must have 1-2000 characters")
        if method in self.refuse:
            return _error(429, "Quota exceeded")
        if method != "sendChatAction":
            if self.quota is not None and self.quota <= 0:
                return _error(429, "Quota exceeded")
            if self.quota is not None:
                self.quota -= 1
        if method == "sendPhoto":
            if self.fetch is None:
                return _error(400, "photo url cannot be fetched")
            status, _content = await self.fetch(params.get("photo", ""))
            if status != 200:
                return _error(400, "photo url cannot be fetched")
        self.sent.append(Sent(method, params))
        self.delivered.set()
        self._ids += 1
        return _ok({"message_id": f"s{self._ids}", "date": 1764900000000})


def _ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def _error(code: int, description: str) -> httpx.Response:
    body = {"ok": False, "error_code": code, "description": description}
    return httpx.Response(code, json=body)
