"""Nothing a person typed is dropped without a word: a skip after photos keeps the photos, and
names nobody could read are refused, not stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.demo import seed
from storage.models import Identity, Member, Model, Report, ReportPhoto, Unit
from tests.conftest import ADMIN_ID
from tests.test_registration import join, register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


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
    assert (await person.send("Chi bộ Khu phố 3"))[0].startswith("Tập thể có bao nhiêu người?")
    async with db.session() as session:
        assert (await session.scalars(select(Model))).all() == []
