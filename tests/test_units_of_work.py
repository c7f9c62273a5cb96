"""Units of work: all or nothing on both databases, a busy database answered without harm, and
the same message queued twice by two units of work at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.demo import seed
from handlers.member import registration
from storage import outbox
from storage.db import Database, is_busy
from storage.models import AuditEntry, Conversation, Model, OutboxMessage
from storage.records.audit import add_audit_entry
from storage.records.people import all_admins
from tests.conftest import PG_URL
from tests.test_registration import fill_registration, join

TITLE = "Chuyển đổi số trong giảng dạy"


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_failure_after_the_savepoint_keeps_nothing(seeded, chat, db, monkeypatch):
    """The registration's savepoint is its first write; a failure later in the same update
    (the audit entry here, "database is locked" in real life) must take it back too."""
    person = await join(chat)

    async def broken_audit(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))

    await fill_registration(person, TITLE)
    # Where the registration writes its audit entry (the name it imported).
    monkeypatch.setattr(registration, "add_audit_entry", broken_audit)
    await person.click("✅ Gửi đăng ký")
    assert person.replies() == [
        "Đã có lỗi xảy ra. Dữ liệu bạn đã nhập vẫn được giữ; vui lòng thử lại."
    ]
    assert await count(db, Model) == 0
    assert await count(db, AuditEntry) == 1  # the join's, nothing of the registration
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv is not None and conv.form == "register"  # the form is still there to send

    monkeypatch.undo()
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith(f"✅ Đã gửi đăng ký mô hình «{TITLE}»")
    async with db.session() as session:
        model = await session.scalar(select(Model))
    assert model.status == "submitted" and model.code


async def _hold_the_database(url: str, held: asyncio.Event, release: asyncio.Event) -> None:
    """Another connection (another process, a `dvk import`) holding the write lock."""
    database = Database.from_url(url)
    try:
        async with database.session() as session:
            if PG_URL:
                await session.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
            else:
                await session.execute(text("UPDATE units SET name = name WHERE id = -1"))
            held.set()
            await release.wait()
    finally:
        await database.dispose()


async def test_a_busy_database_asks_to_try_again_and_keeps_nothing(
    database_url,
    seeded,
    chat,
    db,
):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    async with db.session() as session:
        before = (await session.scalar(select(Conversation))).state

    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_database(database_url, held, release))
    await held.wait()
    try:
        from bot.config import Settings
        from bot.runtime import build_core

        # Waits of a fraction of a second instead of ten: the answer comes at once.
        busy_core = build_core(
            Settings(_env_file=None, database_url=database_url),
            Database.from_url(database_url, busy_timeout=0.2),
        )
        person.app.bot_data["core"], core = busy_core, person.app.bot_data["core"]
        replies = await person.send(TITLE)
        person.app.bot_data["core"] = core
        await busy_core.db.dispose()
    finally:
        release.set()
        await holder
    assert replies == [
        "⏳ Hệ thống đang bận, câu trả lời của bạn chưa được ghi. Xin gửi lại sau giây lát."
    ]
    async with db.session() as session:
        assert (await session.scalar(select(Conversation))).state == before

    # Once the database is free the same answer is taken.
    replies = await person.send(TITLE)
    assert replies[0] == "Mô hình thuộc lĩnh vực nào?"


def test_busy_errors_are_told_apart():
    assert is_busy(OperationalError("BEGIN", {}, Exception("database is locked")))
    assert not is_busy(OperationalError("BEGIN", {}, Exception("no such table: units")))
    assert not is_busy(ValueError("database is locked"))


async def _until_waiting_on_a_lock(db: Database) -> None:
    """PostgreSQL: until another connection waits for a lock (bounded; no fixed sleep)."""
    for _ in range(1000):
        async with db.read() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second unit of work never waited for the first")


async def test_the_same_message_queued_by_two_units_of_work_at_once(db, clock, seeded):
    """Two coordinators press «Nhắc người quá hạn» together, or a sweep and a handler, or two
    replicas: both check that the key is free before either has committed. The second must not
    fail; the message is queued once."""
    async with db.session() as session:
        member_id = (await all_admins(session))[0].id

    async def queue(session) -> bool:  # type: ignore[no-untyped-def]
        return await outbox.enqueue(
            session, key="nudge:42:2026-11-26", member_id=member_id, payload={}, now=clock()
        )

    async def second() -> bool:
        async with db.session() as session:
            return await queue(session)

    async with db.session() as session:
        assert await queue(session)
        # The second starts while the first is not yet committed: on PostgreSQL it finds no
        # row and waits on the key; on SQLite it waits for the write lock.
        racing = asyncio.create_task(second())
        if PG_URL:
            await _until_waiting_on_a_lock(db)
    assert await racing is False
    assert await count(db, OutboxMessage) == 1


async def test_the_busy_timeout_reaches_the_database(database_url):
    from bot.config import Settings
    from bot.runtime import build_core

    settings = Settings(_env_file=None, database_url=database_url, db_busy_timeout=3)
    database = Database.from_url(database_url, busy_timeout=settings.db_busy_timeout)
    build_core(settings, database)
    try:
        async with database.read() as session:
            if PG_URL:
                assert await session.scalar(text("SHOW lock_timeout")) == "3s"
            else:
                assert await session.scalar(text("PRAGMA busy_timeout")) == 3000
    finally:
        await database.dispose()


async def test_a_burst_of_units_of_work_keeps_its_connections(database_url):
    """Twelve units of work open at once, twice: the second burst is served by the
    connections the first opened. With SQLAlchemy's default pool (5) the seven beyond it were
    closed as they came back and opened again at the next burst; on PostgreSQL a server process
    started and ended for each, and sixteen steps at once ran at half the speed."""
    from bot.config import Settings

    settings = Settings(_env_file=None, database_url=database_url)
    database = Database.from_url(database_url, pool_size=settings.db_pool_size)
    opened: list[object] = []
    event.listen(database.engine.sync_engine, "connect", lambda *_: opened.append(1))

    async def burst() -> None:
        all_open = asyncio.Barrier(12)

        async def one() -> None:
            async with database.read() as session:
                await session.execute(text("SELECT 1"))
                await all_open.wait()

        await asyncio.gather(*(one() for _ in range(12)))

    try:
        await burst()
        assert len(opened) == 12
        await burst()
        assert len(opened) == 12
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
    ],
)
async def test_an_in_memory_database_is_one_connection_without_a_pool_to_size(url):
    database = Database.from_url(url)
    try:
        async with database.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()


async def test_writers_take_their_turn_in_the_order_they_came(db, clock, seeded):
    """A write waiting for another is served in its turn: ten writers queued behind a unit of
    work commit in the order they asked. On SQLite, whose own wait lets whoever retries at the
    right moment win (a person's answer waited 1.5 s while a flood was recorded), the process
    queues its writers itself; on PostgreSQL rows of their own never wait for each other."""
    asked: list[asyncio.Event] = []

    def arrived(*_: object) -> None:
        if asked:
            asked[-1].set()

    # A writer with its connection goes on to ask for the write lock without a pause between.
    event.listen(db.engine.sync_engine.pool, "checkout", arrived)

    async def write(n: int) -> None:
        async with db.session() as session:
            await add_audit_entry(
                session, at=clock(), actor_id=None, action=f"turn.{n}", object_type="test"
            )
            await session.flush()

    tasks = []
    async with db.session() as session:
        await add_audit_entry(
            session, at=clock(), actor_id=None, action="turn.first", object_type="test"
        )
        await session.flush()
        for n in range(10):
            asked.append(asyncio.Event())
            tasks.append(asyncio.create_task(write(n)))
            await asked[-1].wait()
        assert not any(task.done() for task in tasks) or PG_URL
    await asyncio.gather(*tasks)
    event.remove(db.engine.sync_engine.pool, "checkout", arrived)
    async with db.read() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("turn.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    if PG_URL:  # each commits on its own; all of them did
        assert sorted(actions) == sorted(["turn.first", *(f"turn.{n}" for n in range(10))])
    else:
        assert actions == ["turn.first", *(f"turn.{n}" for n in range(10))]


async def test_a_writer_kept_waiting_is_answered_busy(database_url, clock):
    """A writer waits for another of its process at most the busy timeout, then is told busy:
    the person is asked to send again. (SQLite: its turn among the process's writers, as
    SQLite's own wait would have; PostgreSQL: the row's lock, `lock_timeout`.)"""
    from storage.models import Member

    database = Database.from_url(database_url, busy_timeout=0.2)
    try:
        async with database.session() as session:
            member = Member(created_at=clock())
            session.add(member)
        touch = text("UPDATE members SET full_name = full_name WHERE id = :id")

        async def second() -> None:
            async with database.session() as session:
                await session.execute(touch, {"id": member.id})

        async with database.session() as holder:
            await holder.execute(touch, {"id": member.id})
            with pytest.raises(DBAPIError) as raised:
                await second()
            assert is_busy(raised.value)
        await second()  # its turn came: written
    finally:
        await database.dispose()
