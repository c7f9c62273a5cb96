"""/thongbao through the real Application: who receives a broadcast, the preview, the outbox, the
admin's progress message edited as the sender works, and who may do any of it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.telegram.outbox import flush_outbox, sender_of
from bot.telegram.schedule import run_broadcast_progress
from bot.terminal import TerminalChat
from handlers.admin import broadcast
from language.texts import Texts
from storage import outbox
from storage.models import AuditEntry, Broadcast, Identity, Member, OutboxMessage
from storage.records.people import add_membership, get_or_create_identity
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID, make_coordinator

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TEXT = "Đề nghị các đơn vị gửi báo cáo quý IV trước ngày 15/12/2026.\nTrân trọng."
# Telegram ids of the people the fixture sets up.
VP, YT, BOTH, GD, COORD, ADMIN2, GUEST, GONE = 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008


async def add_person(db, clock, telegram_id: int, *, units=(), admin=False, unreachable=False):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id=str(telegram_id),
            chat_id=str(telegram_id),
            display_name=None,
            now=clock(),
        )
        identity.member.full_name = f"Người {telegram_id}"
        identity.member.is_admin = admin
        identity.unreachable_at = clock() if unreachable else None
        for unit_id in units:
            await add_membership(
                session, member_id=identity.member_id, unit_id=unit_id, role="member", now=clock()
            )


@pytest.fixture
async def org(db, clock):
    """DUK above Chi bộ Văn phòng and Chi bộ Y tế; Chi bộ Giáo dục on its own. BOTH is in two
    units, GUEST in none, GONE blocked the bot."""
    async with db.session() as session:
        duk = await add_unit(session, code="DUK", name="Đảng ủy Khối", parent_id=None, now=clock())
        vp = await add_unit(
            session, code="CB-VP", name="Chi bộ Văn phòng", parent_id=duk.id, now=clock()
        )
        yt = await add_unit(
            session, code="CB-YT", name="Chi bộ Y tế", parent_id=duk.id, now=clock()
        )
        gd = await add_unit(
            session, code="CB-GD", name="Chi bộ Giáo dục", parent_id=None, now=clock()
        )
        ids = {"DUK": duk.id, "VP": vp.id, "YT": yt.id, "GD": gd.id}
    await add_person(db, clock, VP, units=[ids["VP"]])
    await add_person(db, clock, YT, units=[ids["YT"]])
    await add_person(db, clock, BOTH, units=[ids["VP"], ids["YT"]])
    await add_person(db, clock, GD, units=[ids["GD"]])
    await make_coordinator(db, unit_id=ids["VP"], telegram_id=COORD, now=clock())
    await add_person(db, clock, ADMIN2, admin=True)
    await add_person(db, clock, GUEST)
    await add_person(db, clock, GONE, units=[ids["VP"]], unreachable=True)
    return ids


async def compose(admin, audience: list[str], text: str = TEXT) -> list[str]:
    """Open /thongbao, choose the audience (units one by one), type the text: the preview."""
    await admin.send("/thongbao")
    first, *rest = audience
    await admin.click(first)
    if first == "Chọn đơn vị":
        for i, unit in enumerate(rest):
            if i:
                await admin.click("➕ Thêm")
            await admin.click(unit)
        await admin.click("Xong")
    elif rest:
        await admin.click(rest[0])
    return await admin.send(text)


async def recipients(db, broadcast_id: int) -> list[int]:
    """Telegram ids the broadcast's outbox rows are for (a repeat would show twice)."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Identity.external_id)
            .join(OutboxMessage, OutboxMessage.member_id == Identity.member_id)
            .where(OutboxMessage.key.startswith(f"bc:{broadcast_id}:"))
        )
        return sorted(int(external_id) for external_id in rows.all())


async def count(db, model) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def only_broadcast(db) -> Broadcast:
    async with db.session() as session:
        return (await session.scalars(select(Broadcast))).one()


