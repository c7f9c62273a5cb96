"""How many SQL statements one conversation step costs, through the real Application: a bound
per typical step, so that a change that makes a step read the same thing again (or read a whole
table for one row) fails here. The bounds are the counts measured when they were set; `BEGIN`
is left out (SQLite's is a statement of its own, PostgreSQL's is not). The reminder sweep's
statements do not grow with the people it reminds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.demo import seed
from bot.telegram.schedule import run_sweep
from storage.db import Database
from storage.models import Model, OutboxMessage
from tests.conftest import ADMIN_ID
from tests.test_registration import fill_registration, join, register_quickly
from tests.test_reminders import HANOI
from tests.test_reports import HANOI_0900_20_NOV

COORDINATOR = 6100


class Statements(list[str]):
    @property
    def shown(self) -> str:
        return "\n".join(" ".join(s.split())[:160] for s in self)


@contextmanager
def counting(db: Database) -> Iterator[Statements]:
    """The statements sent to the database inside the block."""
    seen = Statements()

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


@pytest.fixture
async def people(db, clock, chat):
    """Chi bộ Văn phòng: its coordinator, a member with an approved model, the demo's admin."""
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved", starts_on=date(2026, 11, 1)))
    admin = await join(chat, ADMIN_ID, "Trần Thị Quản Trị", category="Cán bộ")
    return member, coordinator, admin


async def test_a_members_start(people, db):
    member, _, _ = people
    with counting(db) as statements:
        replies = await member.send("/start")
    assert replies[0].startswith("Chào")
    assert len(statements) <= 1, statements.shown


async def test_a_newcomer_agreeing_to_the_notice(people, db, chat):
    """The «Đồng ý» under the notice an invite link opens: the agreement kept, the code
    looked at (once), the profile form opened."""
    newcomer = chat(6200, "Người Mới")
    newcomer.agrees = False
    await newcomer.send("/start DEMO-TV")
    agree = newcomer._consent_button(0)
    assert agree is not None
    with counting(db) as statements:
        replies = await newcomer.press(*agree)
    assert replies[-1].startswith("Họ và tên"), replies
    assert len(statements) <= 8, statements.shown


async def test_a_registration_step(people, db):
    member, _, _ = people
    await member.send("/dangky")
    await member.click("Cá nhân")
    with counting(db) as statements:
        replies = await member.send("Số hóa hồ sơ một cửa")
    assert replies == ["Mô hình thuộc lĩnh vực nào?"]
    assert len(statements) <= 4, statements.shown
    with counting(db) as statements:
        replies = await member.click("Chuyển đổi số")
    assert replies[0].startswith("Cách làm")
    assert len(statements) <= 4, statements.shown


async def test_sending_a_registration(people, db):
    """The model, its targets, its code, the audit entry and the form's end; the title's
    uniqueness is the constraint's, not a query of its own."""
    member, _, _ = people
    await fill_registration(member, "Số hóa hồ sơ một cửa")
    with counting(db) as statements:
        replies = await member.click("✅ Gửi đăng ký")
    assert replies[0].startswith("✅ Đã gửi đăng ký")
    assert len(statements) <= 8, statements.shown


async def test_a_report_step(people, db):
    member, _, _ = people
    await member.send("/baocao")
    with counting(db) as statements:
        replies = await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    assert replies[0].startswith("Kết quả kỳ này cho chỉ tiêu")
    assert len(statements) <= 3, statements.shown


async def test_a_coordinators_unit_page(people, db):
    _, coordinator, _ = people
    with counting(db) as statements:
        replies = await coordinator.send("/donvi")
    assert replies[0].startswith("🏢 Chi bộ Văn phòng")
    assert len(statements) <= 13, statements.shown


async def test_a_review_step(people, db, chat):
    member, coordinator, _ = people
    await fill_registration(member, "Số hóa hồ sơ một cửa")
    await member.click("✅ Gửi đăng ký")
    await coordinator.send("/duyet")
    with counting(db) as statements:
        replies = await coordinator.click("✅ Duyệt")
    assert replies[0] == "Đã duyệt «Số hóa hồ sơ một cửa»."
    assert len(statements) <= 12, statements.shown


async def test_an_admins_person_search(people, db):
    _, _, admin = people
    await admin.send("/phutrach")
    await admin.click("➕ Giao phụ trách đơn vị")
    with counting(db) as statements:
        replies = await admin.send("nguyen")
    assert replies[0].startswith("Kết quả tìm «nguyen»")
    assert len(statements) <= 10, statements.shown
    # Searched and paged by the database: no statement reads everyone's name.
    names = [s for s in statements if "FROM members" in s and "members.full_name" in s]
    assert names and all("LIMIT" in s for s in names), statements.shown


# --- the reminder sweep ----------------------------------------------------------------------


async def test_the_reminder_sweep_reads_models_only_when_due_and_queues_in_one_go(
    db, clock, chat, app
):
    """Three people with approved models. On a day without a reminder moment the sweep reads
    no model; on the day before the due date everyone's reminders and nudges are queued by the
    same few statements however many people (one read of who is due, one insert)."""
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=HANOI).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    for n, name in enumerate(("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường")):
        person = await join(chat, 5000 + n, name)
        await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved"))
    # Two leave a registration unfinished: a nudge each is due a day later.
    for n in (0, 1):
        await chat(5000 + n).send("/dangky")

    clock.now = datetime(2026, 12, 10, 8, 0, 30, tzinfo=HANOI).astimezone(UTC)
    with counting(db) as statements:
        assert await run_sweep(app) == (0, 2)
    assert not [s for s in statements if "FROM models" in s], statements.shown
    assert len(statements) <= 5, statements.shown

    clock.now = datetime(2026, 12, 22, 8, 0, 30, tzinfo=HANOI).astimezone(UTC)
    with counting(db) as statements:
        assert await run_sweep(app) == (3, 0)
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 1
    assert len(statements) <= 8, statements.shown
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    assert len([key for key in keys if key.startswith("remind:before:")]) == 3
