"""Digests on a controllable clock, through the real Application and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from bot.telegram.schedule import run_digests
from storage.models import OutboxMessage
from tests.conftest import ADMIN_ID
from tests.test_registration import join, register_quickly

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
COORDINATOR = 6100


@pytest.fixture
async def coordinator(db, clock, chat):
    # Thursday 26/11/2026 09:00 in Hà Nội.
    clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=HANOI).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    return await join(chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ")


async def digests_until(app, api, clock, until, chat_id=COORDINATOR, step=timedelta(hours=1)):
    got = []
    while clock.now < until:
        clock.advance(seconds=step.total_seconds())
        await run_digests(app)
        before = len(api.calls)
        await flush_outbox(app)
        for call in api.calls[before:]:
            if (
                call.method in ("sendMessage", "sendPhoto")
                and int(call.params["chat_id"]) == chat_id
            ):
                when = clock.now.astimezone(HANOI).strftime("%a %d/%m %H:%M")
                got.append((when, call.method, call.params.get("text", "")))
    return got


async def test_weekly_digest_on_monday_morning(coordinator, chat, app, api, clock, db):
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    got = await digests_until(app, api, clock, datetime(2026, 12, 1, 12, tzinfo=HANOI))
    # A coordinator of one unit without sub-units: a chart of one bar would say nothing more.
    assert [(when, method) for when, method, _ in got] == [("Mon 30/11 08:00", "sendMessage")]
    text = got[0][2]
    assert text.splitlines()[:3] == [
        "📊 Tóm tắt tình hình từ 23/11/2026 08:00",
        "• Đăng ký mới chờ duyệt: 1 (tổng số đang chờ: 1)",
        "• Báo cáo nhận được: 0",
    ]
    assert "• bài giảng điện tử: 0/1.061 bài (0%)" in text
    replies = await coordinator.click("📥 Mở hàng chờ duyệt")
    assert replies[0].startswith("📥 Chờ duyệt: 1")


async def test_nothing_new_says_so_in_one_line(coordinator, app, api, clock):
    got = await digests_until(app, api, clock, datetime(2026, 12, 8, 12, tzinfo=HANOI))
    assert got == [
        (
            "Mon 30/11 08:00",
            "sendMessage",
            "📊 Không có gì mới kể từ bản tóm tắt trước (23/11/2026).",
        ),
        (
            "Mon 07/12 08:00",
            "sendMessage",
            "📊 Không có gì mới kể từ bản tóm tắt trước (30/11/2026).",
        ),
    ]


async def test_daily_schedule_and_off(coordinator, app, api, clock):
    replies = await coordinator.send("/tomtat")
    assert replies[0] == "Bạn nhận bản tóm tắt vào Thứ Hai hằng tuần lúc 08:00."
    await coordinator.click("Hằng ngày")
    await coordinator.send("17")
    replies = await coordinator.click("✅ Xác nhận")
    assert replies == ["Bạn nhận bản tóm tắt hằng ngày lúc 17:00."]
    got = await digests_until(app, api, clock, datetime(2026, 11, 28, 20, tzinfo=HANOI))
    assert [when for when, _, _ in got] == ["Thu 26/11 17:00", "Fri 27/11 17:00", "Sat 28/11 17:00"]
    await coordinator.send("/tomtat")
    await coordinator.click("Không nhận")
    await coordinator.click("✅ Xác nhận")
    assert (
        await digests_until(
            app, api, clock, datetime(2026, 12, 8, tzinfo=HANOI), step=timedelta(hours=3)
        )
        == []
    )


async def test_two_sweeps_at_the_scheduled_minute_queue_one(coordinator, app, clock, db):
    clock.now = datetime(2026, 11, 30, 8, 0, 30, tzinfo=HANOI).astimezone(UTC)
    # This coordinator, and the demo's admin and coordinator (terminal people).
    assert await run_digests(app) == 3
    assert await run_digests(app) == 0
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    assert len([k for k in keys if k.startswith("digest:")]) == 3


async def test_admins_get_the_whole_organisation(coordinator, chat, app, api, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    got = await digests_until(
        app, api, clock, datetime(2026, 11, 30, 9, tzinfo=HANOI), chat_id=ADMIN_ID
    )
    # The organisation has one top unit: the chart shows the units under it.
    assert [method for _, method, _ in got] == ["sendPhoto", "sendMessage"]
    assert "• Đăng ký mới chờ duyệt: 1 (tổng số đang chờ: 1)" in got[1][2]
    photo = next(c for c in reversed(api.calls) if c.method == "sendPhoto")
    (_, png), *_ = photo.params["_files"].values()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(png) < 300_000
