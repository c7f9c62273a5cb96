"""A coordinator follows up: the state of their units, reminders to those overdue, evaluations."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, select, update

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage.models import Evaluation, Member, Model, OutboxMessage
from tests.test_registration import MEMBER_ID, join, register_quickly
from tests.test_reports import report
from tests.test_statistics import thongke

COORDINATOR = 6100
STARTED = "⏳ Đang tìm người quá hạn báo cáo để nhắc…"
OTHER = 4343


@pytest.fixture
async def unit(db, clock, chat):
    """Chi bộ Văn phòng on 20/11/2026: a coordinator and two members with approved models."""
    from tests.test_reports import HANOI_0900_20_NOV

    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    an = await join(chat)
    await register_quickly(an, "Chuyển đổi số trong giảng dạy")
    bao = await join(chat, OTHER, "Trần Văn Bảo")
    await register_quickly(bao, "Số hóa hồ sơ một cửa")
    async with db.session() as session:
        # Both models run from November, so November's report is expected of both.
        await session.execute(update(Model).values(status="approved", starts_on=date(2026, 11, 1)))
    await report(an, "500")  # An reports on time for November; Bảo does not
    clock.advance(days=6)  # 26/11: past the due day
    return coordinator, an, bao


async def test_unit_state_with_overdue_and_totals(unit):
    coordinator, _, _ = unit
    replies = await coordinator.send("/donvi")
    assert replies[0].splitlines() == [
        "🏢 Chi bộ Văn phòng",
        "Đăng ký: 2 (tập thể 0, cá nhân 2)",
        "• Đang thực hiện: 1 · Đã duyệt: 1".replace(
            "Đang thực hiện: 1 · Đã duyệt: 1", "Đã duyệt: 1 · Đang thực hiện: 1"
        ),
        "Báo cáo kỳ này: 1/2",
        "Quá hạn báo cáo (1):",
        "  – Trần Văn Bảo: Số hóa hồ sơ một cửa (25/11/2026)",
        "Chỉ tiêu (đạt/đăng ký):",
        "• bài giảng điện tử: 500/2.122 bài (24%)",
    ]
    assert coordinator.buttons() == ["📝 Báo cáo kỳ này (1)", "🔔 Nhắc người quá hạn"]


async def test_paused_people_are_listed_apart(unit, db):
    coordinator, _, _ = unit
    async with db.session() as session:
        await session.execute(
            update(Member)
            .where(Member.full_name == "Trần Văn Bảo")
            .values(paused_until=date(2026, 12, 5))
        )
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert "Quá hạn báo cáo (1):" not in lines
    assert lines[-4:-2] == [
        "Đang tạm dừng nhắc (1):",
        "  – Trần Văn Bảo: Số hóa hồ sơ một cửa (đến 05/12/2026)",
    ]


async def test_remind_overdue_once_a_day(unit, app, api, db):
    coordinator, _, _ = unit
    await coordinator.send("/donvi")
    # A background job: it says it began; its outcome comes when it is done.
    assert await coordinator.click("🔔 Nhắc người quá hạn") == [STARTED]
    assert await coordinator.settle() == [
        STARTED,
        "Đã xếp lịch nhắc 1 người (0 người đã được nhắc hôm nay).",
    ]
    await coordinator.send("/donvi")
    await coordinator.click("🔔 Nhắc người quá hạn")
    replies = await coordinator.settle()
    assert replies[-1] == "Đã xếp lịch nhắc 0 người (1 người đã được nhắc hôm nay)."
    await flush_outbox(app)
    told = [c.params["text"] for c in api.sent(OTHER)]
    assert told[-1] == (
        "🔔 Cán bộ phụ trách nhắc bạn gửi báo cáo đã quá hạn:\n"
        "• «Số hóa hồ sơ một cửa» — kỳ tháng 11/2026, hạn 25/11/2026"
    )
    assert not [c for c in api.sent(MEMBER_ID) if c.params["text"].startswith("🔔 Cán bộ")]


async def test_evaluate_a_completed_model(unit, db, app, api):
    coordinator, _, _ = unit
    async with db.session() as session:
        await session.execute(
            update(Model)
            .where(Model.title == "Chuyển đổi số trong giảng dạy")
            .values(status="completed")
        )
    replies = await coordinator.send("/danhgia")
    assert replies == ["Đánh giá mô hình nào?"]
    replies = await coordinator.click("Chuyển đổi số trong giảng dạy")
    assert "• bài giảng điện tử: 500/1.061 bài (47%)" in replies[0]
    # The whole history before the evaluation: every report, whole.
    assert replies[1].splitlines()[:3] == [
        "Quá trình thực hiện (1 báo cáo, mới nhất trước):",
        "",
        "📝 Báo cáo số 1 · MH1 · kỳ tháng 11/2026",
    ]
    assert (
        replies[1].splitlines()[-1] == "Xem đầy đủ từng báo cáo và ảnh minh chứng: /xemmohinh MH1"
    )
    assert replies[2] == "Kết quả thực hiện mô hình:"
    await coordinator.click("Hoàn thành xuất sắc")
    await coordinator.send("Cách làm sáng tạo, nhân rộng được")
    await coordinator.click("Có, đề xuất")
    replies = await coordinator.click("✅ Lưu đánh giá")
    assert replies == ["Đã lưu đánh giá «Chuyển đổi số trong giảng dạy»: Hoàn thành xuất sắc."]
    async with db.session() as session:
        evaluation = await session.scalar(select(Evaluation))
        model = await session.get(Model, evaluation.model_id)
    assert (evaluation.level, evaluation.proposed) == ("excellent", True)
    assert model.status == "evaluated"
    await flush_outbox(app)
    assert api.sent(MEMBER_ID)[-1].params["text"] == (
        "📝 Mô hình «Chuyển đổi số trong giảng dạy» của bạn được đánh giá: Hoàn thành xuất sắc."
    )
    assert await coordinator.send("/danhgia") == [
        "Không có mô hình đã hoàn thành nào chờ đánh giá."
    ]


async def test_members_cannot_follow_up(unit, db):
    _, an, _ = unit
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
        unit_id = await session.scalar(select(Model.unit_id))
    assert await an.send("/donvi") == ["Bạn không có quyền thực hiện việc này."]
    assert await an.send("/danhgia") == ["Bạn không có quyền thực hiện việc này."]
    assert await an.press(f"ov:{unit_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert await an.press(f"ev:{model_id}") == ["Bạn không có quyền thực hiện việc này."]
    async with db.session() as session:
        overdue = select(OutboxMessage.key).where(OutboxMessage.key.like("overdue:%"))
        assert (await session.scalars(overdue)).all() == []
        assert await session.scalar(select(Evaluation)) is None


async def test_invites_show_who_joined_through_them(unit):
    coordinator, _, _ = unit
    replies = await coordinator.send("/moi")
    assert replies[0].splitlines() == [
        "Các link mời còn dùng được và người đã tham gia qua từng link "
        "(bấm 🚫 để thu hồi một link):",
        "🔗 DEMO-PT · Chi bộ Văn phòng · cán bộ phụ trách · đã dùng 1/1.000 · hết hạn 17/11/2036",
        "   Lê Văn Phụ Trách",
        "🔗 DEMO-TV · Chi bộ Văn phòng · thành viên · đã dùng 2/1.000 · hết hạn 17/11/2036",
        "   Nguyễn Văn An, Trần Văn Bảo",
    ]
    # Their one unit and the one role they may invite to are not asked: shown in the summary.
    assert replies[1].startswith("Link có hiệu lực bao nhiêu ngày? (bỏ qua: 30 ngày)")
    await coordinator.click("Bỏ qua »")
    summary = (await coordinator.click("Bỏ qua »"))[0]
    assert "• Đơn vị: Chi bộ Văn phòng\n• Vai trò: thành viên\n" in summary
    assert "✏️ Đơn vị" not in coordinator.buttons() and "✏️ Vai trò" not in coordinator.buttons()


async def test_overdue_stays_listed_into_the_next_month_and_ends_with_the_model(unit, clock):
    coordinator, _, _ = unit
    clock.now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # November is over, still unreported
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert "  – Trần Văn Bảo: Số hóa hồ sơ một cửa (25/11/2026)" in lines
    clock.now = datetime(2027, 9, 28, 2, 0, tzinfo=UTC)  # both models ended on 30/06/2027
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert not [line for line in lines if line.startswith("Quá hạn")]


async def test_admin_records_a_commendation_and_the_owner_is_told(unit, db, chat, app, api):
    from tests.conftest import ADMIN_ID

    coordinator, _, _ = unit
    async with db.session() as session:
        await session.execute(
            update(Model)
            .where(Model.title == "Chuyển đổi số trong giảng dạy")
            .values(status="completed")
        )
    await coordinator.send("/danhgia")
    await coordinator.click("Chuyển đổi số trong giảng dạy")
    await coordinator.click("Hoàn thành xuất sắc")
    await coordinator.click("Bỏ qua »")
    await coordinator.click("Có, đề xuất")
    await coordinator.click("✅ Lưu đánh giá")
    assert await coordinator.send("/khenthuong") == ["Bạn không có quyền thực hiện việc này."]
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/khenthuong") == [
        "Mô hình được đề xuất khen thưởng — chọn để ghi khen thưởng:"
    ]
    await admin.click("Chuyển đổi số trong giảng dạy")
    await admin.click("Đảng ủy Khối")
    await admin.click("Đã khen")
    await admin.send("123-QĐ/ĐUK")
    await admin.send("15/12/2026")
    replies = await admin.click("✅ Lưu khen thưởng")
    assert replies == [
        "Đã ghi khen thưởng «Chuyển đổi số trong giảng dạy»: Đảng ủy Khối — Đã khen."
    ]
    clock_free = await flush_outbox(app)
    assert clock_free >= 1
    told = [c.params["text"] for c in api.sent(MEMBER_ID) if c.params["text"].startswith("🏅")]
    assert told == [
        "🏅 Mô hình «Chuyển đổi số trong giảng dạy» của bạn được khen thưởng: Đảng ủy Khối "
        "(quyết định số 123-QĐ/ĐUK, ngày 15/12/2026)."
    ]
    stats = (await thongke(admin))[0]
    assert "  – Đảng ủy Khối: đã khen 1 cá nhân; đang đề nghị 0" in stats
    assert await coordinator.press("kt:1") == ["Bạn không có quyền thực hiện việc này."]


async def test_reminding_a_big_unit_takes_no_query_per_person(unit, db, app, clock):
    """Who is overdue is read at once and their reminders inserted in batches: 61 people
    overdue cost the statements one does."""
    coordinator, _, _ = unit
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def remind() -> int:
        await coordinator.send("/donvi")
        statements.clear()
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            await coordinator.click("🔔 Nhắc người quá hạn")
            await asyncio.gather(*app.bot_data["jobs"].values())
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(statements)

    one = await remind()
    async with db.session() as session:
        late = await session.scalar(select(Model).where(Model.title == "Số hóa hồ sơ một cửa"))
        for n in range(60):
            member = Member(full_name=f"Người {n}", created_at=clock())
            session.add(member)
            await session.flush()
            session.add(
                Model(
                    **{
                        column: getattr(late, column)
                        for column in (c.name for c in Model.__table__.columns)
                        if column not in ("id", "code", "owner_id", "title_key")
                    },
                    owner_id=member.id,
                    title_key=f"{late.title_key}-{n}",
                )
            )
    clock.advance(days=1)  # another day: everyone may be reminded again
    assert await remind() == one
    async with db.session() as session:
        day = select(OutboxMessage.key).where(OutboxMessage.key.like("overdue:%:2026-11-27"))
        assert len((await session.scalars(day)).all()) == 61
