"""Joining without an invite, the decision on join requests, roles, /help and command menus."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage.models import AuditEntry, Invite, JoinRequest, Membership, OutboxMessage
from storage.records.invites import create_invite
from storage.records.units import add_unit, unit_by_code
from tests.conftest import ADMIN_ID

GUEST = 5150


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
        for i in range(1, 96):  # an organisation of 100 units
            await add_unit(
                session, code=f"U{i:03}", name=f"Chi bộ Khu phố {i}", parent_id=None, now=clock()
            )


async def ask_to_join(chat) -> object:
    guest = chat(GUEST, "Bình")
    replies = await guest.send("/start")
    assert replies[0].startswith("Xin chào! Đây là trợ lý phong trào thi đua")
    assert replies[1] == "Họ và tên của bạn?"
    await guest.send("Trần Thị Bình")
    await guest.click("Viên chức")
    return guest


async def test_join_request_with_paged_and_searched_units(seeded, chat, db, api):
    guest = await ask_to_join(chat)
    first_page = guest.buttons()
    assert len([b for b in first_page if b not in ("Trang sau ›", "« Quay lại", "✖ Hủy")]) == 8
    assert "Trang sau ›" in first_page
    assert "Trang 1/13." in guest.replies()[0]
    replies = await guest.click("Trang sau ›")
    assert "Trang 2/13." in replies[0]
    assert "‹ Trang trước" in guest.buttons()
    # Typing part of a name, without diacritics, narrows the list ...
    replies = await guest.send("khu pho 4")
    assert replies[0].startswith("Kết quả tìm «khu pho 4»:")
    assert guest.buttons()[:2] == ["Chi bộ Khu phố 4", "Chi bộ Khu phố 40"]
    # ... a name nobody has is answered and changes nothing ...
    replies = await guest.send("Sở Ngoại vụ")
    assert "Không tìm thấy mục nào khớp với «Sở Ngoại vụ»" in replies[0]
    # ... and a unique match picks it.
    replies = await guest.send("bệnh viện")
    assert replies[0].startswith("Số điện thoại")
    await guest.click("Bỏ qua »")
    summary = guest.replies()[0]
    assert "• Đơn vị: Chi bộ Bệnh viện Đa khoa" in summary
    assert "• Điện thoại: (bỏ trống)" in summary
    replies = await guest.click("✅ Gửi yêu cầu")
    assert replies == [
        "Đã gửi yêu cầu tham gia Chi bộ Bệnh viện Đa khoa. "
        "Bạn sẽ nhận được thông báo khi yêu cầu được duyệt."
    ]
    # Still no membership: nothing to see or register.
    assert (await guest.send("/dangky"))[0].startswith("Bạn chưa là thành viên")
    assert await guest.send("/start") == [
        "Yêu cầu tham gia của bạn đang chờ duyệt. Bạn sẽ nhận được thông báo khi có kết quả."
    ]
    async with db.session() as session:
        request = await session.scalar(select(JoinRequest))
        queued = (await session.scalars(select(OutboxMessage))).all()
    assert request.status == "pending"
    # The seeded admin (terminal) is told; Telegram bootstrap admins are not known yet.
    assert len(queued) == 1 and "Trần Thị Bình" in queued[0].payload["text"]


async def test_admin_accepts_with_a_button_and_the_member_is_told(seeded, chat, db, api):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/start") == ["Chào quản trị viên! Gõ /help để xem các lệnh quản trị."]
    guest = await ask_to_join(chat)
    await guest.send("Bệnh viện")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    # The Telegram admin receives the request with buttons through the outbox.
    assert await flush_outbox(admin.app) == 1
    notice = api.sent(ADMIN_ID)[-1]
    assert notice.params["text"].startswith("🔔 Yêu cầu tham gia mới\nHọ tên: Trần Thị Bình")
    accept = notice_data(api, ADMIN_ID, "✅ Chấp nhận")
    replies = await admin.click("✅ Chấp nhận")
    assert replies == ["Đã chấp nhận Trần Thị Bình vào Chi bộ Bệnh viện Đa khoa."]
    # A second press (or a second reviewer) finds it decided.
    replies = await admin.press(accept)
    assert replies == ["Yêu cầu này đã được xử lý trước đó."]
    assert await flush_outbox(admin.app) == 1
    told = api.sent(GUEST)[-1].params["text"]
    assert told.startswith(
        "✅ Yêu cầu tham gia Chi bộ Bệnh viện Đa khoa của bạn đã được chấp nhận."
    )
    assert (await guest.send("/dangky"))[1] == "Mô hình đăng ký cho tập thể hay cá nhân?"
    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "join.accepted" in actions and "admin.bootstrap" in actions


def notice_data(api, chat_id: int, label: str) -> str:
    for message in reversed(list(api.messages.values())):
        if message["chat"]["id"] != chat_id:
            continue
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    return button["callback_data"]
    raise AssertionError(label)


async def test_refuse_by_command_and_role_checks(seeded, chat, db):
    guest = await ask_to_join(chat)
    await guest.send("bệnh viện")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    async with db.session() as session:
        request_id = await session.scalar(select(JoinRequest.id))
    # Someone without the role: refused, and the request is untouched.
    member = chat(6001, "Cường")
    await member.send("/start DEMO-TV")
    await member.send("Phạm Văn Cường")
    await member.click("Đảng viên")
    await member.click("Bỏ qua »")
    assert await member.send(f"/tuchoi {request_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert await member.press(f"jr:a:{request_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert await member.send("/yeucau") == ["Bạn không có quyền thực hiện việc này."]
    # A coordinator of another unit (CB-VP) cannot decide for Bệnh viện (under Sở Y tế).
    coordinator = chat(6002, "Dũng")
    await coordinator.send("/start DEMO-PT")
    await coordinator.send("Lê Văn Dũng")
    await coordinator.click("Cán bộ")
    await coordinator.click("Bỏ qua »")
    assert await coordinator.send(f"/tuchoi {request_id}") == [
        "Bạn không có quyền thực hiện việc này."
    ]
    assert await coordinator.send("/yeucau") == ["Không có yêu cầu tham gia nào đang chờ duyệt."]
    async with db.session() as session:
        assert (await session.get(JoinRequest, request_id)).status == "pending"
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await admin.send("/yeucau")
    assert replies[0].startswith(f"Yêu cầu #{request_id} (26/11/2026 09:00)")
    assert await admin.send("/tuchoi") == [
        "Cách dùng: /chapnhan SỐ hoặc /tuchoi SỐ (số của yêu cầu, xem bằng /yeucau)."
    ]
    assert await admin.send(f"/tuchoi {request_id}") == [
        "Đã từ chối yêu cầu của Trần Thị Bình (Chi bộ Bệnh viện Đa khoa)."
    ]
    async with db.session() as session:
        assert (await session.get(JoinRequest, request_id)).status == "refused"
        assert await session.scalar(select(Membership).where(Membership.unit_id == 4)) is None


async def test_coordinator_of_a_parent_unit_decides_for_its_sub_units(seeded, chat, db, clock):
    async with db.session() as session:
        syt = await unit_by_code(session, code="DB-SYT")
        invite = await create_invite(
            session,
            unit_id=syt.id,
            role="coordinator",
            expires_at=clock().replace(year=2027),
            max_uses=1,
            created_by=None,
            now=clock(),
        )
    coordinator = chat(6003, "Hà")
    await coordinator.send(f"/start {invite.code}")
    await coordinator.send("Ngô Thị Hà")
    await coordinator.click("Cán bộ")
    replies = await coordinator.click("Bỏ qua »")
    assert "Với vai trò cán bộ phụ trách:" in replies[-1]
    guest = await ask_to_join(chat)
    await guest.send("bệnh viện")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    replies = await coordinator.send("/yeucau")
    assert "Trần Thị Bình" in replies[0]
    assert await coordinator.click("✅ Chấp nhận") == [
        "Đã chấp nhận Trần Thị Bình vào Chi bộ Bệnh viện Đa khoa."
    ]
    # The invite had one use: a second person is refused.
    other = chat(6004, "Khoa")
    assert await other.send(f"/start {invite.code}") == [
        "Đường link mời đã hết lượt sử dụng. Hãy xin đường link mới từ cán bộ phụ trách."
    ]


async def test_bad_invites(seeded, chat, db, clock):
    guest = chat(GUEST, "Bình")
    assert (await guest.send("/start KHONGCO"))[0].startswith("Đường link mời không hợp lệ.")
    async with db.session() as session:
        invite = await session.scalar(select(Invite).where(Invite.code == "DEMO-TV"))
        invite.expires_at = clock()
    assert (await guest.send("/start DEMO-TV"))[0].startswith("Đường link mời đã hết hạn.")


async def test_invite_used_up_while_filling_the_profile(seeded, chat, db):
    async with db.session() as session:
        invite = await session.scalar(select(Invite).where(Invite.code == "DEMO-TV"))
        invite.max_uses = 1
    first, second = chat(7001, "Một"), chat(7002, "Hai")
    await first.send("/start DEMO-TV")
    await second.send("/start DEMO-TV")
    for person, name in ((first, "Người Thứ Nhất"), (second, "Người Thứ Hai")):
        await person.send(name)
        await person.click("Cán bộ")
    assert (await first.click("Bỏ qua »"))[0].startswith("Chào mừng Người Thứ Nhất")
    assert await second.click("Bỏ qua »") == [
        "⚠️ Đường link mời đã hết lượt sử dụng. Hãy xin đường link mới từ cán bộ phụ trách."
    ]
    async with db.session() as session:
        assert (await session.scalar(select(Invite).where(Invite.code == "DEMO-TV"))).uses == 1
        assert len((await session.scalars(select(Membership))).all()) == 3  # 2 seeded + 1


async def test_help_and_menus_follow_the_role(seeded, chat, api):
    guest = chat(GUEST, "Bình")
    assert (await guest.send("/help"))[0].startswith("Bạn chưa tham gia đơn vị nào.")
    member = chat(6001, "Cường")
    await member.send("/start DEMO-TV")
    await member.send("Phạm Văn Cường")
    await member.click("Đảng viên")
    await member.click("Bỏ qua »")
    text = (await member.send("/help"))[0]
    assert "/dangky" in text and "/yeucau" not in text and "/themdonvi" not in text
    admin = chat(ADMIN_ID, "Quản trị")
    text = (await admin.send("/help"))[0]
    assert "/themdonvi" in text and "/taodot" in text

    menus = [c for c in api.calls if c.method == "setMyCommands"]
    default = next(c for c in menus if c.params.get("scope", {}).get("type") == "default")
    assert [c["command"] for c in default.params["commands"]] == [
        "start",
        "help",
        "dangky",
        "mohinh",
        "baocao",
        "nhacnho",
        "lienket",
        "toi",
        "xoadulieu",
        "tieptuc",
        "huy",
    ]
    admin_menu = [
        c for c in menus if c.params.get("scope") == {"type": "chat", "chat_id": ADMIN_ID}
    ][-1]
    assert "themdonvi" in [c["command"] for c in admin_menu.params["commands"]]


async def test_coordinator_gets_a_menu_when_joining(seeded, chat, api):
    coordinator = chat(6002, "Dũng")
    await coordinator.send("/start DEMO-PT")
    await coordinator.send("Lê Văn Dũng")
    await coordinator.click("Cán bộ")
    await coordinator.click("Bỏ qua »")
    menu = [
        c
        for c in api.calls
        if c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == 6002
    ]
    assert menu and [c["command"] for c in menu[-1].params["commands"]][-2:] == ["yeucau", "moi"]


async def test_who_saw_a_join_requests_phone_is_in_the_audit_log(seeded, chat, db):
    guest = await ask_to_join(chat)
    await guest.send("bệnh viện")
    await guest.send("0912 345 678")
    await guest.click("✅ Gửi yêu cầu")
    async with db.session() as session:
        request = await session.scalar(select(JoinRequest))
        shown = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "personal.shown")
        )
    # The notice to the reviewers carried the phone: to whom is recorded, not the number.
    assert shown.actor_id == request.member_id
    assert (shown.object_type, shown.object_id) == ("join_request", request.id)
    assert shown.details["fields"] == ["phone"] and shown.details["to"]
    assert "0912" not in str(shown.details)

    admin = chat(ADMIN_ID, "Quản trị")
    replies = await admin.send("/yeucau")
    assert "Điện thoại: 0912 345 678" in replies[0]
    async with db.session() as session:
        viewed = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "personal.viewed"))
        ).all()
    assert len(viewed) == 1
    assert (viewed[0].object_type, viewed[0].object_id) == ("member", request.member_id)
    assert viewed[0].details == {"fields": ["phone"], "join_request_id": request.id}

    lines = (await admin.send("/nhatky dữ liệu cá nhân"))[0].splitlines()
    assert lines[0] == "🗂 Nhật ký (2 mục mới nhất):"
    assert lines[1].endswith(
        f"· Xem số điện thoại trong yêu cầu tham gia · thành viên #{request.member_id}"
    )
    assert "· Trần Thị Bình · Gửi số điện thoại người xin tham gia cho người duyệt" in lines[2]
