"""Admins set up units, invite links and campaigns through the same form engine."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.models import AuditEntry, Campaign, Invite, Membership, Unit
from storage.records.people import find_identity, get_or_create_identity
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID, make_coordinator


async def test_admin_adds_units_creates_an_invite_and_a_campaign(chat, db, api):
    admin = chat(ADMIN_ID, "Quản trị")
    assert (await admin.send("/cacdonvi"))[0].startswith("Chưa có đơn vị nào.")
    replies = await admin.send("/themdonvi")
    assert replies[-1].startswith("Mã đơn vị")
    assert (await admin.send("mã có dấu"))[0].startswith("⚠️ Mã chỉ gồm chữ không dấu")
    await admin.send("DUK")
    await admin.send("Đảng ủy Khối cơ quan và doanh nghiệp tỉnh")
    await admin.click("Bỏ qua »")
    replies = await admin.click("✅ Xác nhận")
    assert replies == ["Đã thêm đơn vị DUK — Đảng ủy Khối cơ quan và doanh nghiệp tỉnh."]
    await admin.send("/themdonvi")
    assert (await admin.send("duk"))[0].startswith("⚠️ Mã đơn vị duk đã có.")
    await admin.send("CB-VP")
    await admin.send("Chi bộ Văn phòng")
    await admin.click("Đảng ủy Khối cơ quan và doanh nghiệp tỉnh")
    await admin.click("✅ Xác nhận")
    replies = await admin.send("/cacdonvi")
    assert replies[0] == (
        "Các đơn vị (2):\n• CB-VP — Chi bộ Văn phòng (DUK)\n"
        "• DUK — Đảng ủy Khối cơ quan và doanh nghiệp tỉnh"
    )

    await admin.send("/moi")
    await admin.click("Chi bộ Văn phòng")
    assert admin.buttons()[:2] == ["thành viên", "cán bộ phụ trách"]
    await admin.click("thành viên")
    assert (await admin.send("0"))[0].startswith("⚠️ Số phải từ 1 trở lên.")
    await admin.send("7")
    await admin.send("1.000")
    replies = await admin.click("✅ Tạo link")
    async with db.session() as session:
        invite = await session.scalar(select(Invite))
    assert replies[0] == (
        "🔗 Link mời vào Chi bộ Văn phòng (vai trò thành viên):\n"
        f"https://t.me/dvk_test_bot?start={invite.code}\n"
        "Hiệu lực đến 03/12/2026 09:00, tối đa 1.000 lượt."
    )
    assert invite.max_uses == 1000 and invite.role == "member"

    await admin.send("/taodot")
    await admin.send("DVK2026")
    await admin.send("Dân vận khéo 2026–2027")
    await admin.send("01/01/2026")
    assert (await admin.send("31/12/2025"))[0].startswith("⚠️ Ngày phải từ 01/01/2026 trở đi.")
    await admin.send("31/12/2027")
    await admin.click("Hằng quý")
    assert (await admin.send("32"))[0].startswith("⚠️ Số không được lớn hơn 31.")
    await admin.send("20")
    await admin.send("01/01/2026")
    assert (await admin.send("01/01/2028"))[0].startswith("⚠️ Ngày không được sau 31/12/2027.")
    await admin.send("31/03/2026")
    replies = await admin.click("✅ Xác nhận")
    assert replies == [
        "Đã tạo đợt «Dân vận khéo 2026–2027» (DVK2026), từ 01/01/2026 đến 31/12/2027.",
        "Kỳ báo cáo: Hằng quý, hạn ngày 20; nhận đăng ký từ 01/01/2026 đến 31/03/2026.",
    ]
    async with db.session() as session:
        campaign = await session.scalar(select(Campaign))
    assert (campaign.cadence, campaign.due_day) == ("quarterly", 20)
    assert campaign.registration_closes_on == date(2026, 3, 31)
    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert (campaign.starts_on, campaign.ends_on) == (date(2026, 1, 1), date(2027, 12, 31))
    assert actions == [
        "admin.bootstrap",
        "unit.added",
        "unit.added",
        "invite.created",
        "campaign.created",
    ]

    # The link works: someone joins the unit with it.
    person = chat(8001, "Mai")
    await person.send(f"/start {invite.code}")
    await person.send("Đỗ Thị Mai")
    await person.click("Hội viên")
    await person.click("Bỏ qua »")
    async with db.session() as session:
        membership = await session.scalar(select(Membership))
    assert membership.invite_id == invite.id


async def test_admin_commands_are_refused_to_others(chat, db, clock):
    async with db.session() as session:
        unit = await add_unit(session, code="CB", name="Chi bộ", parent_id=None, now=clock())
    await make_coordinator(db, unit_id=unit.id, telegram_id=9001, now=clock())
    person = chat(9001, "Phụ trách")
    for command in ("/themdonvi", "/taodot", "/cacdonvi"):
        assert await person.send(command) == ["Bạn không có quyền thực hiện việc này."], command
    # A coordinator may invite members to their own units, but not coordinators: with one
    # unit, neither is asked, and the link is for members.
    await person.send("/moi")
    assert person.buttons() == ["Bỏ qua »", "✖ Hủy"]
    await person.click("Bỏ qua »")
    summary = (await person.click("Bỏ qua »"))[0]
    assert "• Đơn vị: Chi bộ\n• Vai trò: thành viên\n" in summary
    async with db.session() as session:
        assert await session.scalar(select(Unit).where(Unit.code == "X")) is None


async def test_admin_role_taken_away_mid_form(chat, db, clock):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id="9100",
            chat_id="9100",
            display_name=None,
            now=clock(),
        )
        identity.member.is_admin = True
    person = chat(9100, "Khác")
    await person.send("/themdonvi")
    await person.send("XYZ")
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id="9100")
        identity.member.is_admin = False
    replies = await person.send("Tên đơn vị")
    assert replies == ["Bạn không còn quyền thực hiện «Thêm đơn vị», nên phiên nhập đã được hủy."]
    async with db.session() as session:
        assert (await session.scalars(select(Unit))).all() == []


async def test_audit_log_filtered_by_kind_and_person(chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/themdonvi")
    await admin.send("DUK")
    await admin.send("Đảng ủy Khối")
    await admin.click("Bỏ qua »")
    await admin.click("✅ Xác nhận")
    clock.advance(minutes=5)
    await admin.send("/taodot")
    await admin.send("DVK2026")
    await admin.send("Dân vận khéo 2026")
    await admin.send("01/01/2026")
    await admin.send("31/12/2027")
    await admin.click("Hằng tháng")
    for _ in range(3):
        await admin.click("Bỏ qua »")
    await admin.click("✅ Xác nhận")
    replies = await admin.send("/nhatky")
    assert replies[0].splitlines()[:4] == [
        "🗂 Nhật ký (3 mục mới nhất):",
        "26/11/2026 09:05 · — · Tạo đợt phát động · đợt #1",
        "26/11/2026 09:00 · — · Thêm đơn vị · đơn vị #1",
        "26/11/2026 09:00 · — · Quản trị viên đầu tiên",
    ]
    replies = await admin.send("/nhatky unit")
    assert replies[0].splitlines()[1:2] == ["26/11/2026 09:00 · — · Thêm đơn vị · đơn vị #1"]
    assert await admin.send("/nhatky Nguyễn Văn Không Có") == ["Không có mục nhật ký nào khớp."]
    member = chat(777, "Lạ")
    assert await member.send("/nhatky") == ["Bạn không có quyền thực hiện việc này."]


async def test_import_template_in_the_chat_and_on_the_command_line(
    chat, api, tmp_path, monkeypatch
):
    import asyncio
    from io import BytesIO

    from openpyxl import load_workbook

    from bot.cli import main

    admin = chat(ADMIN_ID, "Quản trị")
    replies = await admin.send("/maunhap")
    assert replies == [
        "📄 Mẫu nhập dữ liệu: điền vào các trang Đợt phát động, Đơn vị, Đăng ký, Kết quả, "
        "Hội nghị, Khen thưởng. Trang «Hướng dẫn» có cách điền và một dòng ví dụ cho mỗi trang; "
        "trang đó không được nhập."
    ]
    call = next(c for c in api.calls if c.method == "sendDocument")
    assert int(call.params["chat_id"]) == ADMIN_ID
    name, content = call.params["_files"]["document"]
    assert name == "mau-nhap-dan-van-kheo.xlsx"
    book = load_workbook(BytesIO(content))
    assert book.sheetnames == [
        "Hướng dẫn",
        "Đợt phát động",
        "Đơn vị",
        "Đăng ký",
        "Kết quả",
        "Hội nghị",
        "Khen thưởng",
    ]
    assert [c.value for c in book["Đăng ký"][1]] == [
        "Mã mô hình",
        "Mã đợt",
        "Mã đơn vị",
        "Loại",
        "Tên tập thể hoặc cá nhân",
        "Tên mô hình",
        "Lĩnh vực",
        "Ngày đăng ký",
    ]
    assert book["Khen thưởng"].max_row == 1  # headers alone: the example is on «Hướng dẫn»
    member = chat(777, "Lạ")
    assert await member.send("/maunhap") == ["Bạn không có quyền thực hiện việc này."]
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["template", "mau.xlsx"]) == 0
    assert load_workbook(tmp_path / "mau.xlsx").sheetnames[:2] == ["Hướng dẫn", "Đợt phát động"]
