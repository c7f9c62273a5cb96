"""Two replicas in one test process on one database, as two `dvk run` processes behind one
webhook URL would be: two real Applications (each with its own core, inbox and worker, claiming
people under a holder of its own), the same recording Bot API, the controllable clock. They show
that an update posted to both is handled once, that one person's updates keep the inbox's order
whichever replica handles them, that a dead replica's claim and scheduler lease are taken over
once they expire, and that the send rate holds for both together. The claims, the lease and the
slots are forced on here on SQLite too (there `dvk run` serves alone and uses none of them)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.http import make_app
from bot.inbox import InboxWorker, Payload, Within
from bot.replicas.claims import LEASE, PersonClaims
from bot.replicas.leader import Leader
from bot.replicas.rate import SharedRate
from bot.runtime import build_core
from bot.sender import Sender
from bot.telegram.app import build_application, post_init
from bot.telegram.inbox import TelegramInbox
from bot.telegram.schedule import sweep_job
from bot.telegram_run import webhook_route
from bot.updates.order import PersonOrder
from storage import outbox
from storage.db import Database
from storage.inbox import InboxUpdate
from storage.models import OutboxMessage
from storage.replicas import leases
from tests.botapi import RecordingRequest
from tests.test_registration import join
from tests.test_sender import Script, fake_time, person
from tests.test_telegram_inbox import PATH, T, text_update
from tests.test_webhook import HEADER, SECRET

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
ANNA, BINH = 555, 777


class NotingInbox(TelegramInbox):
    """The real inbox; the update ids reaching either Application, in the order they do."""

    handled: list[tuple[str, int]]
    name: str
    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def handle(self, payload: Payload, mark: Within) -> None:
        self.handled.append((self.name, payload["update_id"]))
        if self.meanwhile is not None:
            await self.meanwhile()
        await asyncio.sleep(0)  # let the other replica run meanwhile, as another process would
        await super().handle(payload, mark)


@dataclass
class Replica:
    name: str
    app: Application
    inbox: NotingInbox
    claims: PersonClaims

    def worker(self) -> InboxWorker:
        return self.inbox.worker(claims=self.claims)

    async def record(self, body: dict[str, Any]) -> bool:
        return await self.inbox.record(Update.de_json(body, self.app.bot), body)


@pytest.fixture
async def replicas(
    app: Application, settings: Settings, db: Database, clock: Any, api: RecordingRequest
) -> AsyncIterator[list[Replica]]:
    """Replica "a" is the test's usual Application; "b" a second one on the same database and
    the same Bot API (as two processes on one bot token)."""
    second = build_application(settings, build_core(settings, db, clock), request=api)
    await second.initialize()
    await post_init(second)
    handled: list[tuple[str, int]] = []
    made = []
    for name, application in (("a", app), ("b", second)):
        inbox = NotingInbox(application)
        inbox.handled, inbox.name = handled, name
        core = inbox.box.core
        made.append(
            Replica(name, application, inbox, PersonClaims(db, "telegram", core.clock, holder=name))
        )
    yield made
    await second.shutdown()


def handled_ids(replicas: list[Replica]) -> list[int]:
    return [update_id for _, update_id in replicas[0].inbox.handled]


async def inbox_rows(db: Database) -> list[InboxUpdate]:
    async with db.session() as session:
        return list((await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all())


async def drain_both(replicas: list[Replica]) -> None:
    """Both workers at once, again while something is left pending (a replica that found a
    person claimed reads their updates again at its next drain, as `run` does every second)."""
    for _ in range(20):
        await asyncio.gather(*(replica.worker().drain() for replica in replicas))
        if all(row.status != "pending" for row in await inbox_rows(replicas[0].claims.db)):
            return
    raise AssertionError("updates left pending")


# --- the inbox across replicas -------------------------------------------------------------------


async def test_an_update_posted_to_both_replicas_is_handled_once(
    replicas: list[Replica], db: Database, api: RecordingRequest
) -> None:
    statuses = []
    for replica in replicas:
        server = make_app([webhook_route(replica.inbox, path=PATH, secret=SECRET)])
        transport = httpx.ASGITransport(server)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            response = await client.post(
                PATH, json=text_update(41, ANNA, "/start"), headers={HEADER: SECRET}
            )
            statuses.append(response.status_code)
    assert statuses == [200, 200]  # both answer Telegram; one row is recorded
    (row,) = await inbox_rows(db)
    # Both workers read the row as pending; only the one that claims Anna handles it.
    await asyncio.gather(*(replica.worker().drain() for replica in replicas))
    assert handled_ids(replicas) == [41]
    assert len(api.sent(ANNA)) == 1  # one answer (the personal-data notice)
    (row,) = await inbox_rows(db)
    assert (row.status, row.attempts) == ("handled", 1)
    assert all(not replica.claims.mine for replica in replicas)  # let go once done


async def test_one_persons_updates_keep_the_inbox_order_across_replicas(
    replicas: list[Replica], db: Database, api: RecordingRequest
) -> None:
    # Anna's and Bình's updates, recorded alternately by the two replicas (Telegram's webhook
    # behind a proxy), each update once.
    bodies = []
    for n in range(12):
        who = ANNA if n % 3 else BINH
        bodies.append(text_update(100 + n, who, "/start" if n < 2 else f"Tin nhắn {n}"))
    for n, body in enumerate(bodies):
        assert await replicas[n % 2].record(body)
    await drain_both(replicas)
    ids = handled_ids(replicas)
    assert sorted(ids) == [100 + n for n in range(12)]  # each handled once
    for who in (ANNA, BINH):
        theirs = [b["update_id"] for b in bodies if b["message"]["from"]["id"] == who]
        assert [i for i in ids if i in theirs] == theirs
    assert all(row.status == "handled" and row.attempts == 1 for row in await inbox_rows(db))


async def test_an_earlier_update_seen_late_is_still_handled_first(
    replicas: list[Replica], db: Database, clock: Any
) -> None:
    """On PostgreSQL an inbox id is drawn at the insert and seen at the commit: a drain can read
    Anna's row 12 while her row 11 (recorded just before, on another replica) is not committed
    yet. It commits while Bình's update is handled here; row 12 then waits for it."""
    a = replicas[0]

    def row(row_id: int, who: int, update_id: int) -> InboxUpdate:
        body = text_update(update_id, who, "/start" if who == BINH else f"Tin {update_id}")
        return InboxUpdate(
            id=row_id,
            channel="telegram",
            message_id=str(update_id),
            person=str(who),
            payload=body,
            status="pending",
            attempts=0,
            received_at=clock.now,
        )

    async with db.session() as session:
        session.add_all([row(10, BINH, 20), row(12, ANNA, 22)])

    async def commit_late() -> None:
        a.inbox.meanwhile = None
        async with db.session() as session:
            session.add(row(11, ANNA, 21))

    a.inbox.meanwhile = commit_late
    worker = a.worker()
    worker.order = PersonOrder(1)  # Bình's first, then Anna's: the row appears in between
    await worker.drain()
    await worker.drain()
    assert handled_ids(replicas) == [20, 21, 22]