def edits(api, message_id: int) -> list[str]:
    return [
        c.params["text"]
        for c in api.calls
        if c.method == "editMessageText" and int(c.params["message_id"]) == message_id
    ]


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (["Tất cả"], [VP, YT, BOTH, GD, COORD, ADMIN2]),
        (["Chọn đơn vị", "Chi bộ Văn phòng"], [VP, BOTH, COORD]),
        (["Chọn đơn vị", "Chi bộ Văn phòng", "Chi bộ Y tế"], [VP, YT, BOTH, COORD]),
        (["Chọn đơn vị", "Đảng ủy Khối"], [VP, YT, BOTH, COORD]),  # sub-units included
        (["Chọn đơn vị", "Chi bộ Giáo dục"], [GD]),
        (["Theo vai trò", "thành viên"], [VP, YT, BOTH, GD]),
        (["Theo vai trò", "cán bộ phụ trách"], [COORD]),
        (["Theo vai trò", "quản trị"], [ADMIN2]),  # the sender has seen the preview
    ],
)
async def test_each_audience_reaches_exactly_its_people_once(
    org, chat, db, app, api, audience, expected
):
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await compose(admin, audience)
    assert replies[0] == f"📣 Thông báo từ Ban chỉ đạo:\n\n{TEXT}"
    assert replies[1].endswith(f"Sẽ gửi tới {len(expected)} người.")
    replies = await admin.click("✅ Gửi")
    assert replies == [f"📣 Đang gửi thông báo: đã gửi 0/{len(expected)}"]
    sent = await only_broadcast(db)
    assert await recipients(db, sent.id) == expected
    assert sent.total == len(expected)

    before = len(api.calls)
    await flush_outbox(app)
    delivered = [c for c in api.calls[before:] if c.method == "sendMessage"]
    assert sorted(int(c.params["chat_id"]) for c in delivered) == expected
    assert {c.params["text"] for c in delivered} == {f"📣 Thông báo từ Ban chỉ đạo:\n\n{TEXT}"}


async def test_units_preview_send_progress_and_audit(org, chat, db, app, api):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/thongbao")
    assert admin.buttons() == ["Tất cả", "Chọn đơn vị", "Theo vai trò", "✖ Hủy"]
    replies = await admin.click("Chọn đơn vị")
    assert replies == ["Đơn vị 1: Chọn đơn vị nhận thông báo (gồm cả các đơn vị trực thuộc):"]
    await admin.click("Chi bộ Văn phòng")
    await admin.click("➕ Thêm")
    replies = await admin.click("Chi bộ Văn phòng")
    assert replies[0].startswith("⚠️ Đã chọn Chi bộ Văn phòng rồi. Hãy chọn đơn vị khác.")
    await admin.click("Chi bộ Y tế")
    replies = await admin.click("Xong")
    assert replies == ["Nội dung thông báo (tối đa 3.500 ký tự):"]
    replies = await admin.send(TEXT)
    assert replies == [
        f"📣 Thông báo từ Ban chỉ đạo:\n\n{TEXT}",
        "☝️ Xem trước: người nhận sẽ thấy đúng như trên.\n"
        "Gửi tới: Chi bộ Văn phòng, Chi bộ Y tế.\n"
        "Sẽ gửi tới 4 người.",
    ]
    assert admin.buttons() == [
        "✅ Gửi",
        "✏️ Sửa nội dung",
        "👥 Đổi người nhận",
        "🏢 Chọn lại đơn vị",
        "« Quay lại",
        "❌ Hủy",
    ]
    assert await count(db, OutboxMessage) == 0

    await admin.click("✅ Gửi")
    progress = admin.last_message()
    assert progress["text"] == "📣 Đang gửi thông báo: đã gửi 0/4"
    sent = await only_broadcast(db)
    assert (sent.progress_channel, sent.progress_chat_id, sent.progress_message_id) == (
        "telegram",
        str(ADMIN_ID),
        str(progress["message_id"]),
    )
    assert sent.audience == {"kind": "units", "unit_ids": sorted([org["VP"], org["YT"]])}
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "broadcast.sent")
        )
        priorities = set((await session.scalars(select(OutboxMessage.priority))).all())
        stored = (await session.scalars(select(OutboxMessage.payload))).all()
    assert entry.object_id == sent.id and entry.details["total"] == 4
    assert priorities == {broadcast.PRIORITY}
    # The text is kept once, in the broadcast, not in each of its outbox rows.
    assert all("text" not in p and p["broadcast"] == sent.id for p in stored)

    assert await run_broadcast_progress(app) == 0  # nothing has gone out: no edit
    await flush_outbox(app)
    await run_broadcast_progress(app)
    assert edits(api, progress["message_id"]) == [
        "✅ Đã gửi xong thông báo: 4 đã nhận, 0 không liên lạc được, 0 lỗi"
    ]
    assert (await only_broadcast(db)).finished_at is not None
    assert await run_broadcast_progress(app) == 0  # finished: left alone


