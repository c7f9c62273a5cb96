"""Edge cases found in review, each through the real Application."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from bot.telegram.app import post_init
from bot.telegram.outbox import flush_outbox
from storage.models import Campaign, Conversation, Identity, Membership, Model, Unit
from storage.records.people import add_membership, find_identity
from storage.records.units import add_unit, unit_by_code
from tests.botapi import Call, RecordingRequest
from tests.conftest import ADMIN_ID
from tests.test_registration import MEMBER_ID, join, register_quickly


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def test_a_button_from_a_finished_form_does_not_touch_the_next(seeded, chat, db):
    person = chat(MEMBER_ID, "An")
    await person.send("/start DEMO-TV")
    await person.send("Nguyễn Văn An")
    await person.click("Công chức")
    phone_question = person.last_keyboard_message()
    await person.send("0912 345 678")  # typed: the old buttons stay in the chat
    await person.send("/dangky")
    await person.click("Tập thể")
    await person.send("Chi bộ Văn phòng")
    assert await person.click("✖ Hủy", message=phone_question) == []
    assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.state["answers"]["collective_name"] == "Chi bộ Văn phòng"


async def test_an_edited_message_is_not_taken_as_an_answer(seeded, chat, db, app, api):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    edited = {
        "message_id": 1,
        "date": 0,
        "edit_date": 1,
        "chat": {"id": MEMBER_ID, "type": "private"},
        "from": person.user,
        "text": "Chuyển đổi số trong dạy học",
    }
    person.seen = len(api.calls)
    from telegram import Update

    await app.process_update(
        Update.de_json({"update_id": 99999, "edited_message": edited}, app.bot)
    )
    assert person.replies() == [
        "Tin nhắn đã sửa không được đọc lại. Nếu cần đổi câu trả lời, hãy dùng nút ✏️ ở bước "
        "kiểm tra, hoặc « Quay lại."
    ]
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.state["answers"]["title"] == "Chuyển đổi số trong giảng dạy"
    assert "approach" not in conv.state["answers"]


async def test_a_person_who_writes_again_is_reachable_again(seeded, chat, db, app, api):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    guest = chat(5150, "Bình")
    await guest.send("/start")
    await guest.send("Trần Thị Bình")
    await guest.click("Viên chức")
    await guest.send("bệnh viện")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    api.fail_next["sendMessage"] = (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    await flush_outbox(app)
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(ADMIN_ID))
        assert identity.unreachable_at is not None
    await admin.send("/yeucau")
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(ADMIN_ID))
        assert identity.unreachable_at is None


async def test_a_failing_command_menu_does_not_stop_the_bot(
    seeded, chat, settings, core, db, clock
):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")

    class MenuFails(RecordingRequest):
        """Answers every per-chat menu with 400, as Telegram does for a deleted account."""

        async def do_request(self, url, method, request_data=None, *args, **kwargs):
            params = request_data.parameters if request_data else {}
            if url.endswith("setMyCommands") and params.get("scope", {}).get("type") == "chat":
                self.calls.append(Call("setMyCommands", params))
                body = {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: chat not found",
                }
                return 400, json.dumps(body).encode()
            return await super().do_request(url, method, request_data, *args, **kwargs)

    from bot.telegram.app import build_application

    api = MenuFails()
    app = build_application(settings, core, request=api)
    await app.initialize()
    try:
        await post_init(app)  # does not raise
        scopes = [c.params["scope"]["type"] for c in api.calls if c.method == "setMyCommands"]
        assert scopes == ["default", "chat"]
    finally:
        await app.shutdown()


async def test_a_draft_cannot_be_sent_after_its_campaign_closed(seeded, chat, db, clock):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    await person.click("Chuyển đổi số")
    await person.send("Soạn bài giảng điện tử cho mọi môn học")
    await person.send("Mọi lớp học có bài giảng điện tử")
    await person.send("bài giảng điện tử")
    await person.send("bài")
    await person.send("10")
    await person.click("Xong")
    await person.send("01/12/2026")
    await person.send("30/06/2027")
    async with db.session() as session:
        await session.execute(update(Campaign).values(ends_on=clock().date() - timedelta(days=1)))
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith(
        "⚠️ Đợt «Dân vận khéo (đợt thử)» đã đóng đăng ký, nên không gửi được bản đăng ký này."
    )
    async with db.session() as session:
        assert await session.scalar(select(Model)) is None


@pytest.mark.parametrize("text", ["/chapnhan ²", "/chapnhan 99999999999999999999", "/tuchoi 1e3"])
async def test_crafted_numbers_are_answered_politely(seeded, chat, text):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send(text) == [
        "Cách dùng: /chapnhan SỐ hoặc /tuchoi SỐ (số của yêu cầu, xem bằng /yeucau)."
    ]


@pytest.mark.parametrize("data", ["m:999999999999", "jr:a:99999999999", "rp:12345678901"])
async def test_forged_huge_ids_are_refused(seeded, chat, data):
    person = await join(chat)
    assert await person.press(data) == []
    assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."


async def test_units_with_the_same_name_are_told_apart(seeded, chat, db, clock):
    async with db.session() as session:
        syt = await unit_by_code(session, code="DB-SYT")
        await add_unit(
            session, code="VP-SYT", name="Chi bộ Văn phòng", parent_id=syt.id, now=clock()
        )
    guest = chat(5151, "Cúc")
    await guest.send("/start")
    await guest.send("Lê Thị Cúc")
    await guest.click("Hội viên")
    replies = await guest.send("văn phòng")
    assert replies[0].startswith("Kết quả tìm «văn phòng»:")
    assert guest.buttons()[:2] == [
        "Chi bộ Văn phòng — Đảng ủy Khối cơ quan và doanh nghiệp tỉnh",
        "Chi bộ Văn phòng — Đảng bộ Sở Y tế",
    ]


async def test_a_second_invite_while_the_first_profile_is_open(seeded, chat, db):
    person = chat(6010, "Giang")
    await person.send("/start DEMO-TV")
    await person.send("Phan Thị Giang")
    replies = await person.send("/start DEMO-PT")
    assert replies == [
        "Bạn đang nhập dở «Thông tin cá nhân». Tiếp tục phần đó, hay bỏ nó để làm việc mới?"
    ]
    await person.click("🗑 Bỏ bản nháp, làm việc mới")
    await person.send("Phan Thị Giang")
    await person.click("Cán bộ")
    replies = await person.click("Bỏ qua »")
    assert replies[0].endswith("với vai trò cán bộ phụ trách!")
    async with db.session() as session:
        roles = (
            await session.scalars(
                select(Membership.role)
                .join(Identity, Identity.member_id == Membership.member_id)
                .where(Identity.external_id == "6010")
            )
        ).all()
    assert roles == ["coordinator"]


async def test_a_member_of_two_units_chooses_the_unit(seeded, chat, db, clock):
    person = await join(chat)
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(MEMBER_ID))
        bv = await unit_by_code(session, code="CB-BV")
        await add_membership(
            session, member_id=identity.member_id, unit_id=bv.id, role="member", now=clock()
        )
    replies = await person.send("/dangky")
    assert replies[1] == "Mô hình đăng ký thuộc đơn vị nào của bạn?"
    assert person.buttons()[:2] == ["Chi bộ Văn phòng", "Chi bộ Bệnh viện Đa khoa"]
    await person.click("Chi bộ Bệnh viện Đa khoa")
    replies = await person.click("Cá nhân")
    assert replies[0].startswith("Tên mô hình")


async def test_single_unit_member_is_not_asked_and_the_unit_is_stored(seeded, chat, db):
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        model = await session.scalar(select(Model))
        unit = await session.get(Unit, model.unit_id)
    assert unit.code == "CB-VP"


async def test_pressing_a_button_of_an_expired_form_offers_to_continue(seeded, chat, clock):
    person = await join(chat)
    await person.send("/dangky")
    clock.advance(hours=30)
    replies = await person.click("Cá nhân")
    assert replies[0].startswith("Bạn có phần «Đăng ký mô hình» đang nhập dở và đã tạm dừng")
    assert await person.send("/quaylai") == [replies[0]]
    await person.click("▶️ Tiếp tục")
    assert (await person.click("Cá nhân"))[0].startswith("Tên mô hình")


async def test_a_photo_when_nothing_is_asked(seeded, chat):
    person = await join(chat)
    assert await person.send_photo(caption="/dangky") == [
        "Hiện bot không cần tệp hay ảnh nào. Gõ /help để xem những việc bạn có thể làm."
    ]


def my_chat_member(user: dict, old: str, new: str) -> dict:
    bot = {"id": 7000000001, "is_bot": True, "first_name": "Dân vận khéo"}

    def member(status: str) -> dict:
        # A "kicked" member (the bot blocked) carries until_date in Telegram's answers.
        return {"user": bot, "status": status, **({"until_date": 0} if status == "kicked" else {})}

    return {
        "chat": {"id": user["id"], "type": "private"},
        "from": user,
        "date": 0,
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    }


async def test_blocking_and_unblocking_the_bot(seeded, chat, db, app):
    from telegram import Update

    person = await join(chat)

    async def reachable() -> bool:
        async with db.session() as session:
            identity = await find_identity(session, channel="telegram", external_id=str(MEMBER_ID))
            return identity.unreachable_at is None

    blocked = my_chat_member(person.user, "member", "kicked")
    await app.process_update(Update.de_json({"update_id": 91, "my_chat_member": blocked}, app.bot))
    assert not await reachable()
    unblocked = my_chat_member(person.user, "kicked", "member")
    await app.process_update(
        Update.de_json({"update_id": 92, "my_chat_member": unblocked}, app.bot)
    )
    assert await reachable()


async def test_registrations_outside_the_window_are_refused(seeded, chat, db, clock):
    from datetime import date

    person = await join(chat)
    async with db.session() as session:
        await session.execute(
            update(Campaign).values(
                registration_opens_on=date(2026, 12, 1), registration_closes_on=date(2026, 12, 31)
            )
        )
    assert await person.send("/dangky") == [
        "Đợt «Dân vận khéo (đợt thử)» nhận đăng ký từ 01/12/2026 đến 31/12/2026; "
        "hiện không trong thời gian đăng ký."
    ]
    clock.advance(days=10)  # 06/12: open
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        assert await session.scalar(select(Model.status)) == "submitted"
