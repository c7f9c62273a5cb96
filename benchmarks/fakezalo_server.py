"""A local Zalo Bot API for the fan-out benchmark, limited like the Telegram one.

Speaks Zalo's protocol (`/bot<TOKEN>/<method>`, JSON in, `{"ok": true, "result": …}` out):
getMe, sendMessage (1 to 2,000 characters, else 400), anything else `true`. At most `limit`
sendMessage calls in any sliding second are accepted; past it Zalo's 429, which names no wait.
Every accepted message is recorded as (monotonic time, chat id, text); Zalo's ids are strings."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.fakeserver import FloodLimitedBotApi

BOT = {"id": "bot1", "account_name": "bot.dvk", "can_join_groups": False}
TEXT_LIMIT = 2000


def _error(code: int, description: str) -> tuple[int, dict[str, Any]]:
    return code, {"ok": False, "error_code": code, "description": description}


class FloodLimitedZaloApi(FloodLimitedBotApi):
    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method != "sendMessage":
            return 200, {"ok": True, "result": True}
        chat_id, text = str(params.get("chat_id", "")), str(params.get("text", ""))
        if not 1 <= len(text) <= TEXT_LIMIT:
            return _error(400, "text must have 1-2000 characters")
        with self._lock:
            now = time.monotonic()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.limit:
                self.flooded += 1
                return _error(429, "Too Many Requests")
            self._window.append(now)
            self.accepted.append((now, chat_id, text))  # type: ignore[arg-type]
            message_id = next(self._ids)
        return 200, {"ok": True, "result": {"message_id": f"s{message_id}", "date": int(now)}}