async def test_progress_counts_unreachable_and_failed(org, chat, db, app, api):
    api.fail_chats[YT] = (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    api.fail_chats[GD] = (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Tất cả"])
    await admin.click("✅ Gửi")
    progress = admin.last_message()
    assert progress["text"] == "📣 Đang gửi thông báo: đã gửi 0/6"
    sender_of(app).batch = 2  # one sender round = two messages, so progress shows in between
    while await flush_outbox(app):
        await run_broadcast_progress(app)
    await run_broadcast_progress(app)
    assert edits(api, progress["message_id"]) == [
        "📣 Đang gửi thông báo: đã gửi 2/6",
        "📣 Đang gửi thông báo: đã gửi 4/6",
        "✅ Đã gửi xong thông báo: 4 đã nhận, 1 không liên lạc được, 1 lỗi",
    ]
    assert api.messages[progress["message_id"]]["text"].startswith("✅ Đã gửi xong")
    async with db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == str(YT)))
    assert identity.unreachable_at is not None


async def test_preview_edit_goes_back_and_cancel_sends_nothing(org, chat, db, app, api):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/thongbao")
    await admin.click("Tất cả")
    replies = await admin.send("x" * 3501)
    assert replies[0].startswith("⚠️ Nội dung quá dài: 3.501 ký tự, tối đa 3.500.")
    replies = await admin.send("Họp chi bộ lúc 8 giờ 🎉")
    assert replies[0].startswith("⚠️")
    replies = await admin.send("Họp chi bộ lúc 8 giờ")
    assert replies[0] == "📣 Thông báo từ Ban chỉ đạo:\n\nHọp chi bộ lúc 8 giờ"
    assert replies[1].endswith("Sẽ gửi tới 6 người.")

    replies = await admin.click("✏️ Sửa nội dung")
    assert replies == ["✏️ Sửa: Nội dung thông báo (tối đa 3.500 ký tự):"]
    replies = await admin.send("Họp chi bộ lúc 14 giờ")
    assert replies[0] == "📣 Thông báo từ Ban chỉ đạo:\n\nHọp chi bộ lúc 14 giờ"

    await admin.click("👥 Đổi người nhận")
    await admin.click("Theo vai trò")
    replies = await admin.click("cán bộ phụ trách")
    assert replies[0] == "📣 Thông báo từ Ban chỉ đạo:\n\nHọp chi bộ lúc 14 giờ"
    assert replies[1] == (
        "☝️ Xem trước: người nhận sẽ thấy đúng như trên.\n"
        "Gửi tới: những người có vai trò cán bộ phụ trách.\n"
        "Sẽ gửi tới 1 người."
    )
    replies = await admin.click("« Quay lại")
    assert replies[0] == "✏️ Sửa: Gửi tới những người có vai trò nào?"

    replies = await admin.click("✖ Hủy")
    assert replies[0].startswith("Hủy «Gửi thông báo»? Những gì bạn đã điền sẽ bị bỏ.")
    replies = await admin.click("🗑 Hủy, bỏ phần đã điền")
    assert replies == ["Đã hủy «Gửi thông báo». Gõ /help để xem các việc khác."]
    await flush_outbox(app)
    assert await count(db, Broadcast) == 0
    assert await count(db, OutboxMessage) == 0
    assert [c for c in api.sent() if int(c.params["chat_id"]) != ADMIN_ID] == []


async def test_nobody_to_reach_offers_no_send(org, chat, db, clock):
    async with db.session() as session:
        await session.execute(
            update(Identity).where(Identity.external_id == str(GD)).values(unreachable_at=clock())
        )
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await compose(admin, ["Chọn đơn vị", "Chi bộ Giáo dục"])
    assert replies[1].endswith(
        "Không có ai nhận: chưa ai trong nhóm này liên lạc được với bot. Hãy đổi người nhận."
    )
    assert "✅ Gửi" not in admin.buttons()
    version = admin.last_keyboard_message()["reply_markup"]["inline_keyboard"][0][0][
        "callback_data"
    ].split(":")[1]
    replies = await admin.press(f"f:{version}:ok")  # forged: the button is not there
    assert replies[-1].startswith("⚠️ Không có ai để gửi thông báo này tới.")
    assert await count(db, Broadcast) == 0


