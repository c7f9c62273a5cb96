"""The worker of the durable inbox (storage/inbox.py), the same for every channel: it handles a
channel's recorded updates oldest first, each person's one at a time in the order they were
recorded and different people's side by side (bot/updates/order.py), and marks each handled.
The channel gives two callables: `handle` (one recorded payload; it runs `within` in the core's
unit of work where the update reaches the core, and raises when the update failed and may be
tried again) and `gave_up` (tell the person their update was given up), and how it answers again
(`Answering`): `within` keeps the update's answer with its mark ("replying"), the worker marks
it handled once the answer went out, and a row a crash left "replying" has its answer sent again,
in the person's turn, before their next update.
See docs/channels.md, "The inbox", and docs/concurrency.md."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import replies
from bot.replicas.claims import PersonClaims
from bot.updates.flood import FloodRule, Verdict
from bot.updates.order import PersonOrder
from handlers.core.router import Core, Within
from handlers.core.types import Outbound, Result
from storage import inbox

log = logging.getLogger(__name__)
T = TypeVar("T")
# Tries of one update (a crash of the process during one counts too) before it is given up.
MAX_ATTEMPTS = 3
CLEANUP_EVERY = timedelta(hours=1)
RETRY_READ_SECONDS = 5.0
WINDOW = 1000
# With other processes on the database (PostgreSQL), what they record wakes nothing here: the
# inbox is read again this often, and when another process let go of a person it had claimed.
POLL_SECONDS = 1.0

Payload = dict[str, Any]
Handle = Callable[[Payload, Within], Awaitable[None]]
GaveUp = Callable[[Payload], Awaitable[None]]
TooFast = Callable[[Payload, Within], Awaitable[None]]


def counted(payload: Payload) -> bool:
    return True


def no_album(payload: Payload) -> str | None:
    return None


async def not_told(payload: Payload, within: Within) -> None:
    return None


@dataclass(frozen=True)
class Answering:
    """How a channel answers a recorded update again (its answer kept in the inbox, bot/replies.py):
    the chat an update is answered in (None: not kept), and the delivery of messages there."""

    chat_of: Callable[[Payload], str | None]
    send: Callable[[str, list[Outbound]], Awaitable[None]]


class GivenUp(Exception):
    """Raised by a channel's `handle`: the update failed, the person has been told already, and
    it is not to be tried again (it is marked failed, unless its unit of work committed)."""


@dataclass
class Inbox:
    """A channel's inbox in one process: recording an update wakes its worker."""

    core: Core
    channel: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, *, message_id: str, person: str, payload: Payload) -> bool:
        """Record one update; False for a redelivery (nothing changes). Raises when the
        database cannot take it: the caller makes the channel deliver it again."""
        async with self.core.db.session() as session:
            recorded = await inbox.record(
                session,
                channel=self.channel,
                message_id=message_id[:128],
                person=person[:64],
                payload=payload,
                now=self.core.clock(),
            )
        if recorded:
            self.wake.set()
        return recorded