async def test_a_dead_replicas_claim_is_taken_over_once_it_expires(
    replicas: list[Replica], db: Database, clock: Any, api: RecordingRequest
) -> None:
    a, b = replicas
    # Replica a claimed Anna and died (SIGKILL) before handling her update: nothing let go.
    assert await a.claims.hold(str(ANNA))
    assert await b.record(text_update(7, ANNA, "/start"))
    assert await b.worker().drain() == 0
    (row,) = await inbox_rows(db)
    assert row.status == "pending" and api.sent(ANNA) == []
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await b.worker().drain() == 0  # still a's
    clock.advance(seconds=1)
    assert await b.worker().drain() == 1  # expired: b takes Anna over
    assert len(api.sent(ANNA)) == 1
    # Had a only stalled, its renewal finds the claim lost and it claims again before handling.
    await a.claims.renew()
    assert str(ANNA) not in a.claims.mine


async def test_a_replica_that_renews_keeps_its_claim(
    replicas: list[Replica], db: Database, clock: Any
) -> None:
    a, b = replicas
    assert await a.claims.hold(str(ANNA))
    for _ in range(6):  # three leases long, renewed every third of one
        clock.advance(seconds=LEASE.total_seconds() / 3)
        await a.claims.renew()
        assert not await b.claims.hold(str(ANNA))
    await a.claims.let_go(str(ANNA))
    assert await b.claims.hold(str(ANNA))  # let go: taken at once


# --- one scheduler -------------------------------------------------------------------------------


async def nudges(db: Database) -> list[str]:
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    return [key for key in keys if key.startswith("nudge:")]