async def test_double_confirm_and_stale_buttons_send_once(org, chat, db, app, api):
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Chọn đơn vị", "Chi bộ Văn phòng"])
    preview = admin.last_keyboard_message()
    await admin.click("✅ Gửi", message=preview)
    await admin.click("✅ Gửi", message=preview)  # a double press, or an old message
    assert admin.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    await admin.click("✏️ Sửa nội dung", message=preview)
    await admin.click("❌ Hủy", message=preview)
    for forged in ("f:1:ok", "f:99999999:ok", "bc:1", "f:x:ok", "broadcast:1"):
        await admin.press(forged)
    assert await count(db, Broadcast) == 1
    assert await count(db, OutboxMessage) == 3
    await flush_outbox(app)
    await flush_outbox(app)
    texts = [c.params["text"] for c in api.sent() if int(c.params["chat_id"]) == VP]
    assert texts == [f"📣 Thông báo từ Ban chỉ đạo:\n\n{TEXT}"]


async def test_forged_option_mid_form_changes_nothing(org, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/thongbao")
    await admin.click("Chọn đơn vị")
    data = admin.last_keyboard_message()["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    version = data.split(":")[1]
    for action in ("o:999999", "o:all", "e:nothing", "ok", "o:-1"):
        await admin.press(f"f:{version}:{action}")
    replies = await admin.send("/tieptuc")
    assert replies == ["Đơn vị 1: Chọn đơn vị nhận thông báo (gồm cả các đơn vị trực thuộc):"]
    assert await count(db, Broadcast) == 0


@pytest.mark.parametrize("who", [COORD, VP])
async def test_coordinators_and_members_are_refused(org, chat, db, app, api, who):
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Tất cả"])
    admin_data = [
        b["callback_data"]
        for row in admin.last_keyboard_message()["reply_markup"]["inline_keyboard"]
        for b in row
    ]
    person = chat(who, "Người")
    assert await person.send("/thongbao") == ["Bạn không có quyền thực hiện việc này."]
    for data in [*admin_data, "f:1:ok", "f:1:o:all"]:
        assert await person.press(data) == []
        assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    # Even with a form of their own open, its version on the admin's buttons does nothing.
    await person.send("/nhacnho" if who == VP else "/moi")
    own = person.last_keyboard_message()["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    version = own.split(":")[1]
    await person.press(f"f:{version}:ok")
    assert await count(db, Broadcast) == 0
    assert await count(db, OutboxMessage) == 0


async def test_admin_role_taken_away_before_sending(org, chat, db):
    admin = chat(ADMIN2, "Quản trị")  # an admin in the database, not by the configuration
    await compose(admin, ["Tất cả"])
    async with db.session() as session:
        await session.execute(update(Member).values(is_admin=False))
    replies = await admin.click("✅ Gửi")
    assert replies == ["Bạn không còn quyền thực hiện «Gửi thông báo», nên phiên nhập đã được hủy."]
    assert await count(db, Broadcast) == 0
    assert await count(db, OutboxMessage) == 0


async def test_in_quiet_hours_it_waits_for_the_morning(org, chat, db, app, api, clock):
    clock.now = datetime(2026, 11, 26, 21, 0, tzinfo=HANOI).astimezone(UTC)
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Chọn đơn vị", "Chi bộ Giáo dục"])
    replies = await admin.click("✅ Gửi")
    assert replies == [
        "🌙 Đang trong giờ nghỉ: thông báo sẽ bắt đầu được gửi lúc 27/11/2026 07:30.",
        "📣 Đang gửi thông báo: đã gửi 0/1",
    ]
    assert await flush_outbox(app) == 0
    clock.now = datetime(2026, 11, 27, 7, 30, tzinfo=HANOI).astimezone(UTC)
    assert await flush_outbox(app) == 1


def test_progress_texts_use_vietnamese_thousands() -> None:
    t = Texts("vi")
    assert broadcast.progress_text(t, done=1200, total=5908) == (
        "📣 Đang gửi thông báo: đã gửi 1.200/5.908"
    )
    assert broadcast.final_text(t, sent=5800, unreachable=100, failed=8) == (
        "✅ Đã gửi xong thông báo: 5.800 đã nhận, 100 không liên lạc được, 8 lỗi"
    )


async def test_progress_of_thousands_counts_only_its_own_messages(db, clock):
    """5.908 messages in every state, beside another broadcast whose id shares a prefix."""
    async with db.session() as session:
        member = Member(full_name="Một người", created_at=clock())
        session.add(member)
        await session.flush()
        for ident, total in ((1, 5908), (11, 300)):
            session.add(
                Broadcast(
                    id=ident,
                    created_by=member.id,
                    text="…",
                    audience={"kind": "all"},
                    total=total,
                    progress_channel="telegram",
                    progress_chat_id="42",
                    progress_message_id=str(ident),
                    progress_text="",
                    created_at=clock(),
                )
            )
        await session.flush()
        statuses = ["sent"] * 1000 + ["unreachable"] * 100 + ["failed"] * 8 + ["pending"] * 4800
        rows = [
            row(f"bc:1:{n}", member.id, status, clock()) for n, status in enumerate(statuses)
        ] + [row(f"bc:11:{n}", member.id, "pending", clock()) for n in range(300)]
        await outbox.enqueue_many(session, rows)
    t = Texts("vi")
    found = await broadcast.progress_updates(db, t, clock(), channel="telegram")
    assert [(e.message_id, e.text, e.final) for e in found] == [
        ("1", "📣 Đang gửi thông báo: đã gửi 1.108/5.908", False),
        ("11", "📣 Đang gửi thông báo: đã gửi 0/300", False),
    ]
    assert await broadcast.progress_updates(db, t, clock(), channel="telegram") == []
    async with db.session() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.startswith("bc:1:"), OutboxMessage.status == "pending")
            .values(status="sent")
        )
    found = await broadcast.progress_updates(db, t, clock(), channel="telegram")
    assert [(e.message_id, e.text, e.final) for e in found] == [
        ("1", "✅ Đã gửi xong thông báo: 5.800 đã nhận, 100 không liên lạc được, 8 lỗi", True)
    ]
    assert await broadcast.progress_updates(db, t, clock(), channel="terminal") == []


def row(key: str, member_id: int, status: str, now: datetime) -> dict:
    return {
        "key": key,
        "member_id": member_id,
        "payload": {"text": "…", "choices": []},
        "status": status,
        "priority": broadcast.PRIORITY,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }


async def test_terminal_chat_prints_the_progress(db, core, clock):
    from bot.demo import seed

    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    lines: list[str] = []
    admin = TerminalChat(core, "admin", lines.append)
    await admin.say("/thongbao")
    await admin.say("1")  # [1] Tất cả
    await admin.say("Họp chi bộ lúc 8 giờ")
    assert "Sẽ gửi tới 2 người." in "\n".join(lines)
    await admin.say("1")  # [1] ✅ Gửi
    assert lines[-1] == "📣 Đang gửi thông báo: đã gửi 0/2"
    member: list[str] = []
    await TerminalChat(core, "an", member.append).queued()
    assert "🔔 📣 Thông báo từ Ban chỉ đạo:\n\nHọp chi bộ lúc 8 giờ" in member
    lines.clear()
    await admin.say("/help")
    assert lines[-1] == "📣 Đang gửi thông báo: đã gửi 1/2"


async def test_a_sender_round_claims_its_batch_replies_like_notices_first(org, chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Tất cả"])
    await admin.click("✅ Gửi")
    async with db.session() as session:
        member_id = await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(GD))
        )
        await outbox.enqueue(
            session,
            key="evaluated:1",
            member_id=member_id,
            payload={"text": "Mô hình của bạn đã được đánh giá.", "choices": []},
            now=clock(),
            priority=3,
        )
    async with db.session() as session:
        claimed = await outbox.claim(session, channel="telegram", now=clock(), limit=2)
    # Two, not the seven due (PostgreSQL once claimed them all), the notice ahead of the rest.
    assert [c.payload["text"] for c in claimed] == [
        "Mô hình của bạn đã được đánh giá.",
        f"📣 Thông báo từ Ban chỉ đạo:\n\n{TEXT}",
    ]


@pytest.mark.parametrize(
    ("description", "sent_anew"),
    [
        ("Bad Request: message to edit not found", True),
        ("Bad Request: message is not modified", False),
    ],
)
async def test_a_final_count_that_cannot_be_edited_in(
    org, chat, db, app, api, description, sent_anew
):
    assert "broadcast-progress" in [job.name for job in app.job_queue.jobs()]
    admin = chat(ADMIN_ID, "Quản trị")
    await compose(admin, ["Chọn đơn vị", "Chi bộ Giáo dục"])
    await admin.click("✅ Gửi")
    await flush_outbox(app)
    api.fail_next["editMessageText"] = (
        400,
        {"ok": False, "error_code": 400, "description": description},
    )
    before = len(api.calls)
    assert await run_broadcast_progress(app) == 1  # logged, not raised
    final = "✅ Đã gửi xong thông báo: 1 đã nhận, 0 không liên lạc được, 0 lỗi"
    anew = [c.params["text"] for c in api.calls[before:] if c.method == "sendMessage"]
    assert anew == ([final] if sent_anew else [])
    assert (await only_broadcast(db)).finished_at is not None
