"""The paced, reliable sender of everything the bot sends on its own (the outbox).

A round claims a batch of due messages in queue order (priority, then due time), sends them with
at most `concurrency` requests in flight and settles each one as soon as its request returns.
Settling is a group commit: the answers that arrive while one write runs (or within
`settle_delay` while other requests are out) go in the next write, one transaction for many.

Delivery guarantee. A claimed message is either settled or, when its sender dies, settled by
the next round anywhere once its claim is older than `lease` (`outbox_claims.recover`). No request
goes out before a committed note of its start, so a dead sender's claim tells the messages never
noted (back to the queue: nothing lost, nothing doubled) from the few in doubt: those noted and
whose outcome was not yet recorded. The notes go ahead, several in one commit (`_mark`): those
the pacer will likely start within `start_ahead` (20 ms: 6 at 300 a second, one at 15), each
then started at its paced moment; so the doubt spans those noted and not started (usually
`start_ahead`, longer when the requests in flight are at `concurrency` or a flood pause holds
them back), the request in flight, its answer, at most `settle_delay` (20 ms) and the write
recording it. With a shared rate, each start's note goes with its send slot, one message per
transaction. A message in doubt may have reached the person or not, and the platform offers no
idempotency key to find out: reply-like messages in doubt are sent again (possibly twice), the
others (reminders, nudges, digests, broadcasts) are settled failed (possibly never received).
A graceful stop (the `stop` event, set on SIGTERM) claims nothing new, hands back what it has not
started, lets the requests in flight finish and settles them: no duplicate. Timeouts are
retried, as Telegram has no idempotency key: a request that timed out after Telegram accepted it
is sent again. A message that takes several requests (a photo, a text longer than one message)
repeats its earlier parts when a later one fails and is retried.

Pacing, on the injected clock, per Sender (run one per bot token):
- overall: starts keep to a schedule 1/rate apart (a start up to CATCH_UP late, because the loop
  was busy, is made up by the next ones), and no request starts until one second after the
  request `rate` places before it returned, so whatever the jitter on the way, the server never
  sees more than `rate` in one second;
- per chat: one message per `per_chat_interval`, counted from the previous one's answer;
- groups (negative chat ids): at most `group_per_minute` in any 60 seconds;
- a 429 pauses all sending for the time Telegram asks; the message is tried again without
  counting an attempt. A chat blocked for longer than `hold` seconds hands its messages back to
  the queue, due when the chat is free, instead of holding the batch;
- a monthly quota (a free plan's), counted in the database for the channel (bot/quota.py): a
  round claims no more than what is left of it this month, and once only the reply reserve is
  left, only reply-like messages; a message past its expiry is settled as expired, not sent.
The rates and the quota are the channel's (`Sender.for_channel`, bot/channels.py); the transport
is the channel's delivery (bot/delivery.py), which raises RetryLater, Unreachable, Rejected or
Transient: the sender knows no platform's API.

`lease` must exceed half of itself plus the longest request the transport can make (its
timeouts): a batch hands back whatever it has not started `lease / 2` after claiming it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.channels import Channel
from bot.delivery import Rejected, RetryLater, Transient, Transport, Unreachable
from bot.pacing import Pacer, Request
from bot.quota import QuotaKeeper
from bot.replicas import shared
from bot.replicas.rate import SharedRate
from bot.rounds import Round
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed
from storage.replicas import outbox_claims

log = logging.getLogger(__name__)

Op = Callable[[Any], Awaitable[Any]]  # one settling statement, run in the group's session
MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class _Sent:
    """A message the platform accepted, in as many of its messages (a long text, a picture)."""

    id: int
    count: int


class Sender:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        channel: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rate: float = 20.0,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
        max_attempts: int = 5,
        concurrency: int = 4,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=60),
        hold: float = 5.0,
        backoff: float = 2.0,
        idle: float = 1.0,
        settle_delay: float = 0.02,
        start_ahead: float = 0.02,
        monthly_quota: int | None = None,
        quota: QuotaKeeper | None = None,
        on_rate_limited: Callable[[], None] = lambda: None,
        shared_rate: SharedRate | None = None,
    ) -> None:
        self.db = db
        # Told of each 429 (bot/ops/metrics.py counts them).
        self.on_rate_limited = on_rate_limited
        self.transport = transport
        self.channel = channel
        self.clock = clock
        self.sleep = sleep
        self.pacer = Pacer(rate, per_chat_interval, group_per_minute)
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.batch = batch
        self.lease = lease
        self.hold = hold
        self.backoff = backoff
        self.idle = idle
        self.settle_delay = settle_delay
        self.start_ahead = start_ahead
        self._origin = clock()
        self._stop: asyncio.Event | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._requests = 0
        self._writes: list[tuple[Op | _Sent, asyncio.Future[Any]]] = []
        self._write_lock = asyncio.Lock()
        # Counted in the database (replies too, by the channel's runner), shared by replicas.
        if quota is None and monthly_quota is not None:
            quota = QuotaKeeper(db, channel, monthly=monthly_quota, clock=clock)
        self.quota = quota
        # With other processes on the database: `rate` holds for all of them (bot/replicas).
        self.shared_rate = shared_rate

    @classmethod
    def for_channel(
        cls, db: Database, channel: Channel, transport: Transport, **options: Any
    ) -> Sender:
        """A sender keeping to the rates and the quota the channel declares."""
        rates = channel.rates
        if rates is None:
            raise ValueError(f"nothing is sent on {channel.name} on its own")
        if "quota" not in options and (rates.counted or rates.monthly_quota is not None):
            options["quota"] = QuotaKeeper.for_channel(db, channel, clock=options.get("clock"))
        if "shared_rate" not in options and shared(db):
            clock = options.get("clock") or (lambda: datetime.now(UTC))
            options["shared_rate"] = SharedRate(db, channel.name, rates.per_second, clock)
        return cls(
            db,
            transport,
            channel=channel.name,
            rate=rates.per_second,
            per_chat_interval=rates.per_chat_interval,
            group_per_minute=rates.group_per_minute,
            monthly_quota=rates.monthly_quota,
            **options,
        )

    # --- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then finish and settle what is in flight, and return."""
        self._stop = stop
        watch = asyncio.ensure_future(stop.wait())
        watch.add_done_callback(lambda _: self._wake())
        try:
            while not stop.is_set():
                try:
                    settled = await self.run_once()
                except Exception:
                    log.exception("outbox round failed")
                    settled = 0
                if settled == 0 and not stop.is_set():
                    await self._wait(self._now() + self.idle)
        finally:
            watch.cancel()

    async def run_once(self) -> int:
        """Recover, claim a batch, send it and settle it. Returns how many were settled."""
        while (pause := self.pacer.paused_until - self._now()) > 0 and not self._stopping():
            await self._wait(self._now() + pause)
        if self._stopping():
            return 0
        now = self.clock()
        async with self.db.session() as session:
            recovered = await outbox_claims.recover(
                session, now=now, lease=self.lease, max_attempts=self.max_attempts
            )
            # Queued for someone who had blocked the bot already: settled, not kept for later.
            await outbox.settle_unreachable(session)
            # A reminder held back past its day is dropped, not sent late.
            if expired := await outbox.expire(session, now=now):
                log.info("%d messages expired before they could be sent", expired)
            limit, max_priority = self.batch, None
            if self.quota is not None:
                limit, max_priority = await self.quota.allowance(session, now=now, batch=self.batch)
            batch = []
            if limit > 0:
                batch = await outbox.claim(
                    session, channel=self.channel, now=now, limit=limit, max_priority=max_priority
                )
        if recovered:
            log.warning("%d messages a stopped sender had claimed are queued again", recovered)
        if not batch:
            return 0
        return await self._deliver(batch, self._now())

    async def _deliver(self, batch: list[Claimed], claimed: float) -> int:
        work = Round(list(batch))
        deadline = claimed + self.lease.total_seconds() / 2
        async with asyncio.TaskGroup() as tasks:
            while work.queue or work.requests:
                now = self._now()
                if not work.queue or work.requests >= self.concurrency:
                    await self._wait(None)
                    continue
                if self._stopping() or now >= deadline:
                    break
                if self.pacer.paused_until - now > self.hold:
                    break  # a long flood pause: hand the rest back
                start = self.pacer.overall_ready_at()
                if start is None or start > now:
                    await self._wait(start)
                    continue
                message, later = await self._choose(work, now)
                if message is None:
                    if later is None and not work.requests:
                        break  # everything left was handed back
                    await self._wait(later)
                    continue
                if self.shared_rate is None and message.id not in work.marked:
                    await self._mark(work, message, now)
                    continue  # the commit took time: choose again, on the clock of now
                wait, ours = await self._start(message)
                if wait:
                    await self._wait(now + wait)  # another process took this moment's place
                    continue
                work.queue.remove(message)
                if not ours:
                    continue  # its claim expired meanwhile and was taken back: not ours to send
                request = self.pacer.start(message.chat_id, now)
                work.requests += 1
                self._requests += 1
                tasks.create_task(self._send(message, request, work))
                await asyncio.sleep(0)  # let it make its request now, when the pacer says it did
        if work.queue:  # stopped, out of time or paused: untried, so not an attempt
            until = self._at(max(self._now(), self.pacer.paused_until))
            await self._write_many(
                [self._op_retry(m, until, None, count=False) for m in work.queue]
            )
        return work.settled

    async def _choose(self, work: Round, now: float) -> tuple[Claimed | None, float | None]:
        """The first queued message whose chat is free, else when the next one will be."""
        later: float | None = None
        deferred: list[tuple[Claimed, float]] = []
        for message in work.queue:
            at = self.pacer.chat_ready_at(message.chat_id)
            if at is None:
                continue
            if at <= now:
                return message, None
            if at - now > self.hold:
                deferred.append((message, at))
            elif later is None or at < later:
                later = at
        if deferred:
            for message, _ in deferred:
                work.queue.remove(message)
            await self._write_many(
                [self._op_retry(m, self._at(at), None, count=False) for m, at in deferred]
            )
        return None, later

    async def _mark(self, work: Round, first: Claimed, now: float) -> None:
        """Note in one commit the start of `first` and of the next messages the pacer will likely
        start within `start_ahead` (`Pacer.upcoming`), so that after a crash each is known to be
        in doubt rather than never sent (`outbox_claims.recover`). Each starts later, when the
        pacer says; one no longer this sender's leaves the round unsent."""
        picked = work.upcoming(first, self.pacer, now, self.start_ahead)
        async with self.db.session() as session:
            ours = await outbox_claims.start_many(session, messages=picked, now=self.clock())
        work.noted(picked, ours)

    async def _start(self, message: Claimed) -> tuple[float, bool]:
        """Without a shared rate: noted already (`_mark`). With one, the message's send slot and
        its start are taken and noted in one transaction before its request goes out. Returns the
        wait for a slot another process took (nothing noted then), and whether the claim is
        still this sender's."""
        if self.shared_rate is None:
            return 0.0, True
        async with self.db.session() as session:
            if wait := await self.shared_rate.take_in(session):
                return wait, False
            return 0.0, await outbox_claims.start(session, message=message, now=self.clock())

    # --- one message ----------------------------------------------------------------------------

    async def _send(self, message: Claimed, request: Request, work: Round) -> None:
        error: Exception | None = None
        accepted: Any = None
        try:
            accepted = await self.transport(message.chat_id, message.payload)
        except Exception as exc:
            error = exc
        finally:
            self.pacer.finish(request, self._now())
            work.requests -= 1
            self._requests -= 1
            self._wake()
        # Settling below does not hold a request slot: the next request may go meanwhile.
        now = self._now()
        match error:
            case None:
                # A transport may say how many platform messages it took (bot/zalo/delivery.py).
                await self._write(_Sent(message.id, accepted if isinstance(accepted, int) else 1))
                work.settled += 1
            case RetryLater(seconds=seconds):
                log.warning("flood control: pausing all sending for %g s", seconds)
                self.on_rate_limited()
                self.pacer.pause(now + seconds)
                work.put_back(message)
            case Unreachable():
                log.info("chat %s is unreachable: %s", message.chat_id, error)
                others = work.take_member(message.member_id)
                everywhere = await self._write(self._op_unreachable(message, str(error)))
                if everywhere:
                    work.settled += 1 + len(others)
                else:
                    at = self._at(now)
                    await self._write_many(
                        [self._op_retry(m, at, None, count=False) for m in [message, *others]]
                    )
            case Rejected():
                log.info("message %d rejected: %s", message.id, error)
                await self._write(self._op_failed(message, f"rejected: {error}"))
                work.settled += 1
            case _:
                if not isinstance(error, Transient):
                    log.error("unexpected error sending message %d", message.id, exc_info=error)
                reason = f"{type(error).__name__}: {error}"
                if message.attempts >= self.max_attempts:
                    await self._write(self._op_failed(message, reason))
                else:
                    delay = min(self.backoff * 2 ** (message.attempts - 1), MAX_BACKOFF)
                    await self._write(self._op_retry(message, self._at(now + delay), reason))
                work.settled += 1

    # --- settling: one transaction for whatever finished meanwhile --------------------------------

    def _op_failed(self, message: Claimed, error: str) -> Op:
        return lambda s: outbox.failed(s, message_id=message.id, error=error)

    def _op_retry(
        self, message: Claimed, at: datetime, error: str | None, *, count: bool = True
    ) -> Op:
        return lambda s: outbox.retry_later(
            s, message_id=message.id, not_before=at, error=error, count_attempt=count
        )

    def _op_unreachable(self, message: Claimed, error: str) -> Op:
        return lambda s: outbox.unreachable(
            s, member_id=message.member_id, channel=self.channel, now=self.clock(), error=error
        )

    async def _write(self, op: Op | _Sent) -> Any:
        """Record one outcome. Whoever finds the writer free writes everything queued so far,
        so a burst of answers costs one transaction."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._writes.append((op, done))
        async with self._write_lock:
            if not done.done():
                if self.settle_delay > 0 and self._requests:  # let answers on their way join
                    await self.sleep(self.settle_delay)
                writes, self._writes = self._writes, []
                await self._commit(writes)
        return done.result()

    async def _write_many(self, ops: list[Op]) -> None:
        await asyncio.gather(*(self._write(op) for op in ops))

    async def _commit(self, writes: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        for attempt in range(4):
            try:
                async with self.db.session() as session:
                    now = self.clock()
                    sent = [op for op, _ in writes if isinstance(op, _Sent)]
                    await outbox.sent(session, ids=[op.id for op in sent], now=now)
                    if self.quota is not None:  # counted with them, in one transaction
                        await self.quota.counted(session, sum(op.count for op in sent), now=now)
                    results = [
                        None if isinstance(op, _Sent) else await op(session) for op, _ in writes
                    ]
            except SQLAlchemyError as error:
                if attempt == 3:
                    for _, done in writes:
                        done.set_exception(error)
                    return
                log.warning("could not record sent messages, trying again: %s", error)
                await self.sleep(0.5 * 2**attempt)
            except BaseException:
                for _, done in writes:
                    done.cancel()
                raise
            else:
                for (_, done), result in zip(writes, results, strict=True):
                    done.set_result(result)
                return

    # --- time -----------------------------------------------------------------------------------

    def _now(self) -> float:
        """Seconds since the sender was made: small floats keep pacing arithmetic exact."""
        return (self.clock() - self._origin).total_seconds()

    def _at(self, seconds: float) -> datetime:
        return self._origin + timedelta(seconds=seconds)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _wait(self, until: float | None) -> None:
        """Until the clock reaches `until` (None: no limit), a request returns or stop is set;
        once stop is set, only until a request returns."""
        if self._stopping() and not self._requests:
            return
        self._wakeup = asyncio.get_running_loop().create_future()
        waits: list[asyncio.Future[Any]] = [self._wakeup]
        if until is not None and not self._stopping():
            # Whole microseconds, rounded up: a datetime clock moves in those.
            delay = math.ceil(max(0.0, until - self._now()) * 1e6) / 1e6
            waits.append(asyncio.ensure_future(self.sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
