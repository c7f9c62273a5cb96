"""One way to write each thing (issue 12, item 8), checked the way a person reads it: numbers
with the Vietnamese separators, hours as "09:00", amounts as "2,5 tỷ đồng" in /donvi and
/thongke alike, targets as "nhà đại đoàn kết: 5 căn", and a model known by its code (MH12)
in the confirmation, /mohinh, its page, /duyet and /suadangky."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from storage.models import Model, Target
from tests.conftest import ADMIN_ID
from tests.test_registration import join, register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all
from tests.test_statistics import thongke

COORDINATOR = 6100


async def seeded_member(db, clock, chat):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    return await join(chat)


async def register_houses(person) -> list[str]:
    """A collective's registration with two targets, up to its summary."""
    await person.send("/dangky")
    await person.click("Tập thể")
    await person.send("Chi bộ Văn phòng")
    await person.send("15 người")
    await person.send("Vận động xây nhà đại đoàn kết")
    await person.click("An sinh xã hội")
    await person.send("Vận động doanh nghiệp và cán bộ đóng góp xây nhà cho hộ nghèo")
    await person.send("Mỗi năm xây ít nhất 5 căn nhà đại đoàn kết")
    await person.send("nhà đại đoàn kết")
    await person.send("căn")
    await person.send("5 căn")
    await person.click("➕ Thêm")
    await person.send("tiền vận động")
    await person.send("đồng")
    await person.send("2,5 tỷ")
    await person.click("Xong")
    await person.send("01/12/2026")
    return await person.send("31/12/2027")


async def code_of(db) -> str:
    async with db.session() as session:
        return await session.scalar(select(Model.code))


