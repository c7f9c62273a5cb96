"""One scheduler at a time: the process holding the lease "scheduler" runs the sweeps
(reminders, nudges, digests, retention, broadcast progress); the others tick too and take the
lease over once it has expired, so a leader that dies is replaced within LEASE + TICK_SECONDS
(40 s). A leader that stops gracefully lets go at once. Each sweep's messages have unique keys
besides, so the moment two leaders might overlap (a leader stalled past its lease) queues
nothing twice. On SQLite, served by one process, that process always leads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.replicas import REPLICA, shared
from storage.db import Database
from storage.replicas import leases

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=30)
TICK_SECONDS = 10


class Leader:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        holder: str = REPLICA,
        lease: timedelta = LEASE,
        alone: bool | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.lease = lease
        # Alone on the database (SQLite): always the leader, nothing stored.
        self.alone = not shared(db) if alone is None else alone
        self.until: datetime | None = None

    def leading(self) -> bool:
        """Whether the sweeps are this process's to run now (no query: the last tick says)."""
        return self.alone or (self.until is not None and self.clock() < self.until)

    async def tick(self) -> bool:
        """Take or renew the lease (every TICK_SECONDS); True while this process leads. When the
        database cannot be reached, the lease held still counts until it expires."""
        if self.alone:
            return True
        now, was = self.clock(), self.leading()
        try:
            async with self.db.session() as session:
                taken = await leases.take(
                    session, name=leases.SCHEDULER, holder=self.holder, now=now, lease=self.lease
                )
        except Exception:
            log.exception("could not renew the scheduler's lease")
            return self.leading()
        self.until = now + self.lease if taken else None
        if taken and not was:
            log.info("this process runs the scheduled sweeps now")
        elif was and not taken:
            log.warning("another process runs the scheduled sweeps now")
        return taken

    async def resign(self) -> None:
        """On a graceful stop: another process takes the sweeps over at its next tick."""
        if self.alone or self.until is None:
            return
        self.until = None
        try:
            async with self.db.session() as session:
                await leases.release(session, names=[leases.SCHEDULER], holder=self.holder)
        except Exception:
            log.exception("could not let go of the scheduler's lease; it expires by itself")
