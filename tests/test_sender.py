"""The outbox sender on fake time: a scripted transport records (time, chat, text) and raises
what a test scripts; the sender's `sleep` moves the test clock (`FakeTime`), so nothing waits
for real and every time asserted is the clock's."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import weakref
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from telegram import Bot
from telegram.error import TimedOut

from bot.pacing import CATCH_UP
from bot.sender import (
    Rejected,
    RetryLater,
    Sender,
    Transient,
    Unreachable,
)
from bot.telegram.delivery import telegram_transport
from storage import outbox
from storage.models import Identity, Member, OutboxMessage
from storage.replicas import outbox_claims
from tests.botapi import RecordingRequest
from tests.conftest import TOKEN

CHANNEL = "telegram"
LEASE = timedelta(seconds=60)
EPS = 1e-9  # float seconds: 1.4 - 0.4 < 1.0


class FakeTime:
    """Sleep on the test clock: sleepers wake in the order of their deadlines, each once what
    can run without time passing has run."""

    def __init__(self, clock) -> None:  # type: ignore[no-untyped-def]
        self.clock = clock
        self.sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self.order = itertools.count()
        self.jumper: asyncio.Task[None] | None = None

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        until = self.clock.now + timedelta(seconds=seconds)
        heapq.heappush(self.sleepers, (until, next(self.order), future))
        if self.jumper is None or self.jumper.done():
            self.jumper = asyncio.create_task(self._jump())
        await future

    async def _jump(self) -> None:
        while self.sleepers:
            for _ in range(10):
                await asyncio.sleep(0)
            while self.sleepers and self.sleepers[0][2].done():  # cancelled
                heapq.heappop(self.sleepers)
            if self.sleepers:
                until, _, future = heapq.heappop(self.sleepers)
                self.clock.now = max(self.clock.now, until)
                future.set_result(None)


_fake_times: weakref.WeakKeyDictionary[Any, FakeTime] = weakref.WeakKeyDictionary()


def fake_time(clock) -> FakeTime:  # type: ignore[no-untyped-def]
    return _fake_times.setdefault(clock, FakeTime(clock))


class Script:
    """A Bot API on fake time. `plan[chat]` lists what the next calls to that chat do (None:
    accepted, an exception: raised); `latency` is how many loop turns an answer takes and
    `slow[chat]` how many (fake) seconds. A message counts as delivered when the call is made,
    as a server would have it; `spans` keeps (start, end) of every call."""

    def __init__(self, clock, plan: dict[str, list[Exception | None]] | None = None) -> None:  # type: ignore[no-untyped-def]
        self.clock = clock
        self.start = clock.now
        self.plan = plan or {}
        self.latency = 0
        self.slow: dict[str, float] = {}
        self.calls: list[tuple[float, str, str]] = []
        self.spans: list[tuple[float, float]] = []
        self.delivered: list[str] = []
        self.on_delivery: Any = None

    async def __call__(self, chat_id: str, payload: dict[str, Any]) -> None:
        started = self.seconds()
        self.calls.append((started, chat_id, payload["text"]))
        try:
            outcome = self.plan[chat_id].pop(0) if self.plan.get(chat_id) else None
            if outcome is not None:
                raise outcome
            self.delivered.append(payload["text"])
            if self.on_delivery is not None:
                self.on_delivery(len(self.delivered))
            for _ in range(self.latency):
                await asyncio.sleep(0)
            if chat_id in self.slow:
                await fake_time(self.clock).sleep(self.slow[chat_id])
        finally:
            self.spans.append((started, self.seconds()))

    def seconds(self) -> float:
        return (self.clock.now - self.start).total_seconds()

    def times(self, chat_id: str | None = None) -> list[float]:
        return [t for t, chat, _ in self.calls if chat_id is None or chat == chat_id]


def sender(db, transport, clock, **options) -> Sender:  # type: ignore[no-untyped-def]
    options = {"rate": 30.0, "concurrency": 4, "batch": 20, "lease": LEASE, **options}
    return Sender(
        db, transport, channel=CHANNEL, clock=clock, sleep=fake_time(clock).sleep, **options
    )


async def person(db, clock, chat_id: str, *, channel: str = CHANNEL) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        member = Member(full_name=f"Người {chat_id}", created_at=clock.now)
        session.add(member)
        await session.flush()
        session.add(
            Identity(
                member_id=member.id,
                channel=channel,
                external_id=f"{channel}-{chat_id}-{member.id}",
                chat_id=chat_id,
                created_at=clock.now,
            )
        )
        return member.id


async def queue(db, clock, member_id: int, text: str, *, priority: int = 5) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        message = OutboxMessage(
            key=f"test:{text}",
            member_id=member_id,
            payload={"text": text, "choices": []},
            status=outbox.PENDING,
            priority=priority,
            attempts=0,
            not_before=clock.now,
            created_at=clock.now,
        )
        session.add(message)
        await session.flush()
        return message.id


async def rows(db) -> dict[str, OutboxMessage]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return {m.payload["text"]: m for m in await session.scalars(select(OutboxMessage))}


async def unsettled(db) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_((outbox.PENDING, outbox.SENDING)))
        )


async def drain(the_sender: Sender, db, rounds: int = 300) -> None:  # type: ignore[no-untyped-def]
    """Run rounds until nothing is left to send, idling a fake second when nothing is due."""
    for _ in range(rounds):
        if await the_sender.run_once() == 0:
            if not await unsettled(db):
                return
            await the_sender.sleep(1.0)
    raise AssertionError("the outbox never drained")


async def crowd(db, clock, n: int, prefix: str = "m") -> list[str]:  # type: ignore[no-untyped-def]
    """n people with one message each; returns the texts, chat ids are 1000 + i."""
    texts = []
    for i in range(n):
        member = await person(db, clock, str(1000 + i))
        texts.append(f"{prefix}{i}")
        await queue(db, clock, member, texts[-1])
    return texts


# --- storage ------------------------------------------------------------------------------------


async def test_claim_takes_due_messages_of_reachable_people_in_queue_order(db, clock):
    ann = await person(db, clock, "1")
    bob = await person(db, clock, "2")
    gone = await person(db, clock, "3")
    elsewhere = await person(db, clock, "t4", channel="terminal")
    low = await queue(db, clock, ann, "low", priority=9)
    high = await queue(db, clock, bob, "high", priority=1)
    await queue(db, clock, gone, "blocked")
    await queue(db, clock, elsewhere, "terminal only")
    clock.advance(seconds=1)
    later = await queue(db, clock, ann, "later", priority=1)
    async with db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.member_id == gone))
        identity.unreachable_at = clock.now
        (await session.get(OutboxMessage, later)).not_before = clock.now + timedelta(minutes=5)

    async with db.session() as session:
        claimed = await outbox.claim(session, channel=CHANNEL, now=clock.now, limit=10)
    assert [(c.id, c.chat_id, c.attempts) for c in claimed] == [(high, "2", 1), (low, "1", 1)]
    state = await rows(db)
    assert state["high"].status == outbox.SENDING and state["high"].claimed_at == clock.now
    assert {state[t].status for t in ("later", "blocked", "terminal only")} == {outbox.PENDING}
    async with db.session() as session:
        assert await outbox.claim(session, channel=CHANNEL, now=clock.now, limit=10) == []


async def test_two_claims_never_take_the_same_message(db, clock):
    await crowd(db, clock, 50)

    async def take() -> list[int]:
        async with db.session() as session:
            claimed = await outbox.claim(session, channel=CHANNEL, now=clock.now, limit=30)
            await asyncio.sleep(0)
            return [c.id for c in claimed]

    first, second = await asyncio.gather(take(), take())
    assert not set(first) & set(second)
    assert len(first) + len(second) == 50


async def test_recover_sorts_an_expired_claim_by_whether_its_request_began(db, clock):
    """A claim older than the lease: never started, back to the queue as it was; started (in
    doubt), a reply-like message is sent again while it has attempts, another is not."""
    texts = await crowd(db, clock, 5)
    cases = {  # text: (priority, started, attempts)
        "m0": (5, False, 1),
        "m1": (5, True, 1),
        "m2": (3, True, 1),
        "m3": (3, True, 5),
        "m4": (5, True, 1),
    }
    async with db.session() as session:
        claimed = await outbox.claim(session, channel=CHANNEL, now=clock.now, limit=5)
    for message in claimed:
        priority, started, attempts = cases[message.payload["text"]]
        async with db.session() as session:
            if started:
                assert await outbox_claims.start(session, message=message, now=clock.now)
            row = await session.get(OutboxMessage, message.id)
            row.priority, row.attempts = priority, attempts
    clock.advance(minutes=2)
    async with db.session() as session:
        fresh = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == "test:m4"))
        fresh.claimed_at = clock.now - timedelta(seconds=10)  # its sender is alive
    async with db.session() as session:
        assert await outbox_claims.recover(session, now=clock.now, lease=LEASE, max_attempts=5) == 2
    state = await rows(db)
    assert [(state[t].status, state[t].attempts) for t in texts] == [
        ("pending", 0),
        ("failed", 1),
        ("pending", 1),
        ("failed", 5),
        ("sending", 1),
    ]
    assert state["m1"].last_error == outbox_claims.IN_DOUBT
    assert state["m0"].claimed_at is None and state["m2"].started_at is None
    # A sender whose claim expired and was taken back may not start the message any more.
    (m0,) = [m for m in claimed if m.payload["text"] == "m0"]
    async with db.session() as session:
        assert not await outbox_claims.start(session, message=m0, now=clock.now)


# --- sending ------------------------------------------------------------------------------------


async def test_sends_in_priority_order_and_settles_each(db, clock):
    for i in range(3):
        await queue(db, clock, await person(db, clock, str(10 + i)), f"reminder {i}", priority=9)
    for i in range(3):
        await queue(db, clock, await person(db, clock, str(20 + i)), f"notice {i}", priority=1)
    script = Script(clock)
    await drain(sender(db, script, clock, concurrency=1), db)
    assert script.delivered == [
        *(f"notice {i}" for i in range(3)),
        *(f"reminder {i}" for i in range(3)),
    ]
    state = await rows(db)
    assert {(m.status, m.attempts, m.sent_at is not None) for m in state.values()} == {
        ("sent", 1, True)
    }


@pytest.mark.parametrize("retry_after", [2, 30])
async def test_flood_control_pauses_everything_then_resends(db, clock, retry_after):
    texts = await crowd(db, clock, 10)
    script = Script(clock, {"1003": [RetryLater(retry_after)]})
    await drain(sender(db, script, clock, concurrency=1), db)

    flood = next(t for t, chat, _ in script.calls if chat == "1003")
    after = [t for t, _, _ in script.calls if t > flood]
    assert after and min(after) >= flood + retry_after
    assert [text for _, chat, text in script.calls if chat == "1003"] == ["m3", "m3"]
    assert sorted(script.delivered) == sorted(texts)
    state = await rows(db)
    assert state["m3"].status == outbox.SENT and state["m3"].attempts == 1  # the 429 not counted


async def test_blocked_person_is_unreachable_and_never_retried(db, clock):
    blocked = await person(db, clock, "66")
    await queue(db, clock, blocked, "first")
    await queue(db, clock, blocked, "second")
    others = await crowd(db, clock, 3)
    script = Script(clock, {"66": [Unreachable("Forbidden: bot was blocked by the user")]})
    await drain(sender(db, script, clock), db)
    await queue(db, clock, blocked, "third")
    assert await sender(db, script, clock).run_once() == 0

    assert [text for _, chat, text in script.calls if chat == "66"] == ["first"]
    assert sorted(script.delivered) == others
    state = await rows(db)
    assert state["first"].status == state["second"].status == outbox.UNREACHABLE
    # Queued after they blocked the bot: settled at once, not kept to arrive if they come back.
    assert state["third"].status == outbox.UNREACHABLE
    async with db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.member_id == blocked))
    assert identity.unreachable_at is not None


async def test_rejected_message_fails_without_retry(db, clock):
    texts = await crowd(db, clock, 3)
    script = Script(clock, {"1001": [Rejected("Bad Request: can't parse entities")]})
    await drain(sender(db, script, clock), db)
    assert len(script.times("1001")) == 1
    state = await rows(db)
    assert state["m1"].status == outbox.FAILED and "can't parse" in state["m1"].last_error
    assert sorted(script.delivered) == [texts[0], texts[2]]


async def test_transient_errors_back_off_and_fail_after_the_last_attempt(db, clock):
    await crowd(db, clock, 2)
    script = Script(
        clock,
        {
            "1000": [Transient("Bad Gateway")] * 9,
            "1001": [Transient("Timed out"), Transient("Bad Gateway")],
        },
    )
    await drain(sender(db, script, clock, max_attempts=5, backoff=2.0), db)

    tries = script.times("1000")
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert len(tries) == 5
    for n, gap in enumerate(gaps):  # 2, 4, 8, 16 s, give or take an idle second
        assert 2.0 * 2**n <= gap <= 2.0 * 2**n + 1.5
    state = await rows(db)
    assert (state["m0"].status, state["m0"].attempts) == (outbox.FAILED, 5)
    assert "Bad Gateway" in state["m0"].last_error
    assert (state["m1"].status, state["m1"].attempts) == (outbox.SENT, 3)


async def test_pacing_per_chat_per_group_and_overall(db, clock):
    group = await person(db, clock, "-100777")
    for i in range(30):
        await queue(db, clock, group, f"group {i}")
    for chat in ("501", "502", "503"):
        member = await person(db, clock, chat)
        for i in range(4):
            await queue(db, clock, member, f"{chat}/{i}")
    await crowd(db, clock, 20)
    script = Script(clock)
    await drain(sender(db, script, clock, rate=5.0, concurrency=3, batch=25), db)

    assert len(script.delivered) == 30 + 12 + 20
    times = sorted(script.times())
    # 1/rate apart, less what a late start may make up for; never 6 within a second
    assert all(b - a >= 0.2 - CATCH_UP - EPS for a, b in itertools.pairwise(times))
    assert all(times[i + 5] - times[i] >= 1.0 - EPS for i in range(len(times) - 5))
    for chat in ("501", "502", "503", "-100777"):
        own = script.times(chat)
        assert all(b - a >= 1.0 - EPS for a, b in itertools.pairwise(own))
    own = script.times("-100777")
    assert all(own[i + 20] - own[i] >= 60.0 - EPS for i in range(len(own) - 20))
    assert [text for _, chat, text in script.calls if chat == "501"] == [
        f"501/{i}" for i in range(4)
    ]


async def test_the_overall_rate_is_reached(db, clock):
    await crowd(db, clock, 50)
    script = Script(clock)
    await drain(sender(db, script, clock, rate=10.0, concurrency=4, batch=20), db)
    times = script.times()
    assert len(times) == 50
    assert times[-1] - times[0] <= 5.0  # 10 a second, not less


async def test_slow_answers_cannot_squeeze_more_than_the_rate_into_a_second(db, clock):
    await crowd(db, clock, 40)
    script = Script(clock)
    script.slow = {str(1000 + i): 0.35 for i in range(0, 40, 3)}
    await drain(sender(db, script, clock, rate=10.0, concurrency=4), db)
    spans = sorted(script.spans)
    assert len(spans) == 40
    # Wherever in (start, end) the server saw each request, no second holds 11 of them.
    assert all(spans[k + 10][0] >= spans[k][1] + 1.0 - EPS for k in range(len(spans) - 10))


# --- noting starts ahead ------------------------------------------------------------------------


@pytest.mark.parametrize("start_ahead", [0.0, 0.05])
async def test_starts_are_noted_a_few_in_one_commit_each_before_its_request(
    db, clock, start_ahead, monkeypatch
):
    """The transport looks in the database (another connection: only what is committed) when
    each request comes: its start is noted already. At 300 a second, one statement in its own
    commit notes the starts of the next 0.05 s of messages (15); with no horizon, one each."""
    texts = await crowd(db, clock, 45)
    script = Script(clock)
    noted: dict[str, datetime | None] = {}
    statements: list[int] = []  # how many messages each one noted
    real = outbox_claims.start_many

    async def counted(session, *, messages, now):  # type: ignore[no-untyped-def]
        statements.append(len(messages))
        return await real(session, messages=messages, now=now)

    monkeypatch.setattr(outbox_claims, "start_many", counted)

    async def checking(chat_id: str, payload: dict[str, Any]) -> None:
        async with db.read() as session:
            status, started_at = (
                await session.execute(
                    select(OutboxMessage.status, OutboxMessage.started_at).where(
                        OutboxMessage.key == f"test:{payload['text']}"
                    )
                )
            ).one()
        assert status == outbox.SENDING
        noted[payload["text"]] = started_at
        await script(chat_id, payload)

    options = {"rate": 300.0, "concurrency": 4, "batch": 45, "start_ahead": start_ahead}
    await drain(sender(db, checking, clock, **options), db)

    assert sorted(script.delivered) == sorted(texts)
    assert None not in noted.values()
    assert statements == ([15, 15, 15] if start_ahead else [1] * 45)
    times = sorted(script.times())  # still paced: 1/300 s apart, less what catching up allows
    assert all(b - a >= 1 / 300 - CATCH_UP - EPS for a, b in itertools.pairwise(times))
    assert all(times[i + 300] - times[i] >= 1.0 - EPS for i in range(len(times) - 300))


async def test_a_failed_note_of_starts_sends_nothing_and_gives_nothing_up(db, clock, monkeypatch):
    """The commit noting the next starts fails: none of those messages goes out; once the claim
    expires they are queued again (never started), and sent once each."""
    texts = await crowd(db, clock, 10)
    script = Script(clock)
    real = outbox_claims.start_many

    async def failing(session, **kwargs):  # type: ignore[no-untyped-def]
        await real(session, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(outbox_claims, "start_many", failing)
    with pytest.raises(ExceptionGroup):
        await sender(db, script, clock, rate=300.0).run_once()
    assert script.calls == []
    state = await rows(db)
    assert {(m.status, m.started_at) for m in state.values()} == {(outbox.SENDING, None)}

    monkeypatch.setattr(outbox_claims, "start_many", real)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    await drain(sender(db, script, clock, rate=300.0), db)
    assert Counter(script.delivered) == Counter(texts)


# --- stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kill_after", [1, 9, 27])
@pytest.mark.parametrize("priority", [3, 5])
async def test_a_killed_sender_doubles_or_drops_only_what_was_in_doubt(
    db, clock, kill_after, priority
):
    """The process dies (SIGKILL) while sending: every message whose request had not begun is
    sent once afterwards. Those whose request had begun and whose outcome was not recorded (in
    flight, or accepted and not yet settled) are in doubt: reply-like ones (priority 3) are sent
    again, possibly a second time; the others (a reminder: 5) are never sent again."""
    texts = await crowd(db, clock, 40)
    async with db.session() as session:
        await session.execute(update(OutboxMessage).values(priority=priority))
    script = Script(clock)
    script.latency = 3
    stop = asyncio.Event()
    first = sender(db, script, clock, rate=50.0, concurrency=4, batch=10)
    runner = asyncio.create_task(first.run(stop))
    script.on_delivery = lambda n: runner.cancel() if n == kill_after else None
    with pytest.raises(asyncio.CancelledError):
        await runner

    state = await rows(db)
    in_doubt = {t for t in texts if state[t].started_at and state[t].status != outbox.SENT}
    assert set(script.delivered) - {t for t in texts if state[t].status == outbox.SENT} <= in_doubt
    assert in_doubt & set(script.delivered)  # the kill really came between a send and its settling
    script.on_delivery = None
    clock.advance(seconds=LEASE.total_seconds() + 1)
    await drain(sender(db, script, clock, rate=50.0), db)

    counts = Counter(script.delivered)
    state = await rows(db)
    assert all(counts[t] == 1 for t in texts if t not in in_doubt)  # never started: once
    assert {state[t].status for t in texts if t not in in_doubt} == {outbox.SENT}
    if priority <= outbox.REPLY_LIKE:
        assert all(1 <= counts[t] <= 2 for t in in_doubt)
        assert {state[t].status for t in in_doubt} == {outbox.SENT}
    else:
        assert all(counts[t] <= 1 for t in in_doubt)  # never twice; one begun, not sent, is lost
        assert {(state[t].status, state[t].last_error) for t in in_doubt} == {
            (outbox.FAILED, outbox_claims.IN_DOUBT)
        }


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_graceful_stop_finishes_in_flight_without_duplicates(db, clock, concurrency):
    texts = await crowd(db, clock, 30)
    script = Script(clock)
    script.latency = 3
    stop = asyncio.Event()
    script.on_delivery = lambda n: stop.set() if n == 12 else None
    await sender(db, script, clock, rate=50.0, concurrency=concurrency, batch=10).run(stop)

    state = await rows(db)
    assert outbox.SENDING not in {m.status for m in state.values()}
    assert {state[t].status for t in script.delivered} == {outbox.SENT}
    untouched = [state[t] for t in texts if t not in script.delivered]
    assert untouched and {(m.status, m.attempts) for m in untouched} == {(outbox.PENDING, 0)}

    script.on_delivery = None
    await drain(sender(db, script, clock), db)
    assert Counter(script.delivered) == Counter(texts)


async def test_two_senders_share_the_queue_without_duplicates(db, clock):
    texts = await crowd(db, clock, 60)
    script = Script(clock)
    script.latency = 2
    # Both are alive: a lease longer than the whole run, since an idle sender's fake sleeps move
    # the shared clock while the other waits (in real time) for SQLite's write lock, and an
    # expired lease would rightly hand its claims over.
    alive = timedelta(hours=1)
    # Each start is a write: one sender may idle through many (fake) seconds while the other,
    # holding the rest of the queue, waits for SQLite in real time; within the hour either way.
    await asyncio.gather(
        drain(sender(db, script, clock, batch=7, lease=alive), db, rounds=3000),
        drain(sender(db, script, clock, batch=7, lease=alive), db, rounds=3000),
    )
    assert Counter(script.delivered) == Counter(texts)


# --- python-telegram-bot ------------------------------------------------------------------------


class FailingRequest(RecordingRequest):
    def __init__(self) -> None:
        super().__init__()
        self.timeout = False

    async def do_request(self, url: str, method: str, request_data=None, **kwargs):  # type: ignore[no-untyped-def, override]
        if self.timeout and url.endswith("/sendMessage"):
            raise TimedOut("Timed out")
        return await super().do_request(url, method, request_data, **kwargs)


@pytest.fixture
async def bot_api():  # type: ignore[no-untyped-def]
    request = FailingRequest()
    async with Bot(TOKEN, request=request) as bot:
        yield request, telegram_transport(bot)


async def test_telegram_transport_splits_long_texts_and_puts_buttons_last(bot_api):
    request, send = bot_api
    text = "\n".join(f"dòng {i}: " + "x" * 90 for i in range(60))
    choices = [[{"label": "Báo cáo", "data": "r:1"}, {"label": "Để sau", "data": "r:0"}]]
    await send("42", {"text": text, "choices": choices})
    calls = request.sent(42)
    assert len(calls) == 2 and "\n".join(c.params["text"] for c in calls) == text
    assert "reply_markup" not in calls[0].params or calls[0].params["reply_markup"] is None
    markup = calls[1].params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert [b["callback_data"] for b in markup["inline_keyboard"][0]] == ["r:1", "r:0"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
@pytest.mark.parametrize("timedelta_mode", ["false", "true"])
async def test_telegram_transport_translates_flood_control(bot_api, monkeypatch, timedelta_mode):
    monkeypatch.setenv("PTB_TIMEDELTA", timedelta_mode)
    request, send = bot_api
    request.fail_next["sendMessage"] = (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    with pytest.raises(RetryLater) as raised:
        await send("42", {"text": "nhắc", "choices": []})
    assert raised.value.seconds == 7.0


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        (403, "Forbidden: bot was blocked by the user", Unreachable),
        (400, "Bad Request: chat not found", Rejected),
        (502, "Bad Gateway", Transient),
        (500, "Internal Server Error", Transient),
    ],
)
async def test_telegram_transport_translates_errors(bot_api, status, description, expected):
    request, send = bot_api
    request.fail_next["sendMessage"] = (
        status,
        {"ok": False, "error_code": status, "description": description},
    )
    with pytest.raises(expected):
        await send("42", {"text": "nhắc", "choices": []})


async def test_telegram_transport_treats_timeouts_as_transient(bot_api):
    request, send = bot_api
    request.timeout = True
    with pytest.raises(Transient):
        await send("42", {"text": "nhắc", "choices": []})
