"""The digest sweep when everyone's digest falls due at once: one person's failure costs no one
else theirs, and no write lock is held while charts are drawn. Charts, /thongke's too, are drawn
off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import select, text

from bot.telegram.outbox import flush_outbox
from bot.telegram.schedule import run_digests
from handlers.admin import statistics
from handlers.coordinator import digest
from storage.db import Database
from storage.models import Identity, OutboxMessage
from tests.conftest import ADMIN_ID
from tests.test_digest import COORDINATOR, HANOI, coordinator  # noqa: F401 - a fixture
from tests.test_registration import join, register_quickly
from tests.test_statistics import (
    data,  # noqa: F401 - a fixture
    thongke,
)

MONDAY_8 = datetime(2026, 11, 30, 8, 0, 30, tzinfo=HANOI).astimezone(UTC)


async def member_id_of(db, telegram_id: int) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(telegram_id))
        )


def on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def digests_to(api, chat_id: int, since: int = 0) -> list[str]:
    return [
        call.method
        for call in api.calls[since:]
        if call.method in ("sendMessage", "sendPhoto") and int(call.params["chat_id"]) == chat_id
    ]


async def test_one_failing_digest_leaves_the_others_and_is_retried(
    coordinator,  # noqa: F811
    chat,
    app,
    api,
    clock,
    db,
    monkeypatch,
    caplog,
):
    await chat(ADMIN_ID, "Quản trị").send("/start")
    await register_quickly(await join(chat), "Chuyển đổi số trong giảng dạy")
    failing = await member_id_of(db, COORDINATOR)
    build = digest.build

    async def broken_for_one(session, config, texts, member, since, now):
        if member.id == failing:
            raise RuntimeError("figures unavailable")
        return await build(session, config, texts, member, since, now)

    monkeypatch.setattr(digest, "build", broken_for_one)
    clock.now = MONDAY_8
    with caplog.at_level(logging.ERROR):
        # The two demo staff and the Telegram admin; not the coordinator whose figures failed.
        assert await run_digests(app) == 3
    assert "figures unavailable" in caplog.text
    before = len(api.calls)
    await flush_outbox(app)
    assert digests_to(api, ADMIN_ID, before) == ["sendPhoto", "sendMessage"]
    assert digests_to(api, COORDINATOR, before) == []

    # Their slot was not recorded: the next sweep tries again, and only them.
    monkeypatch.setattr(digest, "build", build)
    clock.advance(minutes=1)
    assert await run_digests(app) == 1
    before = len(api.calls)
    await flush_outbox(app)
    assert digests_to(api, COORDINATOR, before) == ["sendMessage"]
    assert api.calls[-1].params["text"].startswith("📊 Tóm tắt tình hình từ 23/11/2026 08:00")
    clock.advance(minutes=1)
    assert await run_digests(app) == 0
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    assert len([k for k in keys if k.startswith("digest:")]) == 4


async def write_elsewhere(url: str) -> None:
    """A write through an engine of its own, as a reply or the outbox sender makes, that
    waits a tenth of a second for a lock rather than the usual five."""
    other = Database.from_url(url)
    try:
        async with other.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.exec_driver_sql("PRAGMA busy_timeout=100")
            else:
                await conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
            await conn.execute(text("UPDATE members SET full_name = full_name"))
    finally:
        await other.dispose()


async def test_charts_are_drawn_off_the_loop_with_no_write_lock_held(
    coordinator,  # noqa: F811
    chat,
    app,
    api,
    clock,
    database_url,
    monkeypatch,
):
    # Two admins: both digests have a chart, and the second is drawn after the first is queued.
    await chat(ADMIN_ID, "Quản trị").send("/start")
    await register_quickly(await join(chat), "Chuyển đổi số trong giảng dạy")
    draw = digest.reports_chart
    seen: list[tuple[bool, str]] = []

    def drawing_while_others_write(*args, **kwargs):
        on_loop = on_the_loop()
        outcome: list[str] = []

        def other_writer() -> None:
            try:
                asyncio.run(write_elsewhere(database_url))
                outcome.append("written")
            except Exception as error:  # the lock wait ran out
                outcome.append(str(error).splitlines()[0])

        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join()
        seen.append((on_loop, outcome[0]))
        return draw(*args, **kwargs)

    monkeypatch.setattr(digest, "reports_chart", drawing_while_others_write)
    clock.now = MONDAY_8
    assert await run_digests(app) == 4
    assert seen == [(False, "written"), (False, "written")]
    before = len(api.calls)
    await flush_outbox(app)
    assert digests_to(api, ADMIN_ID, before) == ["sendPhoto", "sendMessage"]


async def test_the_statistics_chart_is_drawn_off_the_loop(data, chat, api, monkeypatch):  # noqa: F811
    draw = statistics.fields_chart
    seen: list[bool] = []

    def recording(*args, **kwargs):
        seen.append(on_the_loop())
        return draw(*args, **kwargs)

    monkeypatch.setattr(statistics, "fields_chart", recording)
    await thongke(chat(ADMIN_ID, "Quản trị"), "DVK26")
    assert seen == [False]
    assert "sendPhoto" in [call.method for call in api.calls]
