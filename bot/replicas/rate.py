"""A channel's send rate for every process together: each message the outbox sender starts takes
a send slot in the database first (storage/replicas/leases.py: slot floor(t × rate) of the
Unix time t, one message each), so however many processes send, at most `rate` messages start
in any second (one more across a second's boundary). A process whose slot another took waits
for the next. Each process's own pacing (bot/pacing.py) stays as it is: per chat, per group and
the 429 pause are kept per process; the slots add the limit the processes share."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.replicas import leases

# Slots older than this many seconds are removed, about once a minute.
KEEP_SECONDS = 10
FORGET_EVERY_SECONDS = 60


class SharedRate:
    def __init__(
        self, db: Database, channel: str, rate: float, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.channel = channel
        self.rate = rate
        self.clock = clock
        self._forgotten = -math.inf

    async def take(self) -> float:
        """Take the slot of now: 0.0 when taken, else the seconds until the next slot."""
        async with self.db.session() as session:
            return await self.take_in(session)

    async def take_in(self, session: AsyncSession) -> float:
        """`take` in the caller's unit of work (the sender notes the message's start with it)."""
        now = self.clock().timestamp()
        slot = math.floor(now * self.rate)
        taken = await leases.take_slot(session, channel=self.channel, slot=slot)
        if taken and now - self._forgotten >= FORGET_EVERY_SECONDS:
            self._forgotten = now
            before = math.floor((now - KEEP_SECONDS) * self.rate)
            await leases.forget_slots(session, channel=self.channel, before=before)
        if taken:
            return 0.0
        return max((slot + 1) / self.rate - now, 1e-6)
