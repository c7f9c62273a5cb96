"""Heavy work off the update path (handlers/core/jobs.py): an import runs as a background job,
recorded in the jobs table, showing its progress and then its outcome; one that fails tells its
owner and writes nothing; other people are answered while it runs; at most two run at once; and
at start-up the jobs an earlier process left running are stopped and their owners told."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from sqlalchemy import select, update

from bot.ops.jobs import stop_at_start
from bot.telegram.outbox import flush_outbox
from handlers.admin import importing
from handlers.core.jobs import Job, JobIO, run_job
from handlers.core.types import Outbound
from language.texts import Texts
from storage.models import Conversation, Member
from storage.records.jobs import BackgroundJob, begin_job
from tests.conftest import ADMIN_ID
from tests.test_workbook_import import (
    CLEAN,
    DONE,
    EXPECTED,
    RECEIVED,
    snapshot,
    stored,
    workbook,
)

T = Texts("vi")
STARTED = T("import-started", file="du-lieu.xlsx")
GUEST = 4242


async def import_step(chat):  # type: ignore[no-untyped-def]
    admin = chat(ADMIN_ID, "Quản trị")
    [prompt] = await admin.send("/nhapexcel")
    assert prompt == T("ask-import-file")
    return admin


async def job_rows(db) -> list[tuple[str, str, int, str | None]]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        found = await session.execute(
            select(
                BackgroundJob.kind,
                BackgroundJob.status,
                BackgroundJob.progress,
                BackgroundJob.result,
            ).order_by(BackgroundJob.id)
        )
        return [tuple(row) for row in found]


def hold(monkeypatch):  # type: ignore[no-untyped-def]
    """Reading the workbook (in its thread, before any transaction: the long part of a large
    file) waits for `release`; `entered` is set when it got there."""
    loop = asyncio.get_running_loop()
    entered, release = asyncio.Event(), threading.Event()
    real = importing.read_workbook

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        loop.call_soon_threadsafe(entered.set)
        release.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, "read_workbook", held)
    return entered, release


async def test_an_import_shows_its_progress_then_its_outcome(db, chat, api):
    admin = await import_step(chat)
    assert await admin.send_document("du-lieu.xlsx", workbook(CLEAN)) == [STARTED]
    first = admin.last_message()

    assert await admin.settle() == [STARTED, DONE]
    # The first message is edited with each phase.
    edits = [c.params for c in api.calls if c.method == "editMessageText"]
    assert [e["text"] for e in edits] == [
        T("import-progress-read", file="du-lieu.xlsx"),
        T("import-progress-write", file="du-lieu.xlsx"),
    ]
    assert all(int(e["message_id"]) == first["message_id"] for e in edits)
    assert await stored(db) == EXPECTED
    assert await job_rows(db) == [("import", "done", 100, "✅ Đã nhập «du-lieu.xlsx»:")]
    async with db.session() as session:
        assert await session.scalar(select(Conversation)) is None  # the step is over


async def test_a_failed_import_tells_its_owner_and_writes_nothing(db, chat, monkeypatch):
    admin = await import_step(chat)
    before = await snapshot(db)
    real = importing.summary_text

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected after the rows were written and the form ended")

    # The outcome is worded last in the job's unit of work.
    monkeypatch.setattr(importing, "summary_text", broken)
    await admin.send_document("du-lieu.xlsx", workbook(CLEAN))
    assert await admin.settle() == [STARTED, T("job-failed")]
    assert await snapshot(db) == before
    assert [row[:2] for row in await job_rows(db)] == [("import", "failed")]
    assert (await job_rows(db))[0][3] == "RuntimeError"

    # The step is still open: the same file, sent again, is imported.
    monkeypatch.setattr(importing, "summary_text", real)
    await admin.send_document("du-lieu.xlsx", workbook(CLEAN))
    assert (await admin.settle())[-1] == DONE
    assert await stored(db) == EXPECTED


async def test_others_are_answered_while_an_import_runs(db, chat, monkeypatch):
    """While the file is read (outside any transaction). Its writing is one transaction: on
    PostgreSQL others go on meanwhile; SQLite has one writer (docs/concurrency.md)."""
    entered, release = hold(monkeypatch)
    admin = await import_step(chat)
    try:
        assert await admin.send_document("du-lieu.xlsx", workbook(CLEAN)) == [STARTED]
        await entered.wait()  # the job is reading the file, and stays there until released

        guest = chat(GUEST, "Khách")
        help_text = await guest.send("/help")
        assert help_text[-1].startswith("Bạn chưa tham gia đơn vị nào.")
        # The admin too; a second file meanwhile is refused, not queued behind the first.
        assert await admin.send_document("lai.xlsx", workbook(CLEAN)) == [T("import-busy")]
        assert (await stored(db))["models"] == []
        assert [row[:2] for row in await job_rows(db)] == [("import", "running")]
    finally:
        release.set()
    assert (await admin.settle())[-1] == DONE
    assert await stored(db) == EXPECTED
    assert [row[:2] for row in await job_rows(db)] == [("import", "done")]


async def test_at_most_two_jobs_run_at_once(core):
    gates = [asyncio.Event() for _ in range(3)]
    entered = [asyncio.Event() for _ in range(3)]

    def job(number: int) -> Job:
        async def run(io: JobIO) -> None:
            entered[number].set()
            await gates[number].wait()

        return Job("test", "", "", run)

    async def ignore(*args: object) -> None:
        return None

    async def deliver(messages: list[Outbound]) -> None:
        return None

    tasks = [
        asyncio.create_task(run_job(core, job(n), progress=ignore, deliver=deliver))
        for n in range(3)
    ]
    await entered[0].wait()
    await entered[1].wait()
    assert not entered[2].is_set()  # the third waits for a place
    gates[0].set()
    await entered[2].wait()
    gates[1].set()
    gates[2].set()
    await asyncio.gather(*tasks)


async def test_a_restart_stops_the_jobs_left_running_and_tells_their_owners(
    db, core, chat, app, api, clock
):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/help")  # known to the bot, on Telegram
    async with db.session() as session:
        admin_id = await session.scalar(select(Member.id).where(Member.is_admin))
        left = await begin_job(
            session,
            kind="import",
            owner_id=admin_id,
            channel="telegram",
            chat_id=str(ADMIN_ID),
            now=clock() - timedelta(minutes=5),
        )
        # A `dvk chat` beside the bot may still be running its own.
        await begin_job(
            session, kind="export", owner_id=admin_id, channel="terminal", chat_id="a", now=clock()
        )
    left_at = left.created_at

    assert await stop_at_start(core, one_process=True) == 1
    await flush_outbox(app)
    when = left_at.astimezone(core.config.timezone)
    assert api.sent(ADMIN_ID)[-1].params["text"] == T(
        "job-stopped", job=T("job-kind-import"), time=when.strftime("%d/%m/%Y %H:%M")
    )
    assert [row[:2] for row in await job_rows(db)] == [
        ("import", "stopped"),
        ("export", "running"),
    ]
    # Told once, however often it is looked at again.
    assert await stop_at_start(core, one_process=True) == 0


async def test_with_replicas_only_jobs_whose_runner_went_silent_are_stopped(db, core, clock):
    async with db.session() as session:
        member = Member(full_name="Quản trị", is_admin=True, created_at=clock())
        session.add(member)
        await session.flush()
        for kind in ("import", "export"):
            await begin_job(
                session, kind=kind, owner_id=member.id, channel="zalo", chat_id="z", now=clock()
            )
        # The export's runner last beat 2 minutes ago: it is gone; the import's is alive.
        await session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.kind == "export")
            .values(updated_at=clock() - timedelta(minutes=2))
        )
    assert await stop_at_start(core, one_process=False) == 1
    assert [row[:2] for row in await job_rows(db)] == [("import", "running"), ("export", "stopped")]


def test_the_received_mark_is_the_catalogs():
    assert STARTED.startswith(RECEIVED)
