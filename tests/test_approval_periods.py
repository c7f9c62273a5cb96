"""Issue 12 item 7: a model approved after a period's due date is not overdue, reminded or late
for that period: not in /donvi, not in the reminder sweep, not in the report's own line."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage.models import Model, Report
from tests.test_registration import join, register_quickly
from tests.test_reminders import HANOI, live_through
from tests.test_reports import report

COORDINATOR = 6100


@pytest.fixture
async def people(db, clock, chat):
    """A member registers on 20/11 a model that started on 15/11; it waits for review."""
    clock.now = datetime(2026, 11, 20, 9, 0, tzinfo=HANOI).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        await session.execute(update(Model).values(starts_on=date(2026, 11, 15)))
    return coordinator, member


async def approve_on(coordinator, clock, day: datetime) -> None:
    clock.now = day.astimezone(UTC)
    await coordinator.send("/duyet")
    replies = await coordinator.click("✅ Duyệt")
    assert replies[0] == "Đã duyệt «Chuyển đổi số trong giảng dạy»."


async def test_approved_after_the_due_date_is_not_overdue_reminded_or_late(
    people, db, clock, app, api
):
    coordinator, member = people
    # November's report was due on 25/11; the model is approved the day after.
    await approve_on(coordinator, clock, datetime(2026, 11, 26, 9, 0, tzinfo=HANOI))
    await flush_outbox(app)
    # Through 27/11, when November's overdue reminder goes to those who were due: none here.
    received = await live_through(app, api, clock, datetime(2026, 11, 28, 12, tzinfo=HANOI))
    assert received == []
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert not any(line.startswith("Quá hạn báo cáo") for line in lines)
    assert "Báo cáo kỳ này: 0/0" in lines  # nothing was expected of it for November
    # The member may still report November, on time as far as they are concerned.
    replies = await report(member, "500")
    assert replies[0].splitlines()[0] == (
        "✅ Đã gửi báo cáo kỳ tháng 11/2026 cho mô hình «Chuyển đổi số trong giảng dạy»."
    )
    assert not any("Nộp muộn" in line for line in replies[0].splitlines())
    async with db.session() as session:
        assert (await session.scalar(select(Report))).late is False


async def test_approved_before_the_due_date_is_overdue_as_before(people, db, clock):
    coordinator, member = people
    await approve_on(coordinator, clock, datetime(2026, 11, 24, 9, 0, tzinfo=HANOI))
    clock.now = datetime(2026, 11, 28, 9, 0, tzinfo=HANOI).astimezone(UTC)
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert "Quá hạn báo cáo (1):" in lines
    assert "  – Nguyễn Văn An: Chuyển đổi số trong giảng dạy (25/11/2026)" in lines
    replies = await report(member, "500")
    assert "(Nộp muộn: hạn là 25/11/2026.)" in replies[0].splitlines()
