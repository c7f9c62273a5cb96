"""/toi: what the bot keeps about the person, readable and as a JSON file (a document on
Telegram, a signed link on Zalo), audited as a view of personal data; the name, category and
phone corrected from there, checked as at joining and audited without their values."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import AuditEntry, Identity, Member
from tests.test_both_channels import MEMBER, demo, join, register, world  # noqa: F401 (fixtures)
from tests.test_consent import member_before_the_notice


async def member_of(db, world, user_id: int) -> Member:  # noqa: F811
    async with db.session() as session:
        return await session.scalar(
            select(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.channel == world.channel, Identity.external_id == str(user_id))
        )


async def audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_toi_shows_everything_kept_and_gives_it_as_a_json_file(world, demo, db):  # noqa: F811
    person = await join(world, MEMBER, "Nguyễn Văn An")
    await register(person)

    page = (await person.send("/toi"))[0]

    channel = "Telegram" if world.name == "telegram" else "Zalo"
    for line in (
        "👤 Dữ liệu bot lưu về bạn",
        "• Họ và tên: Nguyễn Văn An",
        "• Đối tượng: Công chức",
        "• Điện thoại: (không có)",
        "• Đơn vị và vai trò:\n  – Chi bộ Văn phòng (thành viên), ",
        "• Mô hình đã đăng ký (1):\n  – MH1 · Chuyển đổi số trong giảng dạy — Đã gửi, chờ duyệt",
        "• Số báo cáo tiến độ đã gửi: 0",
        "  – phiên bản 2026-12b, lúc ",
        f"• Tài khoản liên kết:\n  – {channel} (An), ",
    ):
        assert line in page, line
    assert await audit(db, "personal.exported") == []  # reading the page is not an export

    await person.choose("📥 Tải về (JSON)")

    [(name, content)] = await world.files(MEMBER)
    assert name == "du-lieu-cua-toi.json"
    data = json.loads(content)
    assert data["profile"]["full_name"] == "Nguyễn Văn An"
    assert data["profile"]["category"] == "cong_chuc" and data["profile"]["phone"] is None
    assert [u["unit"] for u in data["units"]] == ["Chi bộ Văn phòng"]
    assert data["models"] == [
        {"code": "MH1", "title": "Chuyển đổi số trong giảng dạy", "status": "submitted"}
    ]
    assert data["reports"] == 0
    assert [c["notice_version"] for c in data["consents"]] == ["2026-12b"]
    assert [(c["channel"], c["id"]) for c in data["channels"]] == [(world.channel, str(MEMBER))]
    member = await member_of(db, world, MEMBER)
    [exported] = await audit(db, "personal.exported")
    assert (exported.actor_id, exported.object_type, exported.object_id) == (
        member.id,
        "member",
        member.id,
    )


async def test_name_category_and_phone_are_corrected_from_toi(world, demo, db):  # noqa: F811
    person = await join(world, MEMBER, "Nguyễn Văn An")
    await person.send("/toi")
    replies = await person.choose("✏️ Sửa thông tin")
    assert replies[-1].startswith("📋 Sửa thông tin cá nhân — kiểm tra lại thông tin:")
    assert "• Họ và tên: Nguyễn Văn An" in replies[-1]

    await person.choose("✏️ Họ và tên")
    await person.send("Nguyễn Văn Ân")
    await person.choose("✏️ Điện thoại")
    replies = await person.send("12345")
    assert "Số điện thoại không hợp lệ" in replies[-1]  # checked as at joining
    summary = (await person.send("0912 345 678"))[-1]
    assert "• Điện thoại: 0912 345 678" in summary  # grouped as people write it
    replies = await person.choose("✅ Lưu thay đổi")

    assert replies == ["✅ Đã sửa: Họ và tên, Điện thoại."]
    member = await member_of(db, world, MEMBER)
    assert (member.full_name, member.category, member.phone) == (
        "Nguyễn Văn Ân",
        "cong_chuc",
        "0912345678",
    )
    assert member.name_folded == "nguyen van an"  # what /phutrach's search reads
    [corrected] = await audit(db, "personal.corrected")
    # Which fields, never their values.
    assert corrected.details == {"fields": ["full_name", "phone"]}
    assert corrected.object_id == member.id


async def test_toi_works_before_agreeing_and_correcting_waits_for_it(chat, db, clock, api):
    await member_before_the_notice(db, clock, unit_code="CB", unit_name="Chi bộ Cũ")
    person = chat(7002, "Cũ")
    person.agrees = False

    page = (await person.send("/toi"))[0]
    assert "• Họ và tên: Lê Thị Cũ" in page
    assert "• Đồng ý với thông báo về dữ liệu cá nhân: (không có)" in page
    await person.click("📥 Tải về (JSON)")
    assert [c for c in api.calls if c.method == "sendDocument"]

    replies = await person.click("✏️ Sửa thông tin")
    assert "Thông báo về dữ liệu cá nhân đã thay đổi" in replies[0]


async def test_toi_of_someone_who_joined_by_a_request_names_it(db, clock, chat):
    """A join request is part of what is kept: /toi lists it with its outcome (it failed with an
    AttributeError for everyone who had asked to join)."""
    from bot.demo import seed
    from tests.conftest import ADMIN_ID

    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    guest = chat(5150, "Bình")
    await guest.send("/start")
    await guest.send("Trần Thị Bình")
    await guest.click("Viên chức")
    await guest.send("Văn phòng")
    await guest.click("Chi bộ Văn phòng")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    assert (await guest.send("/toi"))[0].splitlines()[5:7] == [
        "• Yêu cầu tham gia:",
        "  – Chi bộ Văn phòng: đang chờ duyệt, 26/11/2026 09:00",
    ]
    await admin.send("/chapnhan 1")
    page = (await guest.send("/toi"))[0]
    assert "  – Chi bộ Văn phòng: đã chấp nhận, 26/11/2026 09:00" in page.splitlines()
