"""The flood rule: a person who sends more than 20 messages within 10 seconds is told once
(«Bạn gửi quá nhanh…», at most once a minute) and what they send is ignored until they slow
down; the photos of one album count as one message. Everyone else is untouched. Counted on the
core's clock, at the time each update was recorded, per person, in this process's memory: a
restart starts counting afresh, and two replicas count apart. See docs/concurrency.md."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

LIMIT = 20
WINDOW = timedelta(seconds=10)
NOTICE_EVERY = timedelta(minutes=1)
# A person's albums remembered (an album's photos come together, a few at a time at most).
ALBUMS = 8
# How often (in judgements) the people who went quiet are forgotten.
PRUNE_EVERY = 1000


class Verdict(Enum):
    HANDLE = "handle"
    NOTICE = "notice"  # ignored, and the person is told
    IGNORE = "ignore"


@dataclass
class _Sender:
    # The times of the latest LIMIT + 1 messages: 21 of them within WINDOW is a flood.
    times: deque[datetime]
    last: datetime
    noticed: datetime | None = None
    # Album id -> whether it was ignored: its other photos share the verdict of its first.
    albums: OrderedDict[str, bool] = field(default_factory=OrderedDict)


class FloodRule:
    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: timedelta = WINDOW,
        notice_every: timedelta = NOTICE_EVERY,
    ) -> None:
        self.limit = limit
        self.window = window
        self.notice_every = notice_every
        self._senders: dict[str, _Sender] = {}
        self._judged = 0

    @property
    def people(self) -> int:
        """How many people are remembered (those who sent something in the last minute)."""
        return len(self._senders)

    def judge(self, person: str, at: datetime, album: str | None = None) -> Verdict:
        """The verdict on one message of `person`, sent at `at`; the messages of one person are
        judged in the order they came."""
        self._judged += 1
        if self._judged % PRUNE_EVERY == 0:
            self.prune(at)
        sender = self._senders.get(person)
        if sender is None:
            sender = self._senders[person] = _Sender(deque(maxlen=self.limit + 1), at)
        sender.last = max(sender.last, at)
        if album is not None and album in sender.albums:
            return Verdict.IGNORE if sender.albums[album] else Verdict.HANDLE
        sender.times.append(at)
        flooded = len(sender.times) > self.limit and at - sender.times[0] < self.window
        if album is not None:
            sender.albums[album] = flooded
            while len(sender.albums) > ALBUMS:
                sender.albums.popitem(last=False)
        if not flooded:
            return Verdict.HANDLE
        if sender.noticed is None or at - sender.noticed >= self.notice_every:
            sender.noticed = at
            return Verdict.NOTICE
        return Verdict.IGNORE

    def prune(self, now: datetime) -> None:
        """Forget who has sent nothing for longer than the window and the notice's pause."""
        quiet = now - max(self.window, self.notice_every)
        for person in [p for p, sender in self._senders.items() if sender.last < quiet]:
            del self._senders[person]
