"""Invite links can be taken back: from /moi (a button per link, confirmed), when their maker
stops coordinating the unit, and when the unit is deactivated. A revoked link admits nobody,
not even someone who opened it before and is still giving their name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.demo import seed
from storage.models import AuditEntry, Invite, Membership
from storage.records.invites import create_invite
from storage.records.people import find_identity
from storage.records.units import unit_by_code
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_registration import join

COORDINATOR = 6100
NOT_ALLOWED = ["Bạn không có quyền thực hiện việc này."]
REVOKED = (
    "Đường link mời này đã bị thu hồi. Hãy xin đường link mới từ cán bộ phụ trách, "
    "hoặc gửi /start để xin tham gia."
)


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def unit_id(db, code: str) -> int:
    async with db.session() as session:
        return (await unit_by_code(session, code=code)).id


async def make_invite(person, unit: str) -> str:
    """The person creates a member invite to the unit through /moi; returns its code. (A
    coordinator of one unit is asked neither the unit nor the role: the only ones there are.)"""
    await person.send("/moi")
    if unit in person.buttons():
        await person.click(unit)
    if "thành viên" in person.buttons():
        await person.click("thành viên")
    await person.click("Bỏ qua »")
    await person.click("Bỏ qua »")
    replies = await person.click("✅ Tạo link")
    return replies[0].split("?start=")[1].split("\n")[0]


async def invite(db, code: str) -> Invite:
    async with db.session() as session:
        return await session.scalar(select(Invite).where(Invite.code == code))


async def members_of(db, code: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Invite.id).where(Invite.code == code))
        query = select(func.count()).select_from(Membership).where(Membership.invite_id == found)
        return await session.scalar(query)


async def test_a_coordinator_revokes_an_invite_from_moi(seeded, chat, db):
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    code = await make_invite(coordinator, "Chi bộ Văn phòng")
    await join(chat, code=code)  # Nguyễn Văn An joins through it
    late = chat(7001, "Muộn")  # opens the link now, gives their name after it is revoked
    assert (await late.send(f"/start {code}"))[0].startswith("Xin chào! Bạn được mời")
    await late.send("Trần Văn Muộn")

    replies = await coordinator.send("/moi")
    lines = replies[0].splitlines()
    assert lines[:3] == [
        "Các link mời còn dùng được và người đã tham gia qua từng link "
        "(bấm 🚫 để thu hồi một link):",
        f"🔗 {code} · Chi bộ Văn phòng · thành viên · đã dùng 1/50 · hết hạn 26/12/2026",
        "   Nguyễn Văn An",
    ]
    listing = next(
        m
        for m in reversed(coordinator.api.messages.values())
        if m["chat"]["id"] == COORDINATOR and m["text"].startswith("Các link mời")
    )
    assert coordinator.buttons(listing) == [
        f"🚫 Thu hồi {code}",
        "🚫 Thu hồi DEMO-PT",
        "🚫 Thu hồi DEMO-TV",
    ]

    # Asked first; keeping it changes nothing.
    replies = await coordinator.click(f"🚫 Thu hồi {code}", message=listing)
    assert replies == [
        "Thu hồi link mời này?\n"
        f"🔗 {code} · Chi bộ Văn phòng · thành viên · đã dùng 1/50 · hết hạn 26/12/2026\n"
        "Người đã tham gia qua link vẫn ở lại đơn vị; link sẽ không nhận thêm ai và không mở lại "
        "được."
    ]
    assert await coordinator.click("✖ Giữ lại") == [f"Đã giữ lại link mời {code}."]
    assert not (await invite(db, code)).revoked

    await coordinator.click(f"🚫 Thu hồi {code}", message=listing)
    confirmation = coordinator.last_keyboard_message()
    assert await coordinator.click("✅ Thu hồi") == [
        f"🚫 Đã thu hồi link mời {code} vào Chi bộ Văn phòng. "
        "Ai mở link này sẽ được báo là link đã bị thu hồi."
    ]
    assert (await invite(db, code)).revoked
    # The same confirmation pressed again revokes nothing twice.
    assert await coordinator.click("✅ Thu hồi", message=confirmation) == [
        f"Link mời {code} đã được thu hồi trước đó."
    ]
    async with db.session() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "invite.revoked"))
        ).all()
    assert [(e.object_id, e.details["reason"]) for e in entries] == [
        ((await invite(db, code)).id, "revoked")
    ]

    # Nobody joins through it any more: neither a newcomer nor the one halfway through.
    stranger = chat(7002, "Lạ")
    assert await stranger.send(f"/start {code}") == [REVOKED]
    await late.click("Cán bộ")
    assert await late.click("Bỏ qua »") == [f"⚠️ {REVOKED}"]
    assert await members_of(db, code) == 1
    # And /moi no longer lists it.
    await coordinator.send("/huy")
    assert code not in (await coordinator.send("/moi"))[0]


async def test_forged_and_foreign_revocations_change_nothing(seeded, chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    other_unit, own_unit = await unit_id(db, "CB-BV"), await unit_id(db, "CB-VP")
    async with db.session() as session:
        admin_id = (
            await find_identity(session, channel="telegram", external_id=str(ADMIN_ID))
        ).member_id
        elsewhere = await create_invite(
            session,
            unit_id=other_unit,
            role="member",
            expires_at=clock() + timedelta(days=30),
            max_uses=50,
            created_by=admin_id,
            now=clock(),
        )
        own = await create_invite(
            session,
            unit_id=own_unit,
            role="member",
            expires_at=clock() + timedelta(days=30),
            max_uses=50,
            created_by=admin_id,
            now=clock(),
        )
    await make_coordinator(
        db, unit_id=await unit_id(db, "CB-VP"), telegram_id=COORDINATOR, now=clock()
    )
    coordinator = chat(COORDINATOR, "Phụ trách")
    await coordinator.send("/start")
    member = await join(chat)

    # Another unit's invite, and a member pressing: refused; one that does not exist: not found.
    for data in (f"iv:r:{elsewhere.id}", f"iv:y:{elsewhere.id}"):
        assert await coordinator.press(data) == NOT_ALLOWED, data
    assert await coordinator.press("iv:y:999999") == ["Không tìm thấy lời mời này."]
    assert await member.press(f"iv:y:{own.id}") == NOT_ALLOWED
    assert await coordinator.press(f"iv:x:{own.id}") == []  # not a shape the bot knows
    assert coordinator.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."

    # A coordinator removed after the confirmation was shown can no longer revoke.
    await coordinator.press(f"iv:r:{own.id}")
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(COORDINATOR))
        membership = await session.scalar(
            select(Membership).where(Membership.member_id == identity.member_id)
        )
        await session.delete(membership)
    assert await coordinator.click("✅ Thu hồi") == NOT_ALLOWED
    async with db.session() as session:
        assert (await session.scalars(select(Invite.revoked))).all() == [False] * 4
        assert (
            await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "invite.revoked"))
            is None
        )

    # An admin may revoke any invite.
    await admin.press(f"iv:r:{elsewhere.id}")
    assert (await admin.click("✅ Thu hồi"))[0].startswith(
        f"🚫 Đã thu hồi link mời {elsewhere.code} vào Chi bộ Bệnh viện Đa khoa."
    )
    assert (await invite(db, elsewhere.code)).revoked
    assert not (await invite(db, own.code)).revoked


async def test_removing_a_coordinator_revokes_the_invites_they_made(seeded, chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await make_coordinator(db, unit_id=await unit_id(db, "CB-BV"), telegram_id=6001, now=clock())
    await make_coordinator(db, unit_id=await unit_id(db, "DB-SGD"), telegram_id=6001, now=clock())
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id="6001")
        identity.member.full_name = "Trần Văn Bình"
    binh = chat(6001, "Bình")
    hospital = await make_invite(binh, "Chi bộ Bệnh viện Đa khoa")
    education = await make_invite(binh, "Đảng bộ Sở Giáo dục và Đào tạo")
    by_admin = await make_invite(admin, "Chi bộ Bệnh viện Đa khoa")

    await admin.send("/phutrach")
    await admin.click("➖ Thôi phụ trách đơn vị")
    await admin.send("binh — chi bo benh vien")
    assert await admin.click("✅ Xác nhận") == [
        "Trần Văn Bình đã thôi phụ trách Chi bộ Bệnh viện Đa khoa.",
        "Đã thu hồi 1 link mời người này đã tạo mà nay họ không còn quyền tạo.",
    ]
    assert (await invite(db, hospital)).revoked
    assert not (await invite(db, education)).revoked  # he still coordinates that unit
    assert not (await invite(db, by_admin)).revoked  # not his
    stranger = chat(7003, "Lạ")
    assert await stranger.send(f"/start {hospital}") == [REVOKED]
    assert (await stranger.send(f"/start {education}"))[0].startswith(
        "Xin chào! Bạn được mời tham gia Đảng bộ Sở Giáo dục và Đào tạo"
    )


async def test_deactivating_a_unit_revokes_its_invites_for_good(seeded, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    code = await make_invite(admin, "Chi bộ Bệnh viện Đa khoa")
    await admin.send("/suadonvi")
    await admin.click("Chi bộ Bệnh viện Đa khoa")
    await admin.click("⏸ Ngừng hoạt động")
    replies = await admin.click("✅ Xác nhận")
    assert replies[1] == (
        "Đã thu hồi 1 link mời vào đơn vị; cho hoạt động trở lại cũng không mở lại các link này."
    )
    assert (await invite(db, code)).revoked
    assert not (await invite(db, "DEMO-TV")).revoked  # another unit's
    guest = chat(7004, "Khách")
    assert (await guest.send(f"/start {code}"))[0].startswith(
        "Đơn vị của đường link mời này đã ngừng hoạt động"
    )

    await admin.send("/suadonvi")
    await admin.click("Chi bộ Bệnh viện Đa khoa (ngừng hoạt động)")
    await admin.click("▶️ Cho hoạt động trở lại")
    assert await admin.click("✅ Xác nhận") == ["Chi bộ Bệnh viện Đa khoa đã hoạt động trở lại."]
    assert await guest.send(f"/start {code}") == [REVOKED]
    assert await members_of(db, code) == 0