@dataclass
class InboxWorker:
    core: Core
    channel: str
    handle: Handle
    gave_up: GaveUp
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    last_cleanup: datetime | None = None
    # Who runs the updates: one person's in the inbox's order, different people's side by side.
    order: PersonOrder = field(default_factory=PersonOrder)
    # How many recorded updates are queued in memory at most (the rest wait in the table).
    window: int = WINDOW
    # The flood rule (bot/updates/flood.py): which updates count, which album one belongs to,
    # and how the person is told (the core's `too_fast`, delivered by the channel).
    flood: FloodRule = field(default_factory=FloodRule)
    counts: Callable[[Payload], bool] = counted
    album_of: Callable[[Payload], str | None] = no_album
    too_fast: TooFast = not_told
    # With other processes on the database: a person is handled by one of them at a time
    # (bot/replicas/claims.py). None on SQLite, served by one process.
    claims: PersonClaims | None = None
    # How answers are kept and sent again after a crash; None: not kept.
    answering: Answering | None = None

    async def run(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Handle what is pending (what a restart left too), then each time something is
        recorded (or, with other processes, every POLL_SECONDS), until `stop` is set. The
        updates being handled are finished first."""
        keeping = None
        if self.claims is not None:
            keeping = asyncio.create_task(self.claims.keep(stop, self.sleep))
        try:
            await self._run(wake, stop)
        finally:
            if keeping is not None:
                await keeping

    async def _run(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                await self.drain(stop, wake)
                await self.cleanup()
            except Exception:
                # The database itself failed: nothing is lost, the rows wait for the next try.
                log.exception(
                    "the %s inbox could not be read; again in %g s",
                    self.channel,
                    RETRY_READ_SECONDS,
                )
                await first(self.sleep(RETRY_READ_SECONDS), stop.wait())
                continue
            if self.claims is None:
                await first(wake.wait(), stop.wait())
            else:
                await first(wake.wait(), stop.wait(), self.sleep(POLL_SECONDS))

    async def drain(
        self, stop: asyncio.Event | None = None, wake: asyncio.Event | None = None
    ) -> int:
        """Handle the pending updates until none is left (or `stop` is set): each is queued
        behind its person's earlier ones, and what is recorded meanwhile (`wake`) is queued as it
        comes. Returns how many were handled (a flood's ignored ones too: they are marked
        handled). When the database fails under one, that person's later updates wait (left
        pending, in order) and the failure is raised once the others queued have run."""
        running: set[asyncio.Future[Any]] = set()
        held: set[str] = set()
        queued: dict[str, int] = {}  # by person: their updates queued here (for their claim)
        handled, after, failure = 0, 0, None
        try:
            while True:
                if failure is None and (stop is None or not stop.is_set()):
                    if wake is not None:
                        wake.clear()
                    room = self.window - len(running)
                    if room > 0:
                        async with self.core.db.read() as session:
                            rows = await inbox.pending(
                                session, channel=self.channel, after=after, limit=room
                            )
                        for row_id, person in rows:
                            key = person or f"#{row_id}"
                            queued[key] = queued.get(key, 0) + 1
                            job = functools.partial(self._one, row_id, key, stop, held, queued)
                            running.add(self.order.submit(key, job))
                            after = row_id
                if not running:
                    break
                waits: list[asyncio.Future[Any]] = list(running)
                waking = None
                if wake is not None and failure is None:
                    waking = asyncio.ensure_future(wake.wait())
                    waits.append(waking)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if waking is not None and not waking.done():
                    waking.cancel()
                for finished in done & running:
                    running.discard(finished)
                    if finished.cancelled():
                        continue
                    if finished.exception() is not None:
                        failure = failure or finished.exception()
                    elif finished.result():
                        handled += 1
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            raise failure
        return handled

    async def _one(
        self,
        row_id: int,
        person: str,
        stop: asyncio.Event | None,
        held: set[str],
        queued: dict[str, int],
    ) -> bool:
        """One recorded update, tried again at once while it fails (up to MAX_ATTEMPTS), so
        the person's next update never overtakes it. True when it was handled."""
        try:
            return await self._claimed(row_id, person, stop, held)
        finally:
            queued[person] -= 1
            if not queued[person]:
                del queued[person]
                if self.claims is not None:
                    await self.claims.let_go(person)

    async def _claimed(
        self, row_id: int, person: str, stop: asyncio.Event | None, held: set[str]
    ) -> bool:
        if person in held or (stop is not None and stop.is_set()):
            return False  # left pending: handled at the next drain, still in order
        try:
            if self.claims is not None and not await self.claims.hold(person):
                # Another process handles this person now: theirs after it wait here too.
                held.add(person)
                return False
            # Reads take no write lock (SQLite): the webhook recording beside it never waits.
            async with self.core.db.read() as session:
                row = await session.get(inbox.InboxUpdate, row_id)
                if row is None or row.status not in inbox.OPEN:
                    return False
                if self.claims is not None and await inbox.earlier_pending(
                    session, channel=self.channel, person=row.person, before=row_id
                ):
                    # An earlier one of theirs committed after this drain read past it (PostgreSQL):
                    # left for the next drain, which reads from the start, in order.
                    held.add(person)
                    return False
                payload, received_at = row.payload, row.received_at
                status, reply = row.status, row.reply
            if status == inbox.REPLYING:
                # Handled, and the process died before its answer went out: the answer now.
                await self._answer_again(row_id, reply)
                return True
            if self.counts(payload):
                verdict = self.flood.judge(person, received_at, self.album_of(payload))
                if verdict is not Verdict.HANDLE:
                    await self._ignore(row_id, payload, told=verdict is Verdict.NOTICE)
                    return True
            while True:
                async with self.core.db.session() as session:
                    attempts = await inbox.begin_attempt(session, update_id=row_id)
                if attempts > MAX_ATTEMPTS:
                    # Begun that often without an outcome: it stopped the process each time.
                    await self._give_up(row_id, payload, "stopped the process during every attempt")
                    return False
                if not await self._handle(row_id, payload, attempts):
                    return True
        except Exception:
            held.add(person)
            raise

    def _within(self, row_id: int, payload: Payload, attempts: int, kept: list[bool]) -> Within:
        """The mark of the row, in the handler's own unit of work: its writes and "handled"
        commit together; with an answer, "replying" and the answer kept until it went out."""
        chat = self.answering.chat_of(payload) if self.answering is not None else None

        async def within(session: AsyncSession, result: Result) -> None:
            reply = None if chat is None else replies.kept(result, chat=chat, attempt=attempts)
            await inbox.mark_handled(session, update_id=row_id, now=self.core.clock(), reply=reply)
            kept.append(reply is not None)

        return within

    async def _handle(self, row_id: int, payload: Payload, attempts: int) -> bool:
        """True when the update failed and is to be tried again."""
        kept: list[bool] = []
        try:
            await self.handle(payload, self._within(row_id, payload, attempts, kept))
        except GivenUp as error:
            async with self.core.db.session() as session:
                status = await inbox.status_of(session, update_id=row_id)
                if status == inbox.PENDING:
                    await inbox.mark_failed(
                        session,
                        update_id=row_id,
                        error=str(error),
                        now=self.core.clock(),
                        final=True,
                    )
                elif status == inbox.REPLYING:
                    # Its answer failed on the way; the person was told of the error instead.
                    await inbox.replied(session, update_id=row_id, now=self.core.clock())
            return False
        except Exception as error:
            log.exception("error while handling a %s update (attempt %d)", self.channel, attempts)
            if kept:
                async with self.core.db.read() as session:
                    status = await inbox.status_of(session, update_id=row_id)
                if status != inbox.PENDING:
                    # Its unit of work committed: never handled again, the answer not repeated.
                    await self._replied(row_id)
                    return False
            if attempts >= MAX_ATTEMPTS:
                await self._give_up(row_id, payload, f"{type(error).__name__}: {error}")
            else:
                async with self.core.db.session() as session:
                    await inbox.mark_failed(
                        session,
                        update_id=row_id,
                        error=f"{type(error).__name__}: {error}",
                        now=self.core.clock(),
                        final=False,
                    )
                return True
            return False
        if kept and kept[-1]:
            # The answer went out: nothing is left to send again.
            await self._replied(row_id)
        else:
            # An update that never reached the core (a sticker, a group) has no unit of work:
            # settled here, after its answer.
            await self._settle(row_id)
        return False

    async def _answer_again(self, row_id: int, reply: dict[str, Any] | None) -> None:
        """The kept answer of a row a crash left "replying", sent before the person's next
        update. Each try is counted: one that stopped the process MAX_ATTEMPTS times, or fails,
        is given up (logged) and the row marked handled."""
        async with self.core.db.session() as session:
            attempts = await inbox.begin_attempt(session, update_id=row_id)
        tries = attempts - int((reply or {}).get("attempt", attempts))
        if reply is None or self.answering is None or tries > MAX_ATTEMPTS:
            log.warning("the answer to %s update row %d is given up", self.channel, row_id)
        else:
            try:
                await self.answering.send(str(reply["chat"]), replies.messages(reply))
                log.info("the answer to %s update row %d was sent again", self.channel, row_id)
            except Exception:
                log.exception("could not send again the answer to %s row %d", self.channel, row_id)
        await self._replied(row_id)

    async def _replied(self, row_id: int) -> None:
        async with self.core.db.session() as session:
            await inbox.replied(session, update_id=row_id, now=self.core.clock())

    async def _ignore(self, row_id: int, payload: Payload, *, told: bool) -> None:
        """A flood's update: never handed to the handler, marked handled (nothing to replay).
        The first of a flood tells the person, in the core's unit of work with the mark."""
        if told:
            kept: list[bool] = []
            try:
                await self.too_fast(payload, self._within(row_id, payload, 0, kept))
            except Exception:
                log.exception("could not tell a %s person they send too fast", self.channel)
            log.info("a %s flood: ignored until they slow down (row %d)", self.channel, row_id)
            await (self._replied(row_id) if kept and kept[-1] else self._settle(row_id))
            return
        async with self.core.db.session() as session:
            await inbox.mark_handled(session, update_id=row_id, now=self.core.clock())

    async def _settle(self, row_id: int) -> None:
        """Mark it handled unless its unit of work did (looked at first without a write lock)."""
        async with self.core.db.read() as session:
            if await inbox.status_of(session, update_id=row_id) != inbox.PENDING:
                return
        async with self.core.db.session() as session:
            if await inbox.status_of(session, update_id=row_id) == inbox.PENDING:
                await inbox.mark_handled(session, update_id=row_id, now=self.core.clock())

    async def _give_up(self, row_id: int, payload: Payload, error: str) -> None:
        async with self.core.db.session() as session:
            await inbox.mark_failed(
                session, update_id=row_id, error=error, now=self.core.clock(), final=True
            )
        await self.gave_up(payload)

    async def cleanup(self) -> None:
        now = self.core.clock()
        if self.last_cleanup is not None and now - self.last_cleanup < CLEANUP_EVERY:
            return
        async with self.core.db.session() as session:
            removed = await inbox.forget_handled(session, now=now)
        self.last_cleanup = now
        if removed:
            log.info("removed %d %s updates handled more than a week ago", removed, self.channel)


# A poller that keeps failing waits 1 s, then twice as long each time, at most a minute.
MAX_BACKOFF = 60.0


def backoff(failures: int) -> float:
    """How long to wait after `failures` failures in a row (1, 2, 4 … 60 seconds)."""
    return min(2.0 ** (failures - 1), MAX_BACKOFF)


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None when `stop` is set first: the work (a long poll) is then
    cancelled at once. What it raises is raised."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in (task, stopping):
            if not waiting.done():
                waiting.cancel()
        await asyncio.gather(task, stopping, return_exceptions=True)
    return None if task.cancelled() else task.result()


async def first(*waits: Awaitable[Any]) -> None:
    """Wait until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
