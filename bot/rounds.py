"""One claimed batch of the outbox sender (bot/sender.py) on its way out: the messages left to
start, in queue order, and which of them have their start noted already."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from bot.pacing import Pacer
from storage.outbox import Claimed


@dataclass
class Round:
    queue: list[Claimed]
    order: dict[int, int] = field(init=False)
    requests: int = 0  # out to the transport now
    settled: int = 0
    marked: set[int] = field(default_factory=set)  # start noted (committed), not yet started

    def __post_init__(self) -> None:
        self.order = {m.id: i for i, m in enumerate(self.queue)}

    def put_back(self, message: Claimed) -> None:
        bisect.insort(self.queue, message, key=lambda m: self.order[m.id])

    def take_member(self, member_id: int) -> list[Claimed]:
        taken = [m for m in self.queue if m.member_id == member_id]
        self.queue = [m for m in self.queue if m.member_id != member_id]
        return taken

    def upcoming(self, first: Claimed, pacer: Pacer, now: float, horizon: float) -> list[Claimed]:
        """`first` (its chat free now) and the messages after it, not noted yet, that the pacer
        will likely start within `horizon` of `now` (`Pacer.upcoming`)."""
        rest = [m for m in self.queue[self.queue.index(first) :] if m.id not in self.marked]
        return [rest[i] for i in pacer.upcoming([m.chat_id for m in rest], now, horizon)]

    def noted(self, messages: list[Claimed], ours: set[int]) -> None:
        """Their starts were noted, those of `ours` only: the others are no longer this
        sender's (the claim expired and was taken back), so they leave the round unsent."""
        self.marked |= ours
        if lost := {m.id for m in messages} - ours:
            self.queue = [m for m in self.queue if m.id not in lost]
