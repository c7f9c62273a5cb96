"""Progress reports through the real Application: photos, late, replaced, bad numbers, and the
model page with running totals against targets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from storage.models import Campaign, Model, Report, ReportPhoto, ReportValue, Target
from tests.test_registration import join, register_quickly

HANOI_0900_20_NOV = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
async def member(db, clock, chat):
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    return person


async def approve_all(db) -> None:
    """Approve every model, running from November so that November's report is open."""
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved", starts_on=date(2026, 11, 1)))


async def report(person, value: str = "500", *, photos: int = 0, completed: str = "Chưa"):
    replies = await person.send("/baocao")
    assert replies[0] == (
        "Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy», kỳ tháng 11/2026 "
        "(hạn nộp 25/11/2026)."
    )
    assert replies[1] == "Kỳ này đã làm được những gì?"
    await person.send("Hoàn thành bài giảng điện tử cho khối 10")
    await person.send(value)
    for _ in range(photos):
        await person.send_photo()
    if photos:
        await person.click("✅ Xong")
    else:
        await person.click("Bỏ qua »")
    await person.click("Bỏ qua »")
    await person.send("Đề nghị hỗ trợ máy chiếu")
    await person.click(completed)
    return await person.click("✅ Gửi báo cáo")


async def test_report_with_photos_and_bad_input(member, db):
    await member.send("/baocao")
    assert (await member.send("ít"))[0].startswith("⚠️ Nội dung quá ngắn (tối thiểu 10 ký tự).")
    replies = await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    assert replies[0].startswith("Kết quả kỳ này cho chỉ tiêu «bài giảng điện tử» (đơn vị: bài;")
    for bad, message in (
        ("năm trăm", "⚠️ Số không hợp lệ"),
        ("1.5", "⚠️ «1.5» không phải một số theo kiểu Việt Nam: dấu chấm chỉ dùng"),
        ("-3", "⚠️ Không nhận số âm. Hãy gõ một số từ 0 trở lên."),
        ("2 cái", "⚠️ Câu hỏi này tính bằng «bài», không phải «cái»."),
        ("50.000.000 đồng", "⚠️ Câu hỏi này tính bằng «bài», không phải «đồng»."),
        ("5 😀", "⚠️ Số không hợp lệ"),
    ):
        assert (await member.send(bad))[0].startswith(message), bad
    replies = await member.send("1.000")
    assert replies[0].startswith("Gửi ảnh minh chứng")
    assert (await member.send("ảnh đây"))[0].startswith("⚠️ Ở bước này hãy gửi ảnh")
    assert (await member.send_photo())[0].startswith("Đã nhận 1 ảnh.")
    assert (await member.send_photo(caption="lớp 10A"))[0].startswith("Đã nhận 2 ảnh.")
    await member.click("✅ Xong")
    await member.send("Thiếu máy chiếu ở hai phòng học")
    await member.click("Bỏ qua »")
    replies = await member.click("Chưa")
    summary = replies[0]
    assert "• bài giảng điện tử: 1.000 bài" in summary
    assert "• Ảnh minh chứng: 2 ảnh" in summary
    assert "• Đề xuất: (bỏ trống)" in summary
    replies = await member.click("✅ Gửi báo cáo")
    assert replies[0].splitlines() == [
        "✅ Đã gửi báo cáo kỳ tháng 11/2026 cho mô hình «Chuyển đổi số trong giảng dạy».",
        "Tiến độ so với chỉ tiêu:",
        "• bài giảng điện tử: 1.000/1.061 bài (94%)",
    ]
    async with db.session() as session:
        stored = await session.scalar(select(Report))
        photos = (await session.scalars(select(ReportPhoto))).all()
        value = await session.scalar(select(ReportValue.value))
        model = await session.scalar(select(Model))
    assert (stored.late, stored.completed, stored.replaced) == (False, False, 0)
    assert stored.difficulties == "Thiếu máy chiếu ở hai phòng học" and stored.proposals is None
    assert [p.file_id for p in photos] == ["AgAD", "AgAD"]
    assert value == Decimal(1000)
    assert model.status == "in_progress"


async def test_late_report_is_accepted_and_marked(member, clock, db):
    clock.advance(days=6)  # 26/11, after the due day 25
    replies = await report(member, "1.061")
    assert replies[0].splitlines()[:2] == [
        "✅ Đã gửi báo cáo kỳ tháng 11/2026 cho mô hình «Chuyển đổi số trong giảng dạy».",
        "(Nộp muộn: hạn là 25/11/2026.)",
    ]
    assert "• bài giảng điện tử: 1.061/1.061 bài (100%)" in replies[0]
    async with db.session() as session:
        assert (await session.scalar(select(Report))).late is True


