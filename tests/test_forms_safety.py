"""Nothing a person typed is dropped without a word: editing one target keeps the others, a
skip after photos keeps the photos, and names nobody could read are refused, not stored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.demo import seed
from storage.models import Identity, Member, Model, Report, ReportPhoto, Target, Unit
from tests.conftest import ADMIN_ID
from tests.test_registration import join, register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


# --- item 6: editing a repeated group ---------------------------------------------------------

THREE = [
    ("Nhà đại đoàn kết", "căn", "400"),
    ("Tiền vận động", "đồng", "130 tỷ"),
    ("Hộ thoát nghèo", "hộ", "50"),
]
ITEMS = [
    "1. Nhà đại đoàn kết: 400 căn",
    "2. Tiền vận động: 130 tỷ đồng",
    "3. Hộ thoát nghèo: 50 hộ",
]


async def to_summary(person) -> str:
    """A registration with three targets, up to its summary."""
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Vận động xây nhà đại đoàn kết")
    await person.click("An sinh xã hội")
    await person.send("Vận động doanh nghiệp, cán bộ đóng góp xây nhà cho hộ nghèo")
    await person.send("Xây nhà, vận động tiền và giúp hộ nghèo thoát nghèo")
    for i, (indicator, unit, value) in enumerate(THREE):
        await person.send(indicator)
        await person.send(unit)
        await person.send(value)
        await person.click("➕ Thêm" if i < len(THREE) - 1 else "Xong")
    await person.send("01/12/2026")
    summary = (await person.send("30/06/2027"))[0]
    assert "\n".join(f"  {item}" for item in ITEMS) in summary
    return summary


async def stored_targets(db) -> list[tuple[str, str, Decimal]]:
    async with db.session() as session:
        targets = (await session.scalars(select(Target).order_by(Target.position))).all()
    return [(t.indicator, t.unit_of_measure, t.target_value) for t in targets]


async def test_editing_one_target_keeps_the_others(seeded, chat, db):
    person = await join(chat)
    await to_summary(person)
    replies = await person.click("✏️ Chỉ tiêu")
    assert replies[0].startswith("✏️ Sửa: «Chỉ tiêu» có 3 mục.")
    assert person.buttons() == [
        *ITEMS,
        "➕ Thêm",
        "🗑 Xóa một mục",
        "✅ Xong",
        "« Quay lại",
        "✖ Hủy",
    ]
    replies = await person.click(ITEMS[1])
    assert replies[0].startswith("✏️ Sửa: Chỉ tiêu 2: Tên chỉ tiêu")
    assert "Hiện tại: Tiền vận động" in replies[0]
    assert "↩ Giữ nguyên" in person.buttons()
    await person.click("↩ Giữ nguyên")
    replies = await person.send("/boqua")  # the unit of measure: kept as well
    assert replies[0].startswith("✏️ Sửa: Chỉ tiêu 2: Cần đạt bao nhiêu đồng?")
    assert "Hiện tại: 130.000.000.000" in replies[0]
    replies = await person.send("150 tỷ")
    assert replies[0].startswith("✏️ Sửa: «Chỉ tiêu» có 3 mục.")
    assert person.buttons()[:3] == [ITEMS[0], "2. Tiền vận động: 150 tỷ đồng", ITEMS[2]]
    summary = (await person.click("✅ Xong"))[0]
    assert summary.startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")
    assert (
        "  1. Nhà đại đoàn kết: 400 căn\n"
        "  2. Tiền vận động: 150 tỷ đồng\n"
        "  3. Hộ thoát nghèo: 50 hộ"
    ) in summary
    await person.click("✅ Gửi đăng ký")
    assert await stored_targets(db) == [
        ("Nhà đại đoàn kết", "căn", Decimal(400)),
        ("Tiền vận động", "đồng", Decimal(150_000_000_000)),
        ("Hộ thoát nghèo", "hộ", Decimal(50)),
    ]


async def test_adding_and_removing_a_target_from_the_summary(seeded, chat, db):
    person = await join(chat)
    await to_summary(person)
    await person.click("✏️ Chỉ tiêu")
    replies = await person.click("➕ Thêm")
    assert replies[0].startswith("✏️ Sửa: Chỉ tiêu 4: Tên chỉ tiêu")
    await person.send("Nhà văn hóa")
    await person.send("cái")
    replies = await person.send("2")
    assert replies[0].startswith("✏️ Sửa: «Chỉ tiêu» có 4 mục.")
    assert person.buttons()[3] == "4. Nhà văn hóa: 2 cái"

    replies = await person.click("🗑 Xóa một mục")
    assert replies[0] == "Chọn mục cần xóa khỏi «Chỉ tiêu»:"
    replies = await person.click(ITEMS[0])
    assert replies[0].startswith("🗑 Đã xóa mục 1 (Nhà đại đoàn kết: 400 căn) khỏi «Chỉ tiêu».")
    assert person.buttons()[:3] == [
        "1. Tiền vận động: 130 tỷ đồng",
        "2. Hộ thoát nghèo: 50 hộ",
        "3. Nhà văn hóa: 2 cái",
    ]
    summary = (await person.click("✅ Xong"))[0]
    assert (
        "  1. Tiền vận động: 130 tỷ đồng\n"
        "  2. Hộ thoát nghèo: 50 hộ\n"
        "  3. Nhà văn hóa: 2 cái\n"
        "  🗑 Đã xóa: Nhà đại đoàn kết: 400 căn"
    ) in summary
    await person.click("✅ Gửi đăng ký")
    assert await stored_targets(db) == [
        ("Tiền vận động", "đồng", Decimal(130_000_000_000)),
        ("Hộ thoát nghèo", "hộ", Decimal(50)),
        ("Nhà văn hóa", "cái", Decimal(2)),
    ]


async def test_back_brings_a_removed_target_back(seeded, chat, db):
    person = await join(chat)
    await to_summary(person)
    await person.click("✏️ Chỉ tiêu")
    await person.click("🗑 Xóa một mục")
    await person.click(ITEMS[2])
    assert person.buttons()[:3] == [*ITEMS[:2], "➕ Thêm"]
    await person.click("« Quay lại")  # the list to remove from
    await person.click("« Quay lại")  # the list, all three again
    assert person.buttons()[:3] == ITEMS
    summary = (await person.click("✅ Xong"))[0]
    assert "Đã xóa" not in summary
    await person.click("✅ Gửi đăng ký")
    assert len(await stored_targets(db)) == 3


async def test_the_last_target_cannot_be_removed(seeded, chat, db):
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Số hóa hồ sơ")
    await person.click("Chuyển đổi số")
    await person.send("Quét và lưu hồ sơ lên hệ thống")
    await person.send("Mọi hồ sơ được số hóa")
    await person.send("hồ sơ")
    await person.send("bộ")
    await person.send("300")
    await person.click("Xong")
    await person.send("01/12/2026")
    await person.send("30/06/2027")
    await person.click("✏️ Chỉ tiêu")
    # One target left: it can be changed, not removed.
    assert "🗑 Xóa một mục" not in person.buttons()
    replies = await person.click("✅ Xong")
    assert "  1. hồ sơ: 300 bộ" in replies[0]


# --- item 7: /boqua after photos ---------------------------------------------------------------


@pytest.fixture
async def reporter(db, clock, chat):
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    return person


async def test_skip_after_photos_keeps_them(reporter, db):
    await reporter.send("/baocao")
    await reporter.send("Hoàn thành bài giảng điện tử cho khối 10")
    await reporter.send("500")
    await reporter.send_photo()
    assert (await reporter.send_photo())[0].startswith("Đã nhận 2 ảnh.")
    replies = await reporter.send("/boqua")
    assert replies[0].startswith("Khó khăn")
    await reporter.click("Bỏ qua »")
    await reporter.click("Bỏ qua »")
    summary = (await reporter.click("Chưa"))[0]
    assert "• Ảnh minh chứng: 2 ảnh" in summary
    await reporter.click("✅ Gửi báo cáo")
    async with db.session() as session:
        assert await session.scalar(select(Report)) is not None
        photos = (await session.scalars(select(ReportPhoto))).all()
    assert [p.file_id for p in photos] == ["AgAD", "AgAD"]


# --- item 16: names nobody could read ---------------------------------------------------------


async def test_joining_with_an_invisible_name_is_refused(seeded, chat, db):
    person = chat(4343, "Ẩn")
    await person.send("/start DEMO-TV")
    replies = await person.send("\u3164\u3164")
    assert replies[0].startswith("⚠️ Bạn chưa nhập gì.")
    replies = await person.send("Lê\u3164Hoa")
    assert replies[0].startswith("⚠️ Tên có ký tự ẩn (không nhìn thấy)")
    assert replies[0].endswith("Họ và tên của bạn?")
    replies = await person.send("Nguy\u0435n Văn An")
    assert replies[0].startswith("⚠️ Chữ «Nguy\u0435n» trộn chữ Latinh với chữ Hy Lạp hoặc Kirin")
    replies = await person.send("Z\u0301\u0301\u0301\u0301algo")
    assert replies[0].startswith("⚠️ Tên có quá nhiều dấu chồng lên một chữ")
    async with db.session() as session:
        member = await session.scalar(
            select(Member).join(Identity).where(Identity.external_id == "4343")
        )
    assert member is None or member.full_name is None
    # A real name, typed decomposed, is stored composed.
    await person.send("\u200bNguye\u0302\u0303n Thi\u0323 A\u0301nh Tuye\u0302\u0301t")
    await person.click("Công chức")
    await person.click("Bỏ qua »")
    async with db.session() as session:
        member = await session.scalar(
            select(Member).join(Identity).where(Identity.external_id == "4343")
        )
    assert member.full_name == "Nguyễn Thị Ánh Tuyết"


async def test_a_unit_named_with_fillers_is_refused(chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/themdonvi")
    await admin.send("CB-X")
    replies = await admin.send("Chi bộ\u3164Khu phố 3")
    assert replies[0].startswith("⚠️ Tên có ký tự ẩn (không nhìn thấy)")
    assert replies[0].endswith("Tên đơn vị?")
    replies = await admin.send("\u3164\u200b")
    assert replies[0].startswith("⚠️ Bạn chưa nhập gì.")
    replies = await admin.send("Chi b\u03bf Khu phố 3")
    assert replies[0].startswith("⚠️ Chữ «b\u03bf» trộn chữ Latinh")
    async with db.session() as session:
        assert (await session.scalars(select(Unit))).all() == []
    await admin.send("Chi bộ Khu phố 3\u200b")
    await admin.click("Bỏ qua »")
    replies = await admin.click("✅ Xác nhận")
    assert replies == ["Đã thêm đơn vị CB-X — Chi bộ Khu phố 3."]


async def test_renaming_a_unit_runs_the_same_check(seeded, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/suadonvi")
    await admin.click("Chi bộ Văn phòng")
    await admin.click("✏️ Đổi tên")
    replies = await admin.send("A" + "\u0301" * 100)
    assert replies[0].startswith("⚠️ Tên có quá nhiều dấu chồng lên một chữ")
    async with db.session() as session:
        names = (await session.scalars(select(Unit.name))).all()
    assert "Chi bộ Văn phòng" in names and not any("\u0301" in n for n in names)


async def test_a_collective_named_with_fillers_is_refused(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Tập thể")
    replies = await person.send("\u3164Chi\u3164bộ")
    assert replies[0].startswith("⚠️ Tên có ký tự ẩn (không nhìn thấy)")
    replies = await person.send("123")
    assert replies[0].startswith("⚠️ Tên phải có ít nhất một chữ cái")
    assert (await person.send("Chi bộ Khu phố 3"))[0].startswith("Tập thể có bao nhiêu người")
    async with db.session() as session:
        assert (await session.scalars(select(Model))).all() == []
