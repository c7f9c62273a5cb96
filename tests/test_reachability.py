"""Where a person's messages go: only to their private chat, whatever group they press a button
in; and not at all once they have blocked the bot, neither then nor in a burst when they come
back. /donvi says who in the units cannot be reached."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage import outbox
from storage.models import Identity, Member, Model, OutboxMessage
from storage.records.people import add_membership, find_identity, get_or_create_identity
from storage.records.units import unit_by_code
from storage.retention import erase_person
from tests.test_registration import MEMBER_ID, join, register_quickly

COORDINATOR = 6100
GROUP = -1001234
FORBIDDEN = (
    403,
    {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
)
APPROVED = (
    "✅ Mô hình «{}» của bạn đã được duyệt. Bạn có thể báo cáo tiến độ bằng /baocao."
).format


@pytest.fixture
async def setup(db, clock, chat):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    return coordinator, member


async def model_id(db, title: str) -> int:
    async with db.session() as session:
        return await session.scalar(select(Model.id).where(Model.title == title))


async def member_identity(db, telegram_id: int = MEMBER_ID) -> Identity:
    async with db.session() as session:
        return await find_identity(session, channel="telegram", external_id=str(telegram_id))


def texts_to(api, chat_id: int) -> list[str]:
    return [c.params["text"] for c in api.sent(chat_id)]


# --- a button pressed in a group -------------------------------------------------------------


async def test_a_button_pressed_in_a_group_does_not_move_the_persons_chat(setup, db, app, api):
    coordinator, member = setup
    model = await model_id(db, "Chuyển đổi số trong giảng dạy")
    # A message with the bot's buttons in a group (forwarded there, say).
    in_group = api._message(
        {
            "chat_id": GROUP,
            "text": "📌 Chuyển đổi số trong giảng dạy",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Xem", "callback_data": f"m:{model}"}],
                    [{"text": "✅ Duyệt", "callback_data": f"rv:a:{model}"}],
                ]
            },
        }
    )
    await member.press(f"m:{model}", in_group)
    assert (await member_identity(db)).chat_id == str(MEMBER_ID)
    assert member.last_notice() == "Bot chỉ làm việc trong tin nhắn riêng. Hãy nhắn riêng cho bot."
    # Even a coordinator's decision is not taken from a group.
    await coordinator.press(f"rv:a:{model}", in_group)
    assert texts_to(api, GROUP) == []
    async with db.session() as session:
        assert await session.scalar(select(Model.status)) == "submitted"
    assert (await member_identity(db)).chat_id == str(MEMBER_ID)
    assert (await member_identity(db, COORDINATOR)).chat_id == str(COORDINATOR)

    # What the bot sends on its own still goes to the person's private chat.
    await coordinator.press(f"rv:a:{model}")
    await flush_outbox(app)
    assert texts_to(api, MEMBER_ID)[-1] == APPROVED("Chuyển đổi số trong giảng dạy")
    assert texts_to(api, GROUP) == []


# --- blocked --------------------------------------------------------------------------------


async def test_messages_for_someone_who_blocked_the_bot_never_arrive_later(
    setup, db, app, api, chat
):
    coordinator, member = setup
    await register_quickly(member, "Số hóa hồ sơ một cửa")
    first = await model_id(db, "Chuyển đổi số trong giảng dạy")
    second = await model_id(db, "Số hóa hồ sơ một cửa")
    api.fail_chats[MEMBER_ID] = FORBIDDEN

    # The return's notice meets the block (403): the person is marked unreachable.
    await coordinator.press(f"rv:r:{first}")
    await coordinator.send("Chỉ tiêu chưa rõ, cần ghi số bài giảng mỗi học kỳ")
    await flush_outbox(app)
    assert (await member_identity(db)).unreachable_at is not None
    # Queued while they are blocked: settled at once, never tried.
    await coordinator.press(f"rv:a:{second}")
    tried = len(api.sent(MEMBER_ID))
    await flush_outbox(app)
    assert len(api.sent(MEMBER_ID)) == tried
    async with db.session() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.member_id == (await member_identity(db)).member_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    assert [row.status for row in rows][-2:] == [outbox.UNREACHABLE, outbox.UNREACHABLE]

    lines = (await coordinator.send("/donvi"))[0].splitlines()
    assert "📵 Không liên lạc được (đã chặn bot): Nguyễn Văn An" in lines

    # They unblock and write again: what was settled stays settled, no burst of old news.
    del api.fail_chats[MEMBER_ID]
    await member.send("/mohinh")
    assert (await member_identity(db)).unreachable_at is None
    before = len(api.sent(MEMBER_ID))
    await flush_outbox(app)
    assert texts_to(api, MEMBER_ID)[before:] == []
    assert not [line for line in (await coordinator.send("/donvi"))[0].splitlines() if "📵" in line]

    # New messages flow again.
    await member.press(f"ed:{first}")
    await member.click("✅ Gửi đăng ký")
    await coordinator.press(f"rv:a:{first}")
    before = len(api.sent(MEMBER_ID))
    await flush_outbox(app)
    assert texts_to(api, MEMBER_ID)[before:] == [APPROVED("Chuyển đổi số trong giảng dạy")]
    assert APPROVED("Số hóa hồ sơ một cửa") not in texts_to(api, MEMBER_ID)


async def test_donvi_names_a_bounded_number_of_unreachable_people(setup, db, clock):
    coordinator, _ = setup
    async with db.session() as session:
        unit = await unit_by_code(session, code="CB-VP")
        for i in range(1, 36):
            identity = await get_or_create_identity(
                session,
                channel="telegram",
                external_id=str(9000 + i),
                chat_id=str(9000 + i),
                display_name=None,
                now=clock(),
            )
            identity.member.full_name = f"Người Chặn {i:02d}"
            identity.unreachable_at = clock()
            await add_membership(
                session, member_id=identity.member_id, unit_id=unit.id, role="member", now=clock()
            )
        # Blocked on Telegram but reachable in the terminal: not listed.
        an = await session.scalar(select(Member).where(Member.full_name == "Nguyễn Văn An"))
        session.add(
            Identity(
                member_id=an.id,
                channel="terminal",
                external_id="an-dien-thoai",
                chat_id="an-dien-thoai",
                created_at=clock(),
            )
        )
        await session.execute(
            update(Identity)
            .where(Identity.member_id == an.id, Identity.channel == "telegram")
            .values(unreachable_at=clock())
        )
    lines = (await coordinator.send("/donvi"))[0].splitlines()
    [line] = [line for line in lines if line.startswith("📵")]
    names = ", ".join(f"Người Chặn {i:02d}" for i in range(1, 31))
    assert line == f"📵 Không liên lạc được (đã chặn bot): {names} và 5 người khác"


async def test_messages_queued_after_someone_erased_their_data_are_settled_not_kept(
    setup, db, app, api, clock
):
    """A model stays (anonymous) after its owner's data is erased: a coordinator's decision on
    it queues a message to nobody. It is settled at once, its text (which may name them) gone."""
    coordinator, _ = setup
    first = await model_id(db, "Chuyển đổi số trong giảng dạy")
    member_id = (await member_identity(db)).member_id
    async with db.session() as session:
        await erase_person(session, member_id=member_id, now=clock(), left="thành viên đã rời")
    sent = len(api.calls)

    await coordinator.press(f"rv:a:{first}")
    await flush_outbox(app)
    assert [
        c
        for c in api.calls[sent:]
        if c.method == "sendMessage"
        and "duyệt" in str(c.params)
        and int(c.params["chat_id"]) == MEMBER_ID
    ] == []
    async with db.session() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.status, OutboxMessage.payload).where(
                    OutboxMessage.member_id == member_id, OutboxMessage.key.like("%review%")
                )
            )
        ).all()
        assert await outbox.pending_unreachable(session) == 0
    assert [tuple(row) for row in rows] == [(outbox.UNREACHABLE, {})]
