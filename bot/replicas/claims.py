"""A person's updates handled by one process at a time. The inbox's worker (bot/inbox.py) claims
a person (the lease "person:<channel>:<id>") before it handles their first update, keeps the
claim while it has more of theirs queued (renewed every third of the lease) and lets it go when
it has none. Another process that finds the person claimed leaves their updates pending, and
those after them too, and reads them again at its next drain: so each person's updates are
handled in the inbox's order, whichever process recorded them. A process that dies keeps its
claims only until their leases expire; then another takes them over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.replicas import REPLICA
from storage.db import Database
from storage.replicas import leases

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=30)


class PersonClaims:
    def __init__(
        self,
        db: Database,
        channel: str,
        clock: Callable[[], datetime],
        *,
        holder: str = REPLICA,
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        self.channel = channel
        self.clock = clock
        self.holder = holder
        self.lease = lease
        self.mine: set[str] = set()

    def _name(self, person: str) -> str:
        return leases.person_lease(self.channel, person)

    async def hold(self, person: str) -> bool:
        """Claim `person` (or keep the claim this process has): False while another holds it."""
        if person in self.mine:
            return True
        async with self.db.session() as session:
            taken = await leases.take(
                session,
                name=self._name(person),
                holder=self.holder,
                now=self.clock(),
                lease=self.lease,
            )
        if taken:
            self.mine.add(person)
        return taken

    async def let_go(self, person: str) -> None:
        """Nothing of theirs is queued here any more: another process may take them at once.
        A release that fails is logged; the lease then ends by itself."""
        if person not in self.mine:
            return
        self.mine.discard(person)
        try:
            async with self.db.session() as session:
                await leases.release(session, names=[self._name(person)], holder=self.holder)
        except Exception:
            log.exception("could not let go of a %s person; their claim expires", self.channel)

    async def renew(self) -> None:
        """Extend every claim held; one lost meanwhile (this process stalled past its lease and
        another took the person) is dropped, so it is claimed again before the next update."""
        names = {self._name(person): person for person in self.mine}
        if not names:
            return
        async with self.db.session() as session:
            kept = await leases.renew(
                session, names=list(names), holder=self.holder, now=self.clock(), lease=self.lease
            )
        for name, person in names.items():
            if name not in kept:
                log.warning("a %s person's claim expired and was taken over", self.channel)
                self.mine.discard(person)

    async def keep(self, stop: asyncio.Event, sleep: Callable[[float], Awaitable[Any]]) -> None:
        """Renew the claims every third of the lease until `stop` is set."""
        while not stop.is_set():
            try:
                await self.renew()
            except Exception:
                log.exception("could not renew the %s claims", self.channel)
            pause = asyncio.ensure_future(sleep(self.lease.total_seconds() / 3))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([pause, stopping], return_when=asyncio.FIRST_COMPLETED)
            for task in (pause, stopping):
                task.cancel()
            await asyncio.gather(pause, stopping, return_exceptions=True)
