"""When the outbox sender's next request may start: one channel's declared rates (overall, per
chat, per group) kept on the sender's clock. Times are seconds; see bot/sender.py."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

CATCH_UP = 0.05  # seconds a late start may be made up for by the next ones


@dataclass(eq=False)
class Request:
    chat_id: str
    start: float
    end: float | None = None


class Pacer:
    """When the next request may start, from the requests already made. Times in seconds."""

    def __init__(self, rate: float, per_chat_interval: float, group_per_minute: int) -> None:
        self.spacing = 1.0 / rate
        self.recent: deque[Request] = deque(maxlen=max(1, int(rate)))
        self.per_chat_interval = per_chat_interval
        self.group_per_minute = group_per_minute
        self.next_slot = -math.inf
        self.paused_until = -math.inf
        self.busy: set[str] = set()
        self.chat_free: dict[str, float] = {}
        self.groups: dict[str, deque[float]] = {}
        self._prune_at = 1024

    def overall_ready_at(self) -> float | None:
        """None while the request that frees the one-second window is still out."""
        at = max(self.next_slot, self.paused_until)
        if len(self.recent) == self.recent.maxlen:
            oldest = self.recent[0]
            if oldest.end is None:
                return None
            at = max(at, oldest.end + 1.0)
        return at

    def chat_ready_at(self, chat_id: str) -> float | None:
        """None while a request to this chat is out."""
        if chat_id in self.busy:
            return None
        at = self.chat_free.get(chat_id, -math.inf)
        sent = self.groups.get(chat_id)
        if sent is not None and len(sent) == sent.maxlen:
            at = max(at, sent[0] + 60.0)
        return at

    def upcoming(self, chats: list[str], now: float, horizon: float) -> list[int]:
        """Of the queued `chats`, in queue order, those likely to start within `horizon` of `now`
        (positions): one per chat free by then, as many as the schedule spaces into it (at
        least one). A guess, for noting starts ahead (bot/sender.py): starting decides nothing."""
        count = max(1, int(horizon / self.spacing + 1e-9))
        picked: list[int] = []
        seen: set[str] = set()
        for i, chat in enumerate(chats):
            at = self.chat_ready_at(chat)
            if at is None or at > now + horizon or chat in seen:
                continue
            seen.add(chat)
            picked.append(i)
            if len(picked) == count:
                break
        return picked

    def start(self, chat_id: str, now: float) -> Request:
        request = Request(chat_id, now)
        self.recent.append(request)
        # Starts keep to a schedule 1/rate apart. One that went a little late (the loop was busy)
        # leaves the schedule where it was, so the next ones catch up; a longer gap restarts it.
        slot = self.next_slot if now - self.next_slot <= CATCH_UP else now
        self.next_slot = slot + self.spacing
        self.busy.add(chat_id)
        return request

    def finish(self, request: Request, now: float) -> None:
        request.end = now
        self.busy.discard(request.chat_id)
        self.chat_free[request.chat_id] = now + self.per_chat_interval
        if request.chat_id.startswith("-"):
            self.groups.setdefault(request.chat_id, deque(maxlen=self.group_per_minute)).append(now)
        if len(self.chat_free) > self._prune_at:
            self._prune(now)

    def pause(self, until: float) -> None:
        self.paused_until = max(self.paused_until, until)

    def _prune(self, now: float) -> None:
        self.chat_free = {chat: at for chat, at in self.chat_free.items() if at > now}
        self.groups = {chat: sent for chat, sent in self.groups.items() if sent[-1] + 60.0 > now}
        self._prune_at = max(1024, 2 * len(self.chat_free))
