"""A small fake Telegram Bot API over real HTTP, for tests that run the bot as a separate process.

The bot reaches it with DVK_TELEGRAM_API_URL=<server.url>, so it calls
`<url>/bot<token>/<method>`. The test plays the person: it queues updates (delivered through
`getUpdates` long polling) and waits, with timeouts, for what the bot sends. Parameters are
read from form data (what python-telegram-bot's HTTPXRequest sends), multipart (when files are
attached) or JSON; non-string values arrive JSON-encoded in form data."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.botapi import BOT_USER

# A long poll waits at most this long for an update, whatever timeout the bot asks for.
MAX_POLL_WAIT = 1.0


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]


def _json_or_text(value: str) -> Any:
    """Form values: objects, numbers and booleans are JSON-encoded, plain strings are not."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_params(content_type: str, body: bytes) -> dict[str, Any]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if kind == "application/json":
        return json.loads(body)
    if kind == "application/x-www-form-urlencoded":
        return {
            key: _json_or_text(value)
            for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        }
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                params[name] = payload  # an uploaded file: kept as bytes
            else:
                params[name] = _json_or_text(payload.decode("utf-8"))
        return params
    raise ValueError(f"unexpected content type {content_type!r}")


class FakeBotApi:
    """Answers like Telegram for the methods the bot uses; `{"ok": true, "result": true}` else."""

    def __init__(self, token: str | None = None, bot_user: dict[str, Any] | None = None) -> None:
        self.token = token  # when given, other paths than /bot<token>/<method> are "Not Found"
        self.bot_user = bot_user or BOT_USER
        self.calls: list[ApiCall] = []
        self.sent: list[dict[str, Any]] = []  # every sendMessage, as the Message returned
        self.messages: dict[int, dict[str, Any]] = {}  # current state, after edits
        self.updates: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._changed = threading.Condition()
        self._closing = False
        self.gone: str | None = None  # why the watched bot process is no longer there
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- the server ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                api._serve(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method = handler.path.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        if self.token is not None and not handler.path.startswith(f"/bot{self.token}/"):
            self.errors.append(f"unexpected path {handler.path}")
            status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            status, answer = self._call(method, handler.headers.get("Content-Type", ""), body)
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the bot went away in the middle of a long poll

    def _call(self, method: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            params = parse_params(content_type, body)
            return 200, {"ok": True, "result": self._answer(method, params)}
        except Exception as error:  # shown to the test, and to the bot as a Telegram error
            self.errors.append(f"{method}: {error!r}")
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}

    # --- the methods --------------------------------------------------------------------------

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getUpdates":
            return self._get_updates(params)
        with self._changed:
            self.calls.append(ApiCall(method, params))
            try:
                return self._answer_locked(method, params)
            finally:
                self._changed.notify_all()

    def _answer_locked(self, method: str, params: dict[str, Any]) -> Any:
        match method:
            case "getMe":
                return self.bot_user
            case "sendMessage":
                chat_id = int(params["chat_id"])
                message: dict[str, Any] = {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                    "from": self.bot_user,
                    "text": str(params["text"]),
                }
                if params.get("reply_markup"):
                    message["reply_markup"] = params["reply_markup"]
                self.messages[message["message_id"]] = message
                self.sent.append(message)
                return message
            case "editMessageText":
                message = dict(self.messages[int(params["message_id"])])
                message["text"] = str(params["text"])
                message["edit_date"] = int(time.time())
                message.pop("reply_markup", None)
                if params.get("reply_markup"):
                    message["reply_markup"] = params["reply_markup"]
                self.messages[message["message_id"]] = message
                return message
        # answerCallbackQuery, setMyCommands, deleteWebhook, ...
        return True

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), MAX_POLL_WAIT)
        with self._changed:
            self.calls.append(ApiCall("getUpdates", params))
            self._changed.notify_all()

            def pending() -> list[dict[str, Any]]:
                return [u for u in self.updates if u["update_id"] >= offset]

            self._changed.wait_for(lambda: self._closing or pending(), timeout=wait)
            return pending()

    # --- acting as a person -------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        with self._changed:
            self.updates.append({"update_id": next(self._update_ids), **update})
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float, what: str = "a condition"
    ) -> Any:
        """Wait until `predicate` (called under the lock) returns something true, and return it.
        Fails at the timeout, or at once when the watched bot process has exited."""
        found = None

        def check() -> Any:
            nonlocal found
            found = predicate()
            return found or self.gone

        with self._changed:
            self._changed.wait_for(check, timeout=timeout)
            if found:
                return found
            recent = [m["text"] for m in self.sent[-5:]]
        raise AssertionError(
            f"{self.gone or 'timed out'} while waiting for {what}; the bot said lately: "
            + json.dumps(recent, ensure_ascii=False)
            + (f"; fake API errors: {self.errors}" if self.errors else "")
        )

    def watch(self, process: subprocess.Popen[Any]) -> None:
        """Wake up the waiters as soon as the bot process exits."""

        def wait() -> None:
            returncode = process.wait()
            with self._changed:
                self.gone = f"the bot process exited with {returncode}"
                self._changed.notify_all()

        threading.Thread(target=wait, daemon=True).start()

    def methods(self) -> list[str]:
        with self._changed:
            return [call.method for call in self.calls]


@contextmanager
def running(api: FakeBotApi | None = None) -> Iterator[FakeBotApi]:
    server = (api or FakeBotApi()).start()
    try:
        yield server
    finally:
        server.stop()


class Person:
    """One person in a private chat with the bot, through the fake API."""

    def __init__(self, api: FakeBotApi, user_id: int, first_name: str, timeout: float) -> None:
        self.api = api
        self.user_id = user_id
        self.first_name = first_name
        self.timeout = timeout
        self.seen = 0  # how many sent messages were already looked at
        self._ids = itertools.count(1)

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name}

    def say(self, text: str) -> None:
        message: dict[str, Any] = {
            "message_id": 100_000 + next(self._ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private", "first_name": self.first_name},
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self.api.push({"message": message})

    def press(self, message: dict[str, Any], label: str | None = None) -> str:
        """Press the button with this label (the first option button without a label)."""
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        if label is None:
            button = next(b for b in buttons if ":o:" in b["callback_data"])
        else:
            matches = [b for b in buttons if b["text"] == label]
            assert matches, f"no button {label!r} in {[b['text'] for b in buttons]}"
            button = matches[0]
        with self.api._changed:
            current = dict(self.api.messages[message["message_id"]])
        self.api.push(
            {
                "callback_query": {
                    "id": str(200_000 + next(self._ids)),
                    "from": self.user,
                    "chat_instance": "ci",
                    "data": button["callback_data"],
                    "message": current,
                }
            }
        )
        return button["text"]

    def expect(
        self,
        check: Callable[[str], bool],
        what: str,
        refuse: Callable[[str], bool] = lambda text: False,
    ) -> dict[str, Any]:
        """Wait for the next message to this chat (after those seen) whose text passes `check`;
        fail at once on one that passes `refuse` (an error the bot reported)."""

        def find() -> dict[str, Any] | None:
            mine = [m for m in self.api.sent if m["chat"]["id"] == self.user_id]
            for index in range(self.seen, len(mine)):
                self.seen = index + 1
                if check(mine[index]["text"]):
                    return mine[index]
                if refuse(mine[index]["text"]):
                    return {"refused": mine[index]}
            return None

        found = self.api.wait_for(find, self.timeout, what)
        if "refused" in found:
            raise AssertionError(f"waiting for {what}, the bot said: {found['refused']['text']}")
        return found
