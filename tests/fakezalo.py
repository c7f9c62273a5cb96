"""A fake Zalo Bot Platform API that behaves as the real one is documented and observed to:
one update per `getUpdates` call and no offsets, HTTP 408 for an idle poll, 400 while a webhook
is set, webhook deliveries with the secret header (delivered again on any non-2xx answer), no
buttons or edits, 2,000 characters a message, `sendPhoto` fetching its URL during the
call, and 429 once the month's quota is used up. Plugged into httpx as a transport, so the
client under test makes real HTTP requests with real bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    # Chats Zalo will not deliver to (the person blocked the bot): 403.
    blocked: set[str] = field(default_factory=set)
    _ids: int = 0
    _arrived: asyncio.Event | None = None
    # Set on each message sent: a test waits on it instead of on time.
    delivered: asyncio.Event = field(default_factory=asyncio.Event)
    # How webhook deliveries reach the bot (an ASGI transport, or real HTTP), and where: the
    # scheme and host of the webhook's https URL are replaced by `route_to` when it is set.
    webhook_client: httpx.AsyncClient | None = None
    route_to: str | None = None
    # Each delivery's answers, in order (a redelivery adds to the same list).
    deliveries: list[list[int]] = field(default_factory=list)
    # Set when a webhook is set: a test waits on it instead of on time.
    webhook_set: asyncio.Event = field(default_factory=asyncio.Event)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def queue_text(self, user_id: str, text: str, *, name: str = "Người dùng") -> None:
        self.queue(self.event("message.text.received", user_id, name, text=text))

    def queue(self, update: dict[str, Any]) -> None:
        self.pending.append(update)
        if self._arrived is not None:
            self._arrived.set()

    async def deliver(
        self, update: dict[str, Any], *, wrapped: bool = False, tries: int = 5
    ) -> list[int]:
        """POST an update to the webhook as Zalo does (bare, or wrapped as its documentation
        shows), with the secret header, again after each non-2xx answer, at most `tries` times.
        Returns the answers' status codes."""
        assert self.webhook is not None, "no webhook is set"
        assert self.webhook_client is not None, "the fake has no way to reach the bot"
        url = self.webhook["url"]
        if self.route_to:
            url = self.route_to.rstrip("/") + "/" + url.split("/", 3)[3]
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": self.webhook["secret_token"]}
        statuses: list[int] = []
        for _ in range(tries):
            response = await self.webhook_client.post(url, json=body, headers=headers)
            statuses.append(response.status_code)
            if 200 <= response.status_code < 300:
                break
        self.deliveries.append(statuses)
        return statuses

    def text_event(self, user_id: str, text: str, *, name: str = "Người dùng") -> dict[str, Any]:
        return self.event("message.text.received", user_id, name, text=text)

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
                self.webhook_set.set()
                return _ok(True)
            case "deleteWebhook":
                self.webhook = None
                return _ok(True)
            case "getWebhookInfo":
                hook = self.webhook or {}
                return _ok({"url": hook.get("url", ""), "updated_at": 1764900000000})
            case "sendMessage" | "sendPhoto" | "sendChatAction":
                return await self._send(method, params)
        return _error(404, "Not Found")

    async def _send(self, method: str, params: dict[str, Any]) -> httpx.Response:
        if method == "sendMessage" and not 1 <= len(params.get("text", "")) <= 2000:
            return _error(400, "text must have 1-2000 characters")
        if method in self.refuse:
            return _error(429, "Quota exceeded")
        if params.get("chat_id") in self.blocked:
            return _error(403, "Forbidden: the user has blocked the bot")
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


class Served:
    """A FakeZalo behind a real HTTP server, for a bot in another process (`dvk run`): its own
    event loop in a thread; what people write is queued into that loop, and a test waits on
    what the bot called."""

    def __init__(self, zalo: FakeZalo) -> None:
        self.zalo = zalo
        self.methods: list[str] = []
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                served._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A bot stopped during a held poll leaves its connection: not an error of the fake.
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._threads = [
            threading.Thread(target=self.loop.run_forever, daemon=True),
            threading.Thread(target=self.server.serve_forever, daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue_text(self, user_id: str, text: str) -> None:
        self.loop.call_soon_threadsafe(self.zalo.queue_text, user_id, text)

    def deliver_text(self, user_id: str, text: str, *, wrapped: bool = False) -> list[int]:
        """A webhook delivery from the fake's loop, over real HTTP to `zalo.route_to`."""

        async def deliver() -> list[int]:
            if self.zalo.webhook_client is None:
                self.zalo.webhook_client = httpx.AsyncClient(timeout=30, trust_env=False)
            update = self.zalo.text_event(user_id, text)
            return await self.zalo.deliver(update, wrapped=wrapped)

        return asyncio.run_coroutine_threadsafe(deliver(), self.loop).result(timeout=60)

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=timeout):
                raise AssertionError(f"timed out waiting for {what}; calls: {self.methods}")

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        request = httpx.Request("POST", f"http://fake{handler.path}", content=body)
        answer = asyncio.run_coroutine_threadsafe(self.zalo.handle(request), self.loop)
        response = answer.result(timeout=60)
        handler.send_response(response.status_code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(response.content)))
        handler.end_headers()
        handler.wfile.write(response.content)
        with self.changed:
            self.methods.append(handler.path.rsplit("/", 1)[-1])
            self.changed.notify_all()


@contextmanager
def served(zalo: FakeZalo) -> Iterator[Served]:
    server = Served(zalo)
    for thread in server._threads:
        thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.loop.call_soon_threadsafe(server.loop.stop)