async def test_a_target_and_a_headcount_read_with_their_unit(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    summary = (await register_houses(person))[0]
    assert "• Số người: 15 người" in summary
    assert "  1. nhà đại đoàn kết: 5 căn" in summary
    assert "  2. tiền vận động: 2,5 tỷ đồng" in summary
    assert "·" not in summary.split("Chỉ tiêu")[1].split("Bắt đầu")[0]
    # The buttons to correct a target name it the same way.
    await person.click("✏️ Chỉ tiêu")
    assert "1. nhà đại đoàn kết: 5 căn" in person.buttons()


async def test_a_model_goes_by_its_code_everywhere(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    await register_houses(person)
    replies = await person.click("✅ Gửi đăng ký")
    code = await code_of(db)
    assert code and code.startswith("MH")
    assert replies[0].startswith(
        f"✅ Đã gửi đăng ký mô hình «Vận động xây nhà đại đoàn kết», mã {code}."
    )
    replies = await person.send("/mohinh")
    assert replies[0] == (
        f"Mô hình của bạn (1):\n{code} · Vận động xây nhà đại đoàn kết — Đã gửi, chờ duyệt"
    )
    page = (await person.click(f"{code} · Vận động xây nhà đại đoàn kết"))[0]
    assert page.startswith(f"📌 {code} · Vận động xây nhà đại đoàn kết\n")
    assert "  1. nhà đại đoàn kết: 5 căn" in page
    assert "  2. tiền vận động: 2,5 tỷ đồng" in page

    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    review = (await coordinator.send("/duyet"))[0]
    assert f"📌 {code} · Vận động xây nhà đại đoàn kết" in review
    assert "  1. nhà đại đoàn kết: 5 căn" in review


async def test_suadangky_takes_the_code_however_typed(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    await register_houses(person)
    await person.click("✅ Gửi đăng ký")
    code = await code_of(db)
    async with db.session() as session:
        await session.execute(update(Model).values(status="returned", review_note="Ghi rõ hơn"))
    number = code.removeprefix("MH")
    for typed in (code, code.lower(), f"MH-{number}", f"mh {number}"):
        replies = await person.send(f"/suadangky {typed}")
        assert replies[0].startswith("Sửa đăng ký «Vận động xây nhà đại đoàn kết»"), typed
        assert "  1. nhà đại đoàn kết: 5 căn" in replies[1]
        # Nothing changed yet: cancelled at once, ready for the next spelling.
        assert (await person.send("/huy"))[0].startswith("Đã hủy «Đăng ký mô hình».")
    assert await person.send("/suadangky MH99999") == ["Không tìm thấy mô hình này."]
    assert await person.send("/suadangky tùy ý") == ["Không tìm thấy mô hình này."]


async def test_suadangky_alone_opens_the_one_to_correct_or_lists_them(db, clock, chat):
    """Typed without a code: nothing to correct is said so; the one returned registration opens;
    two are listed to choose from, each opening at its summary."""
    person = await seeded_member(db, clock, chat)
    await register_quickly(person, "Bài giảng điện tử")
    assert await person.send("/suadangky") == [
        "Bạn không có đăng ký nào bị trả lại để sửa. Xem các mô hình của bạn: /mohinh."
    ]
    async with db.session() as session:
        await session.execute(update(Model).values(status="returned", review_note="Ghi rõ hơn"))
    replies = await person.send("/suadangky")
    assert replies[0].startswith("Sửa đăng ký «Bài giảng điện tử». Lý do trả lại: Ghi rõ hơn")
    assert (await person.send("/huy"))[0].startswith("Đã hủy «Đăng ký mô hình».")

    await register_quickly(person, "Thư viện số")
    async with db.session() as session:
        await session.execute(update(Model).values(status="returned", review_note="Ghi rõ hơn"))
        codes = dict((await session.execute(select(Model.title, Model.code))).all())
    replies = await person.send("/suadangky")
    assert replies == [
        "Bạn có 2 đăng ký cần sửa. Chọn một đăng ký (hoặc gõ /suadangky kèm mã, ví dụ: "
        "/suadangky MH12):"
    ]
    assert person.buttons() == [  # the newest first, as /mohinh lists them
        f"{codes['Thư viện số']} · Thư viện số",
        f"{codes['Bài giảng điện tử']} · Bài giảng điện tử",
    ]
    replies = await person.click(f"{codes['Thư viện số']} · Thư viện số")
    assert replies[0].startswith("Sửa đăng ký «Thư viện số».")


async def test_suadangky_while_another_registration_is_open_asks_first(db, clock, chat):
    """Half way through a new registration, /suadangky is not that form resumed: the person
    chooses to go on with it or leave it for the correction."""
    person = await seeded_member(db, clock, chat)
    await register_quickly(person, "Bài giảng điện tử")
    async with db.session() as session:
        await session.execute(update(Model).values(status="returned", review_note="Ghi rõ hơn"))
    await person.send("/dangky")
    await person.click("Cá nhân")
    replies = await person.send("/suadangky")
    assert replies[0].startswith("Bạn đang nhập dở «Đăng ký mô hình».")
    replies = await person.click("🗑 Bỏ bản nháp, làm việc mới")
    assert any(r.startswith("Sửa đăng ký «Bài giảng điện tử».") for r in replies), replies
    # Typed again while correcting it: the same one, resumed.
    assert "Đăng ký mô hình — kiểm tra lại" in "\n".join(await person.send("/suadangky"))


async def test_an_amount_in_dong_for_a_target_in_millions(db, clock, chat):
    """A target counted in «triệu đồng» takes the amount as people say it: «2,5 tỷ» is 2.500
    of them, not 2,5 billion millions; a headcount refuses money."""
    person = await seeded_member(db, clock, chat)
    await person.send("/dangky")
    await person.click("Tập thể")
    await person.send("Chi bộ Văn phòng")
    assert (await person.send("50.000.000 đồng"))[0].startswith(
        "⚠️ Câu hỏi này tính bằng «người», không phải «đồng»."
    )
    await person.send("15 người")
    await person.send("Quỹ khuyến học của chi bộ")
    await person.click("An sinh xã hội")
    await person.send("Vận động cán bộ và doanh nghiệp góp quỹ khuyến học")
    await person.send("Mỗi năm trao học bổng cho học sinh nghèo")
    await person.send("tiền vận động")
    await person.send("triệu đồng")
    await person.send("2,5 tỷ")
    await person.click("Xong")
    await person.send("01/12/2026")
    summary = (await person.send("31/12/2027"))[0]
    assert "  1. tiền vận động: 2.500 triệu đồng" in summary
    await person.click("✅ Gửi đăng ký")
    async with db.session() as session:
        assert await session.scalar(select(Target.target_value)) == 2500


async def test_one_amount_format_in_donvi_and_thongke(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    await register_houses(person)
    await person.click("✅ Gửi đăng ký")
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved"))
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    unit_state = (await coordinator.send("/donvi"))[0].splitlines()
    assert "• tiền vận động: 0/2,5 tỷ đồng (0%)" in unit_state
    assert "• nhà đại đoàn kết: 0/5 căn (0%)" in unit_state
    stats = (await thongke(chat(ADMIN_ID, "Quản trị")))[0].splitlines()
    assert "  – tiền vận động: 0/2,5 tỷ đồng (0%)" in stats
    assert "  – nhà đại đoàn kết: 0/5 căn (0%)" in stats


async def test_lengths_are_written_with_separators(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    await person.click("Chuyển đổi số")
    replies = await person.send("Soạn bài giảng " + "x" * 3154)
    assert replies[0].startswith("⚠️ Nội dung quá dài: 3.169 ký tự, tối đa 2.000.")


async def test_hours_read_as_a_time_of_day(db, clock, chat):
    person = await seeded_member(db, clock, chat)
    await person.send("/nhacnho")
    refused = (await person.send("21"))[0]
    assert refused.startswith("⚠️ 21:00 nằm trong giờ nghỉ (20:00–07:30)")
    await person.send("9 giờ")
    summary = (await person.send("/boqua"))[0]
    assert "• Giờ nhắc: 09:00" in summary
    replies = await person.click("✅ Xác nhận")
    assert replies[0].startswith("Nhắc nhở được gửi lúc 09:00")


@pytest.fixture
async def member(db, clock, chat):
    """A member with an approved model (1.061 «bài»), in November when its report is open."""
    clock.now = HANOI_0900_20_NOV
    person = await seeded_member(db, clock, chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    return person


async def test_a_reported_value_reads_with_its_unit(member):
    await member.send("/baocao")
    await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    await member.send("1.000")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    await member.click("Bỏ qua »")
    summary = (await member.click("Chưa"))[0]
    assert "• bài giảng điện tử: 1.000 bài\n" in summary
    replies = await member.click("✅ Gửi báo cáo")
    assert "• bài giảng điện tử: 1.000/1.061 bài (94%)" in replies[0]
