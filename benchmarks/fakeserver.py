"""A local Bot API with Telegram's flood control, for the fan-out benchmark.

Answers getMe and sendMessage like Telegram (anything else with `true`), accepts at most `limit`
sendMessage calls in any sliding second and answers the rest with a 429 asking to retry after one
second. Every accepted message is recorded as (monotonic time, chat id, text)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Dân vận khéo", "username": "dvk_bot"}
FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 1",
    "parameters": {"retry_after": 1},
}


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


class FloodLimitedBotApi:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.accepted: list[tuple[float, int | str, str]] = []
        self.flooded = 0
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def start(self) -> FloodLimitedBotApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the bot's connection pool expects
            # Headers and body leave in two writes; with Nagle on, the body would wait for the
            # client's delayed ACK (40 ms) on every answer.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died halfway through the request
                    self.close_connection = True
                    return
                params = _params(self.headers.get("Content-Type", ""), body)
                status, answer = api.answer(self.path.rsplit("/", 1)[-1], params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a connection the killed sender left behind

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method != "sendMessage":
            return 200, {"ok": True, "result": True}
        chat_id, text = int(params["chat_id"]), str(params["text"])
        with self._lock:
            now = time.monotonic()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.limit:
                self.flooded += 1
                return 429, FLOOD
            self._window.append(now)
            self.accepted.append((now, chat_id, text))
            message_id = next(self._ids)
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": text}
        return 200, {"ok": True, "result": {**message, "from": BOT_USER}}

    def counts(self) -> tuple[int, int]:
        """Accepted and refused (429) so far."""
        with self._lock:
            return len(self.accepted), self.flooded

    def snapshot(self) -> tuple[list[tuple[float, int | str, str]], int]:
        with self._lock:
            return list(self.accepted), self.flooded
