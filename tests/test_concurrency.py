"""Many people at once: the real inbox worker hands recorded Telegram updates to the real
Application, each person's one at a time in the order they were recorded and different people's
side by side, at most the bound at once. The handler is held on events the test releases, so
what runs meanwhile is seen, not timed."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.ext import Application

from bot.inbox import WINDOW, Payload, Within
from bot.telegram.inbox import PersonProcessor, TelegramInbox
from bot.updates.order import PersonOrder
from storage import inbox
from storage.db import Database
from tests.botapi import RecordingRequest
from tests.test_telegram_inbox import ANNA, BINH, greetings, rows, text_update, texts_to
from tests.test_webhook import STEP_TIMEOUT

CHI, DUNG, EM, GIANG = 801, 802, 803, 804


class HeldInbox(TelegramInbox):
    """The real inbox; an update with a gate waits for it before it reaches the Application.
    Notes what started and finished, and how many ran at once, overall and per person."""

    def __init__(self, application: Application) -> None:
        super().__init__(application)
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.finished: list[int] = []
        self.now: Counter[int] = Counter()
        self.most = 0
        self.overlapped: list[int] = []
        self.changed = asyncio.Event()

    async def handle(self, payload: Payload, mark: Within) -> None:
        number, person = payload["update_id"], payload["message"]["from"]["id"]
        self.started.append(number)
        self.now[person] += 1
        if self.now[person] > 1:
            self.overlapped.append(number)
        self.most = max(self.most, self.now.total())
        self.changed.set()
        try:
            if number in self.gates:
                await self.gates[number].wait()
            await super().handle(payload, mark)
        finally:
            self.now[person] -= 1
            self.finished.append(number)
            self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), STEP_TIMEOUT)

    def held(self, *numbers: int) -> None:
        for number in numbers:
            self.gates[number] = asyncio.Event()


@pytest.fixture
def held(app: Application) -> HeldInbox:
    return HeldInbox(app)


async def record(box: TelegramInbox, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert await box.record(Update.de_json(body, box.application.bot), body)


async def test_another_person_is_answered_while_one_is_held_and_their_next_waits(
    held: HeldInbox, api: RecordingRequest, db: Database
) -> None:
    await record(
        held,
        text_update(1, ANNA, "/start"),
        text_update(2, BINH, "/start"),
        text_update(3, ANNA, "/help"),
    )
    held.held(1)
    draining = asyncio.create_task(held.worker().drain())
    await held.until(lambda: 2 in held.finished)
    assert greetings(api, BINH) == 1
    # Anna's first is still held, and her second has not begun.
    assert held.started == [1, 2] and texts_to(api, ANNA) == []
    held.gates[1].set()
    assert await asyncio.wait_for(draining, STEP_TIMEOUT) == 3
    assert [n for n in held.started if n != 2] == [1, 3]
    assert greetings(api, ANNA) == 1
    assert [r.status for r in await rows(db)] == ["handled"] * 3


async def test_each_persons_order_holds_under_many_interleaved_updates(
    held: HeldInbox, db: Database
) -> None:
    people = [ANNA, BINH, CHI, DUNG]
    shuffle = random.Random(13)
    sent = [person for person in people for _ in range(8)]
    shuffle.shuffle(sent)
    bodies = [text_update(n, person, "/help") for n, person in enumerate(sent, start=1)]
    await record(held, *bodies)
    held.held(*range(1, len(sent) + 1))
    draining = asyncio.create_task(held.worker().drain())
    released: set[int] = set()
    while len(released) < len(sent):
        # Whichever updates are waiting at their gate now are let go in a random order.
        await held.until(lambda: bool(set(held.started) - released))
        waiting = sorted(set(held.started) - released)
        chosen = shuffle.choice(waiting)
        released.add(chosen)
        held.gates[chosen].set()
    assert await asyncio.wait_for(draining, STEP_TIMEOUT) == len(sent)
    for person in people:
        mine = [n for n, whose in enumerate(sent, start=1) if whose == person]
        assert [n for n in held.started if sent[n - 1] == person] == mine
    assert held.overlapped == []
    assert held.most > 1  # different people's did run side by side
    assert {r.status for r in await rows(db)} == {"handled"}


async def test_no_more_than_the_bound_run_at_once(held: HeldInbox, db: Database) -> None:
    people = [ANNA, BINH, CHI, DUNG, EM, GIANG]
    await record(held, *[text_update(n, p, "/help") for n, p in enumerate(people, start=1)])
    held.held(*range(1, 7))
    worker = held.worker()
    worker.order = PersonOrder(bound=3)
    draining = asyncio.create_task(worker.drain())
    await held.until(lambda: len(held.started) == 3)
    # Every person's update is queued; three hold the places, the others wait for one.
    assert worker.order.people == 6 and worker.order.running == 3
    for number in range(1, 7):
        await held.until(lambda number=number: number in held.started)
        held.gates[number].set()
    assert await asyncio.wait_for(draining, STEP_TIMEOUT) == 6
    assert held.most == 3
    # Nobody is remembered once their updates are done.
    assert worker.order.people == 0
    assert {r.status for r in await rows(db)} == {"handled"}


async def test_the_applications_update_processor_keeps_the_same_order(
    app: Application, held: HeldInbox
) -> None:
    processor = app.update_processor
    assert isinstance(processor, PersonProcessor)
    assert held.worker().order is processor.order  # one bound for the inbox and the queue
    assert app.concurrent_updates == WINDOW
    gates = {n: asyncio.Event() for n in (1, 2, 3)}
    log: list[str] = []
    changed = asyncio.Event()

    async def handled(number: int) -> None:
        log.append(f"start {number}")
        changed.set()
        await gates[number].wait()
        log.append(f"end {number}")

    def update(number: int, person: int) -> Update:
        return Update.de_json(text_update(number, person, "/help"), app.bot)

    tasks = [
        asyncio.create_task(processor.process_update(update(n, who), handled(n)))
        for n, who in ((1, ANNA), (2, ANNA), (3, BINH))
    ]
    while "start 3" not in log:
        changed.clear()
        await asyncio.wait_for(changed.wait(), STEP_TIMEOUT)
    assert log == ["start 1", "start 3"]  # Binh's runs beside Anna's; her second waits
    gates[3].set()
    await asyncio.wait_for(tasks[2], STEP_TIMEOUT)
    gates[2].set()  # released early: it still waits for Anna's first
    assert "start 2" not in log
    gates[1].set()
    await asyncio.wait_for(asyncio.gather(*tasks), STEP_TIMEOUT)
    assert log == ["start 1", "start 3", "end 3", "end 1", "start 2", "end 2"]


async def test_a_database_failure_holds_that_persons_later_updates_in_order(
    held: HeldInbox, db: Database, api: RecordingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(
        held,
        text_update(1, ANNA, "/start"),
        text_update(2, BINH, "/start"),
        text_update(3, ANNA, "/help"),
    )
    real = inbox.begin_attempt
    broken = [OperationalError("UPDATE", {}, Exception("the database went away"))]

    async def failing_for_the_first(session, *, update_id):  # type: ignore[no-untyped-def]
        if update_id == 1 and broken:
            raise broken.pop()
        return await real(session, update_id=update_id)

    monkeypatch.setattr(inbox, "begin_attempt", failing_for_the_first)
    worker = held.worker()
    with pytest.raises(OperationalError):
        await worker.drain()
    # Binh was answered; Anna's second did not overtake her first: both wait, pending.
    assert held.started == [2] and greetings(api, BINH) == 1
    assert [r.status for r in await rows(db)] == ["pending", "handled", "pending"]
    assert await worker.drain() == 2  # the next read takes them up, in order
    assert held.started == [2, 1, 3]


async def test_at_most_the_step_bound_compute_at_once_the_others_in_the_order_they_came(
    settings, db, clock, monkeypatch
) -> None:
    """DVK_CONCURRENT_STEPS: of the updates handed to the core together, that many compute their
    step at once; each other one begins when one ends, in the order they came."""
    from bot.runtime import build_core
    from handlers.core.types import Inbound

    core = build_core(settings.model_copy(update={"concurrent_steps": 2}), db, clock)
    real, gates, inside = core._handle, {}, []
    changed = asyncio.Event()

    async def held(inbound, within):  # type: ignore[no-untyped-def]
        # Before the step's unit of work: on SQLite a held one would keep the others' out.
        inside.append(inbound.external_id)
        changed.set()
        await gates[inbound.external_id].wait()
        return await real(inbound, within)

    monkeypatch.setattr(core, "_handle", held)
    people = [f"p{n}" for n in range(5)]
    gates.update({person: asyncio.Event() for person in people})
    steps = [
        asyncio.ensure_future(core.handle(Inbound("terminal", p, p, text="/help"))) for p in people
    ]

    async def entered(count: int) -> None:
        while len(inside) < count:
            changed.clear()
            await changed.wait()

    await entered(2)
    assert inside == ["p0", "p1"] and core.working.locked()
    gates["p1"].set()
    await entered(3)
    assert inside == ["p0", "p1", "p2"]
    for gate in gates.values():
        gate.set()
    results = await asyncio.gather(*steps)
    assert inside == people
    assert all(result.messages for result in results)


def test_what_start_up_loaded_is_kept_out_of_the_collectors_passes():
    """`dvk run` freezes what it loaded before the first update: the collector's full passes,
    which stop every update in flight, then look only at what was made since."""
    import gc

    from bot.ops.memory import freeze_startup

    class Loaded:
        pass

    loaded = Loaded()
    try:
        assert freeze_startup() > 0
        assert not any(o is loaded for o in gc.get_objects())
    finally:
        gc.unfreeze()  # the test process frees what it likes
    assert any(o is loaded for o in gc.get_objects())
