"""A month of reminders on a controllable clock, through the real Application: the sweep
decides who is due, the outbox delivers, the recording Bot API shows who got what and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from bot.telegram.schedule import run_sweep
from storage import outbox
from storage.models import Identity, Member, Model, OutboxMessage
from tests.test_registration import MEMBER_ID, join, register_quickly

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
async def member(db, clock, chat):
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=HANOI).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")  # runs 01/12/2026–30/06/2027
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved"))
    return person


async def live_through(app, api, clock, until: datetime, step=timedelta(hours=1)):
    """Advance the clock step by step, running the sweep and the sender as the jobs would.
    Returns (local time, text) of every message the bot sent on its own to the member."""
    received = []
    while clock.now < until:
        clock.advance(seconds=step.total_seconds())
        await run_sweep(app)
        before = len(api.calls)
        await flush_outbox(app)
        for call in api.calls[before:]:
            if call.method == "sendMessage" and int(call.params["chat_id"]) == MEMBER_ID:
                received.append(
                    (
                        clock.now.astimezone(HANOI).strftime("%d/%m %H:%M"),
                        call.params["text"].splitlines()[0],
                    )
                )
    return received


async def test_a_month_of_reminders(member, app, api, clock):
    received = await live_through(app, api, clock, datetime(2027, 1, 1, tzinfo=HANOI))
    assert received == [
        (
            "22/12 08:00",
            "⏰ Nhắc nhở: báo cáo kỳ tháng 12/2026 của mô hình "
            "«Chuyển đổi số trong giảng dạy» đến hạn ngày 25/12/2026.",
        ),
        (
            "25/12 08:00",
            "⏰ Hôm nay (25/12/2026) là hạn nộp báo cáo kỳ tháng 12/2026 của mô hình "
            "«Chuyển đổi số trong giảng dạy».",
        ),
        (
            "27/12 08:00",
            "⚠️ Báo cáo kỳ tháng 12/2026 của mô hình «Chuyển đổi số trong giảng dạy» "
            "đã quá hạn (hạn 25/12/2026). Vui lòng gửi sớm.",
        ),
    ]
    # Each reminder carries a button that starts the report for that model.
    replies = await member.click("📝 Báo cáo ngay")
    assert replies[0].startswith("Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy»")


async def test_nothing_after_the_report_is_in(member, app, api, clock):
    received = await live_through(app, api, clock, datetime(2026, 12, 23, 12, tzinfo=HANOI))
    assert [when for when, _ in received] == ["22/12 08:00"]
    await member.send("/baocao")
    await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    await member.send("200")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Chưa")
    await member.click("✅ Gửi báo cáo")
    received = await live_through(app, api, clock, datetime(2027, 1, 1, tzinfo=HANOI))
    assert received == []


async def test_quiet_hours_move_a_late_evening_reminder_to_the_morning(member, app, api, clock, db):
    async with db.session() as session:
        await session.execute(update(Member).values(reminder_hour=21))
    received = await live_through(
        app, api, clock, datetime(2026, 12, 24, tzinfo=HANOI), step=timedelta(minutes=30)
    )
    assert [when for when, _ in received] == ["23/12 07:30"]


async def test_paused_member_gets_nothing_until_the_pause_ends(member, app, api, clock):
    replies = await member.send("/nhacnho")
    assert replies[0] == "Nhắc nhở được gửi lúc 08:00 (không gửi trong giờ nghỉ 20:00–07:30)."
    assert (await member.send("25"))[0].startswith("⚠️ Số không được lớn hơn 23.")
    await member.send("9")
    assert (await member.send("01/11/2026"))[0].startswith("⚠️ Ngày phải từ 30/11/2026 trở đi.")
    await member.send("26/12/2026")
    replies = await member.click("✅ Xác nhận")
    assert replies == [
        "Nhắc nhở được gửi lúc 09:00 (không gửi trong giờ nghỉ 20:00–07:30).\n"
        "Đang tạm dừng nhắc nhở đến hết ngày 26/12/2026."
    ]
    received = await live_through(app, api, clock, datetime(2027, 1, 1, tzinfo=HANOI))
    assert [when for when, _ in received] == ["27/12 09:00"]


async def test_one_nudge_for_an_unfinished_registration(member, app, api, clock, db):
    await member.send("/dangky")
    await member.click("Cá nhân")
    await member.send("Mô hình còn dang dở")
    received = await live_through(app, api, clock, clock.now + timedelta(days=3))
    nudges = [text for _, text in received if text.startswith("Bạn còn phần")]
    assert nudges == [
        "Bạn còn phần «Đăng ký mô hình» đang nhập dở. Bấm để tiếp tục từ chỗ đã dừng."
    ]
    assert [when for when, text in received if text.startswith("Bạn còn phần")] == ["01/12 09:00"]
    replies = await member.click("▶️ Tiếp tục")
    assert replies == ["Mô hình thuộc lĩnh vực nào?"]
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    assert len([k for k in keys if k.startswith("nudge:")]) == 1


async def test_sweeps_twice_at_the_same_minute_queue_once(member, app, clock, db):
    clock.now = datetime(2026, 12, 22, 8, 5, tzinfo=HANOI).astimezone(UTC)
    assert (await run_sweep(app))[0] == 1
    assert (await run_sweep(app))[0] == 0
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    model_id = 1
    assert [k for k in keys if k.startswith("remind:")] == [
        f"remind:before:{await member_id(db)}:{model_id}:2026-12"
    ]


async def member_id(db) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(MEMBER_ID))
        )


async def test_replies_do_not_wait_behind_queued_reminders(member, db, clock, api):
    who = await member_id(db)
    async with db.session() as session:
        for n in range(300):
            await outbox.enqueue(
                session,
                key=f"broadcast-test:{n}",
                member_id=who,
                payload={"text": f"Thông báo {n}", "choices": []},
                now=clock(),
            )
    replies = await member.send("/help")
    assert replies[0].startswith("Việc bạn có thể làm:")
    async with db.session() as session:
        statuses = set((await session.scalars(select(OutboxMessage.status))).all())
    assert statuses == {"pending"}  # the reply went straight out; the queue is untouched


async def test_an_hour_in_quiet_hours_is_refused(member):
    await member.send("/nhacnho")
    replies = await member.send("21")
    assert replies[0].startswith(
        "⚠️ 21:00 nằm trong giờ nghỉ (20:00–07:30), khi bot không gửi nhắc nhở. "
        "Hãy chọn một giờ từ 8–19."
    )
    assert (await member.send("7 giờ"))[0].startswith("⚠️ 07:00 nằm trong giờ nghỉ")
    assert (await member.send("19"))[0].startswith("Tạm dừng nhắc nhở đến ngày nào")


async def test_no_burst_of_old_reminders_after_unblocking(member, app, api, clock, db):
    from telegram import Update

    from tests.test_edge_cases import my_chat_member

    blocked = my_chat_member(member.user, "member", "kicked")
    await app.process_update(
        Update.de_json({"update_id": 990001, "my_chat_member": blocked}, app.bot)
    )
    quiet = await live_through(
        app, api, clock, datetime(2027, 2, 10, tzinfo=HANOI), step=timedelta(hours=6)
    )
    assert quiet == []
    await member.send("/help")  # back: reachable again
    before = len(api.calls)
    await flush_outbox(app)
    assert [c for c in api.calls[before:] if c.method == "sendMessage"] == []
    async with db.session() as session:
        pending = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        ).all()
    assert pending == []
