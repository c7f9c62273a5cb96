"""A small async client of the Zalo Bot Platform API, and the reading of what it delivers.

`https://bot-api.zaloplatforms.com/bot<TOKEN>/<method>`, JSON in, `{"ok": true, "result": …}` or
`{"ok": false, "error_code": N, "description": …}` out. The published Python clients point at an
old host and call `asyncio.run` inside their sync wrappers, so the project keeps its own: a
dozen lines over httpx. The token is part of every URL: no URL is ever logged or put into an
error message. httpx logs every request's URL at INFO: its logger is kept at WARNING, and a
filter on it blanks the token in case a logging setup lowers that level again."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

DEFAULT_API_URL = "https://bot-api.zaloplatforms.com"
TEXT_LIMIT = 2000

_TOKEN_IN_PATH = re.compile(r"/bot[^/\s'\"]+/")


class RedactTokens(logging.Filter):
    """Blanks `/bot<TOKEN>/` in a record's message: a URL of the Bot API never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_PATH.sub("/bot***/", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def quiet_http_logs() -> None:
    """httpx names each request's URL (with the token) at INFO: keep it to warnings, redacted."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


quiet_http_logs()


class ZaloError(Exception):
    """The API said no, or could not be reached. Carries no URL (the URL holds the token)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"Zalo API error {code}: {description}")
        self.code = code
        self.description = description


class QuotaExceeded(ZaloError):
    """429: the plan's messages are used up, or sending too fast. Later, never lost."""


class Unreachable(ZaloError):
    """403: Zalo will not deliver to this person (blocked the bot, or unknown to it)."""


class NetworkError(ZaloError):
    """No answer (timeout, connection refused, 5xx): the same call may go through later."""


@dataclass(frozen=True)
class Update:
    """One delivered event, in the shape the bot needs. Ids are Zalo's opaque strings."""

    event: str
    message_id: str
    user_id: str
    chat_id: str
    private: bool
    display_name: str | None
    text: str | None
    photo_url: str | None
    sent_at: datetime | None

    @property
    def kind(self) -> str:
        """text | image | sticker | unsupported (files and videos arrive as the last)."""
        return self.event.removeprefix("message.").removesuffix(".received")


def parse_update(body: Any) -> Update | None:
    """A webhook body or a getUpdates result, bare (`{"event_name", "message"}`, as real
    deliveries are) or wrapped (`{"ok": true, "result": {…}}`, as the documentation shows).
    None when it is not an update the bot can read."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    if not isinstance(body, dict):
        return None
    event, message = body.get("event_name"), body.get("message")
    if not isinstance(event, str) or not isinstance(message, dict):
        return None
    sender, chat = message.get("from"), message.get("chat")
    if not isinstance(sender, dict) or not isinstance(chat, dict):
        return None
    if sender.get("is_bot"):
        return None
    user_id, chat_id = sender.get("id"), chat.get("id")
    if not user_id or not chat_id:
        return None
    photo = message.get("photo_url") or message.get("photo")
    date = message.get("date")
    return Update(
        event=event,
        message_id=str(message.get("message_id") or ""),
        user_id=str(user_id),
        chat_id=str(chat_id),
        private=str(chat.get("chat_type", "PRIVATE")).upper() == "PRIVATE",
        display_name=_text_or_none(sender.get("display_name") or sender.get("name")),
        text=_text_or_none(message.get("text") or message.get("caption")),
        photo_url=photo if isinstance(photo, str) and photo else None,
        sent_at=datetime.fromtimestamp(date / 1000, UTC) if isinstance(date, int | float) else None,
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class ZaloApi:
    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = 40.0,
    ) -> None:
        quiet_http_logs()  # again: a logging setup since the import may have lowered the level
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._own_client = client is None

    async def close(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def call(self, method: str, *, http_timeout: float | None = None, **params: Any) -> Any:
        extra = {"timeout": http_timeout} if http_timeout is not None else {}
        try:
            response = await self._client.post(self._base + method, json=params, **extra)
        except httpx.HTTPError as error:
            # str(error) of some httpx errors names the URL: keep only the kind.
            raise NetworkError(0, type(error).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        code = body.get("error_code") if isinstance(body, dict) else None
        code = int(code) if isinstance(code, int) else response.status_code
        description = str(body.get("description", "")) if isinstance(body, dict) else ""
        description = description or response.reason_phrase or "no description"
        if code == 429:
            raise QuotaExceeded(code, description)
        if code == 403:
            raise Unreachable(code, description)
        if code >= 500:
            raise NetworkError(code, description)
        raise ZaloError(code, description)

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def get_update(self, *, poll_seconds: int = 30) -> Update | None:
        """One update, or None when the poll ended idle (HTTP 408, which is normal)."""
        body = await self.get_update_body(poll_seconds=poll_seconds)
        return parse_update(body) if body is not None else None

    async def get_update_body(self, *, poll_seconds: int = 30) -> Any:
        """One update as Zalo sent it (to record in the inbox), or None for an idle poll."""
        try:
            return await self.call(
                "getUpdates", http_timeout=poll_seconds + 10, timeout=poll_seconds
            )
        except ZaloError as error:
            if error.code == 408:
                return None
            raise

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self.call("getWebhookInfo") or {}

    async def send_message(self, chat_id: str, text: str) -> str:
        """Sends one message of at most 2,000 characters; returns its message id."""
        if not 1 <= len(text) <= TEXT_LIMIT:
            raise ValueError(f"a Zalo message has 1-{TEXT_LIMIT} characters, not {len(text)}")
        result = await self.call("sendMessage", chat_id=chat_id, text=text)
        return str((result or {}).get("message_id", ""))

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> str:
        """Zalo fetches the picture from `photo_url` during the call: it must be public."""
        params: dict[str, Any] = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption[:TEXT_LIMIT]
        result = await self.call("sendPhoto", **params)
        return str((result or {}).get("message_id", ""))

    async def send_typing(self, chat_id: str) -> None:
        await self.call("sendChatAction", chat_id=chat_id, action="typing")
