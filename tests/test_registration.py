"""A whole registration through the real Application and the recording Bot API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.demo import seed
from language import vn
from storage.models import Conversation, Identity, Member, Model, Target

MEMBER_ID = 4242


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def join(
    chat,
    user_id: int = MEMBER_ID,
    name: str = "Nguyễn Văn An",
    *,
    code: str = "DEMO-TV",
    category: str = "Công chức",
):
    """Someone opens an invite (the demo's member invite by default) and gives their name."""
    person = chat(user_id, name.split()[-1])
    await person.send(f"/start {code}")
    await person.send(name)
    await person.click(category)
    await person.click("Bỏ qua »")
    return person


async def count(db, model) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_invite_join_then_full_registration(seeded, chat, db, api):
    person = chat(MEMBER_ID, "An")
    replies = await person.send("/start DEMO-TV")
    assert "Bạn được mời tham gia Chi bộ Văn phòng với vai trò thành viên" in replies[0]
    assert replies[-1] == "Họ và tên của bạn?"
    replies = await person.send("Nguyễn Văn An")
    assert replies == ["Bạn là:"]
    assert person.buttons()[:7] == [
        "Cán bộ",
        "Đảng viên",
        "Công chức",
        "Viên chức",
        "Đoàn viên",
        "Hội viên",
        "Người lao động",
    ]
    replies = await person.click("Công chức")
    assert replies[0].startswith("Số điện thoại")
    replies = await person.send("0912 345 678")
    assert (
        replies[0] == "Chào mừng Nguyễn Văn An đã tham gia Chi bộ Văn phòng với vai trò thành viên!"
    )
    assert "/dangky" in replies[1]

    replies = await person.send("/dangky")
    assert "Dân vận khéo (đợt thử)" in replies[0]
    assert replies[1] == "Mô hình đăng ký cho tập thể hay cá nhân?"
    assert person.buttons() == ["Tập thể", "Cá nhân", "✖ Hủy"]
    assert await person.click("Tập thể") == [
        "Tên tập thể (ví dụ: Chi bộ Văn phòng, Phòng Tổ chức)?"
    ]
    await person.send("Chi bộ Văn phòng")
    # A wrong number, then the Vietnamese way.
    replies = await person.send("mười hai")
    assert replies[0].startswith("⚠️ Số không hợp lệ. Gõ một số, ví dụ: 15 người.")
    assert replies[0].endswith("Tập thể có bao nhiêu người (ví dụ: 15)?")
    replies = await person.send("12")
    assert replies[0].startswith("Tên mô hình")
    # An over-long title is refused with its length.
    replies = await person.send("Mô hình " + "x" * 300)
    assert "Nội dung quá dài: 308 ký tự, tối đa 200." in replies[0]
    await person.send("Vận động xây nhà đại đoàn kết")
    assert "Cải cách hành chính" in person.buttons()
    await person.click("An sinh xã hội")
    await person.send("Vận động doanh nghiệp, cán bộ đóng góp xây nhà cho hộ nghèo")
    # Back: undo the approach and answer it again.
    replies = await person.click("« Quay lại")
    assert replies == ["Cách làm: mô hình được thực hiện như thế nào?"]
    await person.send("Vận động doanh nghiệp và cán bộ đóng góp xây nhà cho hộ nghèo")
    await person.send("Mỗi năm xây ít nhất 5 căn nhà đại đoàn kết")
    assert await person.send("nhà đại đoàn kết") == [
        "Chỉ tiêu 1: Đơn vị tính (ví dụ: căn, đồng, người)?"
    ]
    await person.send("căn")
    await person.send("5")
    await person.click("➕ Thêm")
    await person.send("tiền vận động")
    await person.send("đồng")
    await person.send("50.000.000 đồng")
    await person.click("Xong")
    # A wrong date, then a good one.
    replies = await person.send("31/02/2027")
    assert replies[0].startswith("⚠️ Tháng 2/2027 không có ngày 31: tháng này có 28 ngày.")
    await person.send("01/12/2026")
    replies = await person.send("30/11/2026")
    assert replies[0].startswith("⚠️ Ngày phải từ 01/12/2026 trở đi.")
    replies = await person.send("31-12-2027")
    summary = replies[0]
    assert summary.startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")
    assert "• Số người: 12 người" in summary
    assert "  1. nhà đại đoàn kết: 5 căn" in summary
    assert "  2. tiền vận động: 50 triệu đồng" in summary
    assert "• Kết thúc: 31/12/2027" in summary

    # Edit the title from the summary, then come back to the summary.
    replies = await person.click("✏️ Tên mô hình")
    assert replies == [
        "✏️ Sửa: Tên mô hình (ví dụ: «Cải cách hành chính, không để đơn thư khiếu nại»)?"
    ]
    replies = await person.send("Vận động xây nhà đại đoàn kết cho hộ nghèo")
    assert "• Tên mô hình: Vận động xây nhà đại đoàn kết cho hộ nghèo" in replies[0]
    assert await count(db, Model) == 0  # nothing stored before confirming

    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith(
        "✅ Đã gửi đăng ký mô hình «Vận động xây nhà đại đoàn kết cho hộ nghèo»"
    )

    async with db.session() as session:
        model = await session.scalar(select(Model))
        targets = (await session.scalars(select(Target).order_by(Target.position))).all()
        conv = await session.scalar(select(Conversation))
        owner = await session.scalar(
            select(Member).join(Identity).where(Identity.external_id == str(MEMBER_ID))
        )
    assert model.status == "submitted"
    assert model.kind == "collective" and model.collective_name == "Chi bộ Văn phòng"
    assert model.headcount == 12
    assert model.owner_id == owner.id and owner.phone == "0912345678"
    assert [(t.indicator, t.unit_of_measure, t.target_value) for t in targets] == [
        ("nhà đại đoàn kết", "căn", Decimal("5")),
        ("tiền vận động", "đồng", Decimal("50000000")),
    ]
    assert conv is None  # the form is done

    # Every button's data is short ASCII, as Telegram requires (1-64 bytes).
    datas = [
        button["callback_data"]
        for call in api.sent(MEMBER_ID)
        if call.params.get("reply_markup")
        for row in call.params["reply_markup"]["inline_keyboard"]
        for button in row
    ]
    assert len(datas) > 40
    assert all(data.isascii() and 1 <= len(data.encode()) <= 64 for data in datas)

    # The answered button message was marked and its keyboard removed.
    edits = [c for c in api.calls if c.method == "editMessageText"]
    assert edits and edits[-1].params["text"].endswith("→ ✅ Gửi đăng ký")

    replies = await person.send("/mohinh")
    assert replies[0] == (
        "Mô hình của bạn (1):\nMH1 · Vận động xây nhà đại đoàn kết cho hộ nghèo — Đã gửi, chờ duyệt"
    )
    replies = await person.click("MH1 · Vận động xây nhà đại đoàn kết cho hộ nghèo")
    assert "• Số người: 12" in replies[0]
    assert "  2. tiền vận động: 50 triệu đồng" in replies[0]
    assert "• Thời gian: 01/12/2026 – 31/12/2027" in replies[0]


async def test_same_title_twice_in_a_campaign_is_refused(seeded, chat, db):
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await person.send("/dangky")
    await person.click("Cá nhân")
    replies = await person.send("  chuyển đổi số trong GIẢNG DẠY. ")
    assert replies[0].startswith("⚠️ Bạn đã đăng ký mô hình tên «chuyển đổi số trong GIẢNG DẠY.»")
    assert replies[0].endswith(
        "Tên mô hình (ví dụ: «Cải cách hành chính, không để đơn thư khiếu nại»)?"
    )
    assert await count(db, Model) == 1


async def test_a_title_taken_after_it_was_typed_is_refused_at_sending(seeded, chat, db):
    """Between typing the title and sending, a model of that name became theirs (from the other
    channel they linked, say): the unique constraint refuses it, in the same words as when
    typing, the summary is shown again and nothing else is kept."""
    person = await join(chat)
    await register_quickly(person, "Mô hình đầu tiên")
    await fill_registration(person, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        first = await session.scalar(select(Model))
        first.title = "Chuyển đổi số trong giảng dạy"
        first.title_key = vn.title_key(first.title)
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith(
        "⚠️ Bạn đã đăng ký mô hình tên «Chuyển đổi số trong giảng dạy» trong đợt này."
    )
    assert any("✅ Gửi đăng ký" in label for label in person.buttons())
    assert await count(db, Model) == 1
    assert await count(db, Target) == 1  # the first model's only


async def register_quickly(person, title: str) -> None:
    await fill_registration(person, title)
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith("✅ Đã gửi đăng ký")


async def fill_registration(person, title: str) -> None:
    """An individual's registration answered up to its summary, not yet sent."""
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send(title)
    await person.click("Chuyển đổi số")
    await person.send("Soạn bài giảng điện tử cho mọi môn học")
    await person.send("Mọi lớp học có bài giảng điện tử")
    await person.send("bài giảng điện tử")
    await person.send("bài")
    await person.send("1.061")
    await person.click("Xong")
    await person.send("01/12/2026")
    await person.send("30/06/2027")


async def test_skip_at_the_summary_points_to_its_buttons(seeded, chat, db):
    person = await join(chat)
    await fill_registration(person, "Bài giảng điện tử")
    replies = await person.send("/boqua")
    assert replies[0].startswith("⚠️ Hãy chọn bằng các nút bên dưới.\n📋 Đăng ký mô hình")
    assert "✅ Gửi đăng ký" in person.buttons()


async def test_cancel_discards_the_draft(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Mô hình sẽ bị hủy")
    replies = await person.send("/huy")
    assert replies == [
        "Hủy «Đăng ký mô hình»? Những gì bạn đã điền sẽ bị bỏ. (Gõ /huy lần nữa cũng là hủy.)"
    ]
    assert await count(db, Conversation) == 1  # asked first: nothing thrown away yet
    replies = await person.click("🗑 Hủy, bỏ phần đã điền")
    assert replies == ["Đã hủy «Đăng ký mô hình». Gõ /help để xem các việc khác."]
    assert await count(db, Conversation) == 0
    assert await person.send("chữ bất kỳ") == [
        "Tôi chưa hiểu ý bạn. Gõ /help để xem những việc bạn có thể làm."
    ]
    assert await count(db, Model) == 0


async def test_cancel_button_works_at_every_kind_of_step(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    replies = await person.click("✖ Hủy")
    assert replies == [
        "Hủy «Đăng ký mô hình»? Những gì bạn đã điền sẽ bị bỏ. (Gõ /huy lần nữa cũng là hủy.)"
    ]
    replies = await person.click("🗑 Hủy, bỏ phần đã điền")
    assert replies == ["Đã hủy «Đăng ký mô hình». Gõ /help để xem các việc khác."]
    assert await count(db, Conversation) == 0


async def test_stale_and_forged_buttons_change_nothing(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    kind_question = person.last_keyboard_message()
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        before = (await session.scalar(select(Conversation))).state

    # A button from an older message: politely refused, state unchanged.
    replies = await person.click("Tập thể", message=kind_question)
    assert replies == []
    assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    # Forged data: wrong version, unknown action, garbage, an option not offered.
    async with db.session() as session:
        version = (await session.scalar(select(Conversation))).version
    for data in (f"f:{version + 7}:o:1", "f:abc:ok", "garbage", "jr:a:99999", f"f:{version}:o:999"):
        await person.press(data)
    async with db.session() as session:
        after = await session.scalar(select(Conversation))
    assert after.state["answers"] == before["answers"]
    assert await count(db, Model) == 0
    assert person.notices.count("Nút này thuộc một tin nhắn cũ và không còn dùng được.") >= 3


async def test_nobody_without_membership_can_register_or_see(seeded, chat, db):
    stranger = chat(777, "Lạ")
    assert await stranger.send("/dangky") == [
        "Bạn chưa là thành viên của đơn vị nào. "
        "Hãy mở đường link mời, hoặc gửi /start để xin tham gia."
    ]
    assert (await stranger.send("/mohinh"))[0].startswith("Bạn chưa là thành viên")
    assert await stranger.send("/themdonvi") == ["Bạn không có quyền thực hiện việc này."]
    assert await stranger.send("/chapnhan 1") == ["Bạn không có quyền thực hiện việc này."]
    # A forged "show model" button does not reveal someone else's model.
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    await stranger.send("/start")
    assert await stranger.press(f"m:{model_id}") == ["Không tìm thấy mô hình này."]


async def test_attachment_where_text_is_expected(seeded, chat):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    replies = await person.send_photo(caption="Ảnh minh họa")
    assert replies == [
        "⚠️ Ở bước này cần nhập chữ, không phải tệp hay ảnh.\n"
        "Tên mô hình (ví dụ: «Cải cách hành chính, không để đơn thư khiếu nại»)?"
    ]


async def test_typing_an_option_instead_of_pressing_it(seeded, chat):
    person = await join(chat)
    await person.send("/dangky")
    assert await person.send("tap the") == ["Tên tập thể (ví dụ: Chi bộ Văn phòng, Phòng Tổ chức)?"]
