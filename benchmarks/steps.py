"""How close a conversation step comes to the database's own floor, and how long one takes.

Three parts on the same database in one run:
- the floor: 50 concurrent tasks, each running transactions of one indexed SELECT and one UPDATE
  of a row (a table of its own, dropped afterwards), as fast as they can;
- throughput: 50 people registering at once through the real core (the registrations
  benchmark's answers), no pause between steps, handed to it as `dvk run` does (each person's
  steps in order, at most DVK_CONCURRENT_UPDATES, 16, at once, what start-up loaded kept out of
  the garbage collector's passes); `ratio` = steps per second /
  floor transactions per second;
- latency: 50 people, each pausing `--pause` seconds between steps; `p99_ms` of one step;
- the skeleton, for comparison: the same 50 people, each step only what every step costs
  before any form is run (the step's first read, `read_person`, an UPDATE of the person's
  conversation through the ORM, the commit), handed over the same way; `skeleton_ratio` =
  those per second / floor transactions per second, printed on the line before the last;
- the ceiling: the same, with that read and write as plain statements (the first read's own
  statement giving rows, not ORM objects; the conversation's UPDATE), bounded as the core
  bounds its steps (DVK_CONCURRENT_STEPS): what no step can go below however its Python is
  written; `ceiling_ratio` on the line before the last too.

    python -m benchmarks.steps [--database-url URL] [--quick] [--seconds 10] [--pause 1]

A PostgreSQL database given has its public schema dropped and rebuilt first: give it a database
of its own. Prints a last line `db= people= steps_per_s= floor_txn_per_s= ratio= p99_ms=`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, text, update

from benchmarks.registrations import ANSWERS, PRESS
from bot.config import Settings
from bot.demo import seed
from bot.ops.memory import freeze_startup
from bot.runtime import build_core
from bot.updates.order import PersonOrder
from handlers.core.consent import NOTICE_VERSION as NOTICE
from handlers.core.router import Core
from handlers.core.types import Inbound, Result
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Conversation, Identity, Membership, Unit
from storage.records.people import _person_statement, read_person

PEOPLE = 50
FLOOR_ROWS = 1000
NOW = datetime(2026, 11, 26, 2, tzinfo=UTC)
BUSY: list[str] = []  # steps answered "busy, send it again" (and sent again)


async def per_second(
    once: Callable[[int, int], Awaitable[None]], tasks: int, seconds: float
) -> float:
    """`once(k, i)` run by `tasks` concurrent tasks (k), each again and again (i) until
    `seconds` are over: how many a second."""
    done = 0
    stop = time.perf_counter() + seconds

    async def task(k: int) -> None:
        nonlocal done
        for i in itertools.count():
            if time.perf_counter() >= stop:
                return
            await once(k, i)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(task(k) for k in range(tasks)))
    return done / (time.perf_counter() - started)


async def floor(db: Database, seconds: float) -> float:
    """Transactions per second of 50 tasks doing one indexed SELECT and one UPDATE each."""
    async with db.session() as session:
        await session.execute(text("DROP TABLE IF EXISTS bench_floor"))
        await session.execute(
            text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, code VARCHAR(20), n INTEGER)")
        )
        await session.execute(text("CREATE UNIQUE INDEX ix_bench_floor_code ON bench_floor (code)"))
        await session.execute(
            text("INSERT INTO bench_floor (id, code, n) VALUES (:id, :code, 0)"),
            [{"id": i, "code": f"c{i}"} for i in range(FLOOR_ROWS)],
        )

    async def transaction(k: int, i: int) -> None:
        row = (k * 20 + i) % FLOOR_ROWS
        async with db.session() as session:
            found = await session.scalar(
                text("SELECT id FROM bench_floor WHERE code = :code"), {"code": f"c{row}"}
            )
            await session.execute(
                text("UPDATE bench_floor SET n = n + 1 WHERE id = :id"), {"id": found}
            )

    rate = await per_second(transaction, PEOPLE, seconds)
    async with db.session() as session:
        await session.execute(text("DROP TABLE bench_floor"))
    return rate


def inbounds(person: str, n: int) -> list[Callable[[Result], Inbound]]:
    """The events of one registration; each built from the answer to the one before."""

    def typed(value: str) -> Callable[[Result], Inbound]:
        return lambda _: Inbound("terminal", person, person, text=value)

    def pressed(index: int) -> Callable[[Result], Inbound]:
        def event(result: Result) -> Inbound:
            choices = [c for row in result.messages[-1].choices for c in row]
            if len(choices) <= index:
                raise SystemExit(f"{person}: no button {index} in {result.messages[-1].text!r}")
            return Inbound("terminal", person, person, choice=choices[index].data)

        return event

    # The personal-data notice comes first: agreeing to it opens the join form.
    events = [typed("/start DEMO-TV"), pressed(0)]
    for step, answer in enumerate(ANSWERS):
        events.append(pressed(PRESS[step]) if step in PRESS else typed(answer.format(n=n)))
    return events


async def register(
    core: Core,
    order: PersonOrder,
    person: str,
    n: int,
    durations: list[float],
    pause: Callable[[], Awaitable[None]] | None,
) -> None:
    """One registration, each step handed to the core the way `dvk run` does (one person's
    steps in order, at most DVK_CONCURRENT_UPDATES people's at once); a step's time runs from
    its arrival to its answer, its wait for a place included."""
    result = Result()
    for event in inbounds(person, n):
        if pause is not None:
            await pause()
        began = time.perf_counter()
        inbound = event(result)
        result = await order.submit(person, functools.partial(core.handle, inbound))
        while result.notice == core.texts("error-busy"):
            # SQLite's write lock waited for longer than its busy timeout: the person is asked
            # to send it again, and does (the step's time counts both).
            BUSY.append(person)
            result = await order.submit(person, functools.partial(core.handle, inbound))
        durations.append(time.perf_counter() - began)
    if not result.messages[0].text.startswith("✅ Đã gửi đăng ký"):
        raise SystemExit(f"{person} did not complete: {result.messages[0].text[:200]}")


async def crowd(
    core: Core, order: PersonOrder, prefix: str, seconds: float, pause: float | None
) -> tuple[float, list[float]]:
    """50 people registering one model after another until `seconds` are over: steps per
    second and every step's duration."""
    durations: list[float] = []
    stop = time.perf_counter() + seconds

    async def person(k: int) -> None:
        if pause:
            # People are not in step with each other: each starts at its own moment within the
            # first pause, so about PEOPLE / pause steps arrive each second, spread out, rather
            # than PEOPLE at the same instant once a second.
            await asyncio.sleep(pause * k / PEOPLE)
        for round_ in itertools.count():
            if time.perf_counter() >= stop:
                return
            name = f"{prefix}-{k}-{round_}"
            waiting = (lambda: asyncio.sleep(pause)) if pause else None
            await register(core, order, name, k * 1000 + round_, durations, waiting)

    started = time.perf_counter()
    await asyncio.gather(*(person(k) for k in range(PEOPLE)))
    return len(durations) / (time.perf_counter() - started), durations


async def skeleton(db: Database, order: PersonOrder, people: list[str], seconds: float) -> float:
    """Steps a second when a step is only the core's unit of work around a form: the first
    read, the conversation's UPDATE, the commit."""

    async def step(k: int, i: int) -> None:
        async def unit_of_work() -> None:
            async with db.session() as session:
                found = await read_person(
                    session, channel="terminal", external_id=people[k], notice_version=NOTICE
                )
                assert found is not None and found.conversation is not None
                conv = found.conversation
                conv.state = {**conv.state, "page": i % 2}

        await order.submit(people[k], unit_of_work)

    return await per_second(step, len(people), seconds)


async def ceiling(
    db: Database, order: PersonOrder, bound: int, people: list[str], seconds: float
) -> float:
    """Steps a second when a step is only the first read and the conversation's UPDATE as plain
    statements: no ORM object loaded or flushed, no form run."""
    tables = (Identity, Conversation, Membership, Unit)
    read = _person_statement().with_only_columns(*(c for t in tables for c in t.__table__.c))
    conversations = Conversation.__table__
    write = (
        update(conversations)
        .where(conversations.c.member_id == bindparam("member"))
        .values(state=bindparam("state"), version=conversations.c.version + 1)
    )
    working = asyncio.Semaphore(bound)
    values = {"channel": "terminal", "notice_version": NOTICE}

    async def step(k: int, i: int) -> None:
        async def unit_of_work() -> None:
            async with working, db.session() as session:
                rows = await session.execute(read, {**values, "external_id": people[k]})
                row = rows.first()
                assert row is not None
                state = {**row.state, "page": i % 2}
                await session.execute(write, {"member": row.member_id, "state": state})

        await order.submit(people[k], unit_of_work)

    return await per_second(step, len(people), seconds)


async def opened(core: Core, prefix: str) -> list[str]:
    """50 people each with a registration open half way (the skeleton's conversations)."""
    names = [f"{prefix}-{k}" for k in range(PEOPLE)]
    for k, name in enumerate(names):
        result = Result()
        for event in inbounds(name, k)[:10]:
            result = await core.handle(event(result))
    return names


async def main(url: str | None, seconds: float, pause: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        db = Database.from_url(url)
        if db.engine.dialect.name == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db.engine)
        async with db.session() as session:
            await seed(session, now=NOW, today=NOW.date())
        settings = Settings(_env_file=None, database_url=url)
        core = build_core(settings, db, lambda: NOW)
        order = PersonOrder(settings.concurrent_updates)
        freeze_startup()  # as `dvk run` does before its first update
        await crowd(core, order, "warm", 1, None)
        floor_rate = await floor(db, seconds)
        steps_rate, _ = await crowd(core, order, "fast", seconds, None)
        _, durations = await crowd(core, order, "slow", max(seconds, 3 * pause), pause)
        bare = await opened(core, "bare")
        bare_rate = await skeleton(db, order, bare, seconds)
        least_rate = await ceiling(db, order, settings.concurrent_steps, bare, seconds)
        await db.dispose()
    durations.sort()
    p99 = durations[int(0.99 * (len(durations) - 1))] * 1000
    print(f"steps={len(durations)} busy_resent={len(BUSY)}")
    print(
        f"skeleton_per_s={bare_rate:.0f} skeleton_ratio={bare_rate / floor_rate:.2f} "
        f"ceiling_per_s={least_rate:.0f} ceiling_ratio={least_rate / floor_rate:.2f}"
    )
    print(
        f"db={url.split(':', 1)[0].split('+')[0]} people={PEOPLE} steps_per_s={steps_rate:.0f} "
        f"floor_txn_per_s={floor_rate:.0f} ratio={steps_rate / floor_rate:.2f} p99_ms={p99:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--quick", action="store_true", help="3 seconds a part")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each part runs")
    parser.add_argument("--pause", type=float, default=1.0, help="the latency part's pause")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, 3.0 if args.quick else args.seconds, args.pause))
