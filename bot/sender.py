"""The paced, reliable sender of everything the bot sends on its own (the outbox).

A round claims a batch of due messages in queue order (priority, then due time), sends them with
at most `concurrency` requests in flight and settles each one as soon as its request returns.
Settling is a group commit: the answers that arrive while one write runs (or within
`settle_delay` while other requests are out) go in the next write, one transaction for many.

Delivery guarantee. Nothing is lost: a claimed message is either settled or, when its sender
dies, handed back to pending once its claim is older than `lease` (`outbox.recover`). Nothing is
sent twice, with one exception: a hard crash (kill -9, power loss) between the Bot API accepting
a message and the commit that records it. That window is one database write plus at most
`settle_delay` (20 ms) after the answer, and holds the few messages answered in that time;
each of them may be sent once more after the lease (only while it has attempts left).
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
  the queue, due when the chat is free, instead of holding the batch.

`lease` must exceed half of itself plus the longest request the transport can make (its
timeouts): a batch hands back whatever it has not started `lease / 2` after claiming it.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import logging
import math
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from storage import outbox
from storage.db import Database
from storage.outbox import Claimed

log = logging.getLogger(__name__)

Transport = Callable[[str, dict[str, Any]], Awaitable[None]]
Op = Callable[[Any], Awaitable[Any]]  # one settling statement, run in the group's session
MAX_BACKOFF = 3600.0
CATCH_UP = 0.05  # seconds a late start may be made up for by the next ones


class RetryLater(Exception):
    """Flood control (429): nothing may be sent for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = seconds


class Unreachable(Exception):
    """The person blocked the bot or deleted the account (403)."""


class Rejected(Exception):
    """Telegram refused this message (400); sending it again would not help."""


class Transient(Exception):
    """A timeout, a network error or a server error: worth trying again later."""


@dataclass(eq=False)
class _Request:
    chat_id: str
    start: float
    end: float | None = None


class Pacer:
    """When the next request may start, from the requests already made. Times in seconds."""

    def __init__(self, rate: float, per_chat_interval: float, group_per_minute: int) -> None:
        self.spacing = 1.0 / rate
        self.recent: deque[_Request] = deque(maxlen=max(1, int(rate)))
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

    def start(self, chat_id: str, now: float) -> _Request:
        request = _Request(chat_id, now)
        self.recent.append(request)
        # Starts keep to a schedule 1/rate apart. One that went a little late (the loop was busy)
        # leaves the schedule where it was, so the next ones catch up; a longer gap restarts it.
        slot = self.next_slot if now - self.next_slot <= CATCH_UP else now
        self.next_slot = slot + self.spacing
        self.busy.add(chat_id)
        return request

    def finish(self, request: _Request, now: float) -> None:
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


@dataclass
class _Round:
    """One claimed batch on its way out."""

    queue: list[Claimed]
    order: dict[int, int]
    requests: int = 0  # out to the transport now
    settled: int = 0

    def put_back(self, message: Claimed) -> None:
        bisect.insort(self.queue, message, key=lambda m: self.order[m.id])

    def take_member(self, member_id: int) -> list[Claimed]:
        taken = [m for m in self.queue if m.member_id == member_id]
        self.queue = [m for m in self.queue if m.member_id != member_id]
        return taken


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
    ) -> None:
        self.db = db
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
        self._origin = clock()
        self._stop: asyncio.Event | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._requests = 0
        self._writes: list[tuple[Op | int, asyncio.Future[Any]]] = []
        self._write_lock = asyncio.Lock()

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
            recovered = await outbox.recover(
                session, now=now, lease=self.lease, max_attempts=self.max_attempts
            )
            # Queued for someone who had blocked the bot already: settled, not kept for later.
            await outbox.settle_unreachable(session)
            batch = await outbox.claim(session, channel=self.channel, now=now, limit=self.batch)
        if recovered:
            log.warning("%d messages a stopped sender had claimed are queued again", recovered)
        if not batch:
            return 0
        return await self._deliver(batch, self._now())

    async def _deliver(self, batch: list[Claimed], claimed: float) -> int:
        work = _Round(list(batch), {m.id: i for i, m in enumerate(batch)})
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
                work.queue.remove(message)
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

    async def _choose(self, work: _Round, now: float) -> tuple[Claimed | None, float | None]:
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

    # --- one message ----------------------------------------------------------------------------

    async def _send(self, message: Claimed, request: _Request, work: _Round) -> None:
        error: Exception | None = None
        try:
            await self.transport(message.chat_id, message.payload)
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
                await self._write(message.id)
                work.settled += 1
            case RetryLater(seconds=seconds):
                log.warning("flood control: pausing all sending for %g s", seconds)
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

    async def _write(self, op: Op | int) -> Any:
        """Record one outcome (a message id means sent). Whoever finds the writer free writes
        everything queued so far, so a burst of answers costs one transaction."""
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
                    await outbox.sent(
                        session,
                        ids=[op for op, _ in writes if isinstance(op, int)],
                        now=self.clock(),
                    )
                    results = [
                        None if isinstance(op, int) else await op(session) for op, _ in writes
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


def telegram_transport(bot: Any) -> Transport:
    """Send with a python-telegram-bot `Bot` and translate its errors. Use a plain Bot (no
    AIORateLimiter): the Sender paces itself."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

    from bot.telegram_channel import chunks

    async def send(chat_id: str, payload: dict[str, Any]) -> None:
        choices = payload.get("choices") or []
        markup = (
            InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(c["label"], callback_data=c["data"]) for c in row]
                    for row in choices
                ]
            )
            if choices
            else None
        )
        parts = chunks(payload["text"])
        try:
            if payload.get("photo"):  # a digest's chart, base64 PNG, before its text
                await bot.send_photo(chat_id=chat_id, photo=base64.b64decode(payload["photo"]))
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                await bot.send_message(
                    chat_id=chat_id, text=part, reply_markup=markup if last else None
                )
        except RetryAfter as error:
            with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
                warnings.simplefilter("ignore")
                wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RetryLater(seconds) from error
        except Forbidden as error:
            raise Unreachable(str(error)) from error
        except (BadRequest, ChatMigrated) as error:  # BadRequest before NetworkError, its base
            raise Rejected(str(error)) from error
        except TelegramError as error:  # TimedOut, NetworkError (5xx included) and the rest
            raise Transient(f"{type(error).__name__}: {error}") from error

    return send