async def test_second_report_replaces_the_first_after_confirmation(member, db):
    await report(member, "300")
    replies = await member.send("/baocao")
    assert replies == [
        "Kỳ tháng 11/2026 đã có báo cáo (gửi lúc 20/11/2026 09:00). "
        "Báo cáo mới sẽ thay thế báo cáo đó."
    ]
    assert member.buttons() == ["📝 Báo cáo lại, thay thế"]
    replies = await member.click("📝 Báo cáo lại, thay thế")
    assert replies[-1] == "Kỳ này đã làm được những gì?"
    await member.send("Hoàn thành bài giảng điện tử cho khối 10 và 11")
    await member.send("700")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Chưa")
    replies = await member.click("✅ Gửi báo cáo")
    assert "• bài giảng điện tử: 700/1.061 bài (66%)" in replies[0]
    async with db.session() as session:
        reports = (await session.scalars(select(Report))).all()
        values = (await session.scalars(select(ReportValue.value))).all()
        achieved = (await session.scalars(select(Target.achieved))).all()
    assert len(reports) == 1 and reports[0].replaced == 1
    assert values == [Decimal(700)]
    # The running total statistics read follows the replacement: 700, not 300 + 700.
    assert achieved == [Decimal(700)]


async def test_completed_model_and_the_model_page(member, db):
    replies = await report(member, "1.061", photos=1, completed="Có")
    assert "Mô hình được ghi nhận là đã hoàn thành." in replies[0]
    replies = await member.send("/mohinh")
    assert replies[0].endswith("— Đã hoàn thành")
    replies = await member.click("MH1 · Chuyển đổi số trong giảng dạy")
    page = replies[0]
    assert "Tiến độ so với chỉ tiêu:\n• bài giảng điện tử: 1.061/1.061 bài (100%)" in page
    assert "• Kỳ tháng 11/2026: gửi 20/11/2026 09:00" in page
    assert await member.send("/baocao") == [
        "Bạn chưa có mô hình nào đã được duyệt để báo cáo. Xem trạng thái bằng /mohinh."
    ]


async def test_choosing_among_several_models_and_refusals(member, db, chat):
    await register_quickly(member, "Cải cách hành chính tại bộ phận một cửa")
    assert await member.send("/baocao") == [
        "Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy», kỳ tháng 11/2026 "
        "(hạn nộp 25/11/2026).",
        "Kỳ này đã làm được những gì?",
    ]  # the second model is only submitted: one to report on
    await member.send("/huy")
    await approve_all(db)
    assert await member.send("/baocao") == ["Báo cáo cho mô hình nào?"]
    assert member.buttons() == [
        "Chuyển đổi số trong giảng dạy",
        "Cải cách hành chính tại bộ phận một cửa",
    ]
    replies = await member.click("Cải cách hành chính tại bộ phận một cửa")
    assert "«Cải cách hành chính tại bộ phận một cửa»" in replies[0]
    # Someone else's model through forged button data: refused.
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id).order_by(Model.id))
    other = await join(chat, 4343, "Trần Văn Bảo")
    assert await other.press(f"rp:{model_id}") == ["Không tìm thấy mô hình này."]
    assert await other.send("/baocao") == [
        "Bạn chưa có mô hình nào đã được duyệt để báo cáo. Xem trạng thái bằng /mohinh."
    ]


async def test_reports_follow_the_models_dates(member, clock, db):
    # After November, December's report is open, not November's once it is in...
    await report(member, "300")
    clock.now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    replies = await member.send("/baocao")
    assert replies[0].startswith(
        "Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy», kỳ tháng 12/2026"
    )
    await member.send("/huy")
    # ... a month left unreported can still be reported, late, in the next month ...
    clock.now = datetime(2027, 2, 2, 2, 0, tzinfo=UTC)
    replies = await member.send("/baocao")
    assert replies[0].startswith(
        "Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy», kỳ tháng 01/2027"
    )
    await member.send("/huy")
    # ... and after the model's end nothing is open.
    clock.now = datetime(2027, 9, 28, 2, 0, tzinfo=UTC)
    assert await member.send("/baocao") == [
        "Mô hình thực hiện từ 01/11/2026 đến 30/06/2027: hiện không có kỳ báo cáo nào đang mở."
    ]


async def test_a_report_begun_before_the_rhythm_changed_is_not_filed(member, db):
    """The campaign turns quarterly (/suadot) while a monthly report form is open: confirming
    it would file a month's report in a quarterly campaign, so it is refused."""
    await member.send("/baocao")
    await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    await member.send("500")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Chưa")
    async with db.session() as session:
        await session.execute(update(Campaign).values(cadence="quarterly"))
    replies = await member.click("✅ Gửi báo cáo")
    assert replies[0].startswith("⚠️ Kỳ báo cáo của đợt vừa được thay đổi")
    async with db.session() as session:
        assert (await session.scalars(select(Report))).all() == []