async def test_one_scheduler_and_a_failover_within_a_minute(
    replicas: list[Replica], db: Database, clock: Any, chat: Any
) -> None:
    from bot.demo import seed

    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=HANOI).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    member = await join(chat)
    await member.send("/dangky")
    await member.click("Cá nhân")
    await member.send("Mô hình còn dang dở")  # left there: a nudge is due a day later
    clock.advance(hours=25)
    a, b = replicas
    for replica in replicas:
        replica.app.bot_data["leader"] = Leader(db, clock, holder=replica.name, alone=False)
    leader_a, leader_b = a.app.bot_data["leader"], b.app.bot_data["leader"]
    assert await leader_a.tick() and not await leader_b.tick()
    # b's sweep job runs on its own timer, and does nothing: a runs the sweeps.
    await sweep_job(SimpleNamespace(application=b.app))  # type: ignore[arg-type]
    assert await nudges(db) == []
    # a dies (SIGKILL) before its sweep: no resignation, its lease runs out.
    died = clock.now
    while not await leader_b.tick():
        clock.advance(seconds=10)  # b's tick, every TICK_SECONDS
        assert clock.now - died <= timedelta(minutes=1)
    assert clock.now - died <= timedelta(seconds=40)
    assert not leader_a.leading()  # a, had it only stalled, no longer sweeps
    await sweep_job(SimpleNamespace(application=b.app))  # type: ignore[arg-type]
    assert len(await nudges(db)) == 1
    # A graceful stop hands the sweeps over at the other's next tick.
    assert not await leader_a.tick()
    await leader_b.resign()
    assert await leader_a.tick()


# --- the send rate for the group -----------------------------------------------------------------


async def test_the_send_rate_holds_for_both_replicas_together(db: Database, clock: Any) -> None:
    rate = 2.0
    script = Script(clock)
    chats = [str(9000 + n) for n in range(8)]
    members = [await person(db, clock, chat_id) for chat_id in chats]
    async with db.session() as session:
        for n, member_id in enumerate(members):
            await outbox.enqueue(
                session,
                key=f"rate:{n}",
                member_id=member_id,
                payload={"text": f"Tin {n}"},
                now=clock.now,
            )
    taken: list[float] = []  # when a replica's slot was taken, on the clock

    class Noted(SharedRate):
        async def take_in(self, session: Any) -> float:
            at = script.seconds()  # the moment whose slot it asks for
            wait = await super().take_in(session)
            if not wait:
                taken.append(at)
            return wait

    senders = [
        Sender(
            db,
            script,
            channel="telegram",
            clock=clock,
            sleep=fake_time(clock).sleep,
            rate=rate,
            batch=4,  # each replica claims half
            shared_rate=Noted(db, "telegram", rate, clock),
        )
        for _ in range(2)
    ]
    await asyncio.gather(*(sender.run_once() for sender in senders))
    assert sorted(text for _, _, text in script.calls) == [f"Tin {n}" for n in range(8)]
    # Each start took a place of its own in the group's rate: at most one a half second (2 a
    # second) from both replicas together, where each alone would start 2 a second. (The
    # request itself goes a moment after its slot, while the other replica's wait may move the
    # test clock on: the slots are what the rate is kept by.)
    assert len(taken) == len(script.calls)
    assert max(Counter(math.floor(at * rate + 1e-9) for at in taken).values()) == 1
    assert max(taken) - min(taken) >= (len(taken) - 1) / rate - 1e-9


async def test_two_processes_taking_slots_at_once_get_one_each(db: Database, clock: Any) -> None:
    one, other = (SharedRate(db, "zalo", 5.0, clock) for _ in range(2))
    started = 0
    for _ in range(400):  # 80 seconds in steps of a fifth
        waits = [await one.take(), await other.take()]
        started += waits.count(0.0)
        assert waits.count(0.0) <= 1
        assert all(0 < wait <= 0.2 + 1e-6 for wait in waits if wait)
        clock.advance(seconds=0.2)
    assert started == 400  # five a second, for both together
    async with db.session() as session:
        kept = (await session.scalars(select(leases.SendSlot.slot))).all()
    assert len(kept) < 400  # the old slots are removed as time goes on


async def test_an_answer_a_killed_replica_kept_is_sent_by_the_other_in_its_turn(
    replicas: list[Replica],
    db: Database,
    clock: Any,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replica a handles Anna's /start and is killed (SIGKILL) before the answer goes out; it
    still holds her claim. Her next update is recorded by b, which waits for the claim to expire,
    then sends a's kept answer first and answers the next one after it, each once."""
    from tests.test_telegram_inbox import killed_before_the_answer, texts_to

    a, b = replicas
    killed_before_the_answer(monkeypatch)
    assert await a.record(text_update(1, ANNA, "/start"))
    await a.worker().drain()
    assert await a.claims.hold(str(ANNA))  # dead: its claim is not let go
    assert await b.record(text_update(2, ANNA, "/khongco"))
    assert await b.worker().drain() == 0 and api.sent(ANNA) == []
    clock.advance(seconds=LEASE.total_seconds())
    assert await b.worker().drain() == 2
    answers = texts_to(api, ANNA)
    assert answers[-1] == T("unknown-command", command="khongco")
    assert sum(text.startswith(T("consent-hello")) for text in answers) == 1
    assert answers[0].startswith(T("consent-hello"))
    assert handled_ids(replicas) == [1, 2]  # /start handled once, by a
    assert [row.status for row in await inbox_rows(db)] == ["handled", "handled"]
