"""Answers people naturally give (issue 12, items 3-6), each typed the way the user did: numbers
with their unit, a button's label typed, impossible dates, the hours /nhacnho can take, the
defaults a summary shows, and /huy asking before it throws a half-filled form away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels import ZALO
from bot.demo import seed
from bot.terminal import TerminalChat
from storage.models import Conversation, Invite, Model, Target
from tests.conftest import ADMIN_ID
from tests.test_registration import count, join, register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all

CANCEL_YES = "🗑 Hủy, bỏ phần đã điền"
CANCEL_NO = "▶️ Điền tiếp"


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def answers(db) -> dict:
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
        return conv.state["answers"] if conv is not None else {}


async def up_to_the_first_target(person) -> None:
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Vận động xây nhà đại đoàn kết")
    await person.click("Chuyển đổi số")
    await person.send("Vận động cán bộ, doanh nghiệp góp công, góp của")
    await person.send("Năm căn nhà đại đoàn kết cho hộ nghèo")
    await person.send("nhà đại đoàn kết")


# --- numbers with their unit ------------------------------------------------------------------


async def test_a_headcount_takes_people_and_says_why_other_answers_are_not_one(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Tập thể")
    replies = await person.send("Chi bộ Văn phòng")
    assert replies == ["Tập thể có bao nhiêu người (ví dụ: 15)?"]
    for typed, said in (
        ("mười lăm", "⚠️ Số không hợp lệ. Gõ một số, ví dụ: 15 người."),
        ("15 căn", "⚠️ Câu hỏi này tính bằng «người», không phải «căn»."),
        ("-3", "⚠️ Không nhận số âm. Hãy gõ một số từ 2 trở lên."),
        ("1.5", "⚠️ Cần một số nguyên. Dấu chấm chỉ dùng để ngăn cách hàng nghìn (1.061)"),
        ("2,5", "⚠️ Cần một số nguyên (không có phần thập phân)."),
    ):
        replies = await person.send(typed)
        assert replies[0].startswith(said), (typed, replies)
        assert "50.000.000" not in replies[0]  # a headcount's example is not an amount
        assert "headcount" not in await answers(db)
    replies = await person.send("15 Người")
    assert replies[0].startswith("Tên mô hình")
    assert (await answers(db))["headcount"] == "15"


async def test_a_target_value_takes_the_unit_named_just_before(seeded, chat, db):
    person = await join(chat)
    await up_to_the_first_target(person)
    replies = await person.send("căn")
    assert replies[0].startswith("Chỉ tiêu 1: Cần đạt bao nhiêu căn?")
    replies = await person.send("5 người")
    assert replies[0].startswith(
        "⚠️ Câu hỏi này tính bằng «căn», không phải «người». Gõ số, có thể kèm «căn», ví dụ: 5 căn."
    )
    replies = await person.send("5 căn")
    assert replies[0].startswith("Đã có 1 mục trong «Chỉ tiêu». Bạn có muốn thêm nữa không?")
    assert (await answers(db))["targets"]["items"] == [
        {"indicator": "nhà đại đoàn kết", "unit": "căn", "value": "5"}
    ]


async def test_an_amount_keeps_its_amount_words(seeded, chat, db):
    person = await join(chat)
    await up_to_the_first_target(person)
    await person.send("đồng")
    replies = await person.send("năm triệu")
    assert replies[0].startswith("⚠️ Số không hợp lệ. Viết theo kiểu Việt Nam")  # amounts' hint
    await person.send("50 triệu đồng")
    assert (await answers(db))["targets"]["items"][0]["value"] == "50000000"


async def test_a_report_value_takes_its_unit(db, clock, chat):
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    await person.send("/baocao")
    replies = await person.send("Hoàn thành bài giảng điện tử cho khối 10")
    assert "(đơn vị: bài;" in replies[0]
    replies = await person.send("2 căn")
    assert replies[0].startswith("⚠️ Câu hỏi này tính bằng «bài», không phải «căn».")
    replies = await person.send("2 bài")
    assert replies[0].startswith("Gửi ảnh minh chứng")


# --- a button's label typed -------------------------------------------------------------------


async def test_one_more_is_answered_by_typing_its_labels_on_telegram(seeded, chat, db):
    person = await join(chat)
    await up_to_the_first_target(person)
    await person.send("căn")
    await person.send("5")
    replies = await person.send("thêm")
    assert replies[0].startswith("Chỉ tiêu 2: Tên chỉ tiêu")
    await person.send("tiền vận động")
    await person.send("đồng")
    await person.send("50 triệu")
    replies = await person.send("XONG")
    assert replies[0].startswith("Ngày bắt đầu thực hiện")
    await person.send("01/12/2026")
    replies = await person.send("30/06/2027")
    assert "kiểm tra lại thông tin" in replies[0]
    replies = await person.send("gui dang ky")  # the summary's own button, typed
    assert replies[0].startswith("✅ Đã gửi đăng ký")
    assert await count(db, Model) == 1 and await count(db, Target) == 2


@pytest.mark.parametrize("looks", [None, ZALO], ids=["terminal", "zalo"])
async def test_one_more_is_answered_by_typing_its_labels_without_buttons(db, core, clock, looks):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    lines: list[str] = []
    an = TerminalChat(core, "an", lines.append, **({"looks": looks} if looks else {}))
    for line in (
        "/dangky",
        "ca nhan",
        "Vận động xây nhà đại đoàn kết",
        "chuyen doi so",
        "Vận động cán bộ, doanh nghiệp góp công, góp của",
        "Năm căn nhà đại đoàn kết cho hộ nghèo",
        "nhà đại đoàn kết",
        "căn",
        "5 căn",
    ):
        await an.say(line)
    assert "Bạn có muốn thêm nữa không?" in lines[-1]
    await an.say("them")
    assert "Chỉ tiêu 2: Tên chỉ tiêu" in lines[-1]
    await an.say("quay lại")
    await an.say("xong")
    assert "Ngày bắt đầu thực hiện" in lines[-1]
    assert len((await answers(db))["targets"]["items"]) == 1


# --- dates and hours --------------------------------------------------------------------------


async def test_an_impossible_date_says_what_is_wrong_with_it(seeded, chat, db):
    person = await join(chat)
    await up_to_the_first_target(person)
    await person.send("căn")
    await person.send("5")
    await person.click("Xong")
    replies = await person.send("31/02/2026")
    assert replies[0].startswith("⚠️ Tháng 2/2026 không có ngày 31: tháng này có 28 ngày.")
    replies = await person.send("15/13/2026")
    assert replies[0].startswith("⚠️ Không có tháng 13: tháng chỉ từ 1 đến 12")
    assert "starts_on" not in await answers(db)


async def test_reminders_offer_only_the_hours_that_can_be_chosen(seeded, chat, db):
    person = await join(chat)
    replies = await person.send("/nhacnho")
    assert (
        "Chọn một giờ từ 8–19 (từ 20:00–07:30 là giờ nghỉ, bot không gửi nhắc nhở)" in (replies[-1])
    )
    assert "0–23" not in replies[-1]
    for typed, hour in (("1", "01:00"), ("7 giờ", "07:00")):
        replies = await person.send(typed)
        assert replies[0].startswith(
            f"⚠️ {hour} nằm trong giờ nghỉ (20:00–07:30), khi bot không gửi "
            "nhắc nhở. Hãy chọn một giờ từ 8–19."
        )
    assert (await person.send("7 phút"))[0].startswith(
        "⚠️ Câu hỏi này tính bằng «giờ», không phải «phút»."
    )
    replies = await person.send("9h")
    assert replies[0].startswith("Tạm dừng nhắc nhở đến ngày nào")
    assert (await answers(db))["hour"] == "9"


# --- defaults in summaries --------------------------------------------------------------------


async def test_a_campaigns_summary_shows_the_defaults_it_will_take(chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/taodot")
    await admin.send("DVK2026")
    await admin.send("Dân vận khéo 2026")
    await admin.send("01/01/2026")
    await admin.send("31/12/2027")
    await admin.click("Hằng tháng")
    for _ in range(2):
        await admin.click("Bỏ qua »")
    summary = (await admin.click("Bỏ qua »"))[0]
    assert "(bỏ trống)" not in summary
    assert ": 25 (mặc định)" in summary
    assert ": 01/01/2026 (mặc định)" in summary
    assert ": 31/12/2027 (mặc định)" in summary
    replies = await admin.click("✅ Xác nhận")
    assert (
        replies[1]
        == "Kỳ báo cáo: Hằng tháng, hạn ngày 25; nhận đăng ký từ 01/01/2026 đến 31/12/2027."
    )


async def test_an_invites_summary_shows_the_defaults_it_will_take(seeded, chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/moi")
    await admin.click("Chi bộ Văn phòng")
    await admin.click("thành viên")
    assert (await admin.send("30 ngày nữa"))[0].startswith(
        "⚠️ Câu hỏi này tính bằng «ngày», không phải «ngày nữa»."
    )
    await admin.click("Bỏ qua »")
    summary = (await admin.click("Bỏ qua »"))[0]
    assert "(bỏ trống)" not in summary
    assert ": 30 ngày (mặc định)" in summary and ": 50 lần (mặc định)" in summary
    await admin.click("✅ Tạo link")
    async with db.session() as session:
        invite = (await session.scalars(select(Invite).order_by(Invite.id.desc()))).first()
    assert invite.max_uses == 50
    assert invite.expires_at == clock() + timedelta(days=30)


# --- /huy asks first --------------------------------------------------------------------------


async def test_cancel_asks_before_throwing_answers_away(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Vận động xây nhà đại đoàn kết")
    before = await answers(db)
    replies = await person.send("/huy")
    assert replies == [
        "Hủy «Đăng ký mô hình»? Những gì bạn đã điền sẽ bị bỏ. (Gõ /huy lần nữa cũng là hủy.)"
    ]
    assert person.buttons() == [CANCEL_YES, CANCEL_NO]
    replies = await person.click(CANCEL_NO)
    assert replies[0].startswith("Mô hình thuộc lĩnh vực nào?")  # the same step, nothing lost
    assert await answers(db) == before
    # Asked again after continuing: a later /huy does not throw it away at once.
    assert (await person.send("/huy"))[0].startswith("Hủy «Đăng ký mô hình»?")
    await person.click("Chuyển đổi số")  # an answer instead: the question is stale now
    assert (await person.send("/huy"))[0].startswith("Hủy «Đăng ký mô hình»?")
    assert await count(db, Conversation) == 1
    replies = await person.send("/huy")  # twice in a row confirms
    assert replies == ["Đã hủy «Đăng ký mô hình». Gõ /help để xem các việc khác."]
    assert await count(db, Conversation) == 0


async def test_cancel_button_asks_too_and_an_untouched_form_goes_at_once(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    replies = await person.click("✖ Hủy")  # nothing answered yet: nothing to lose
    assert replies == ["Đã hủy «Đăng ký mô hình». Gõ /help để xem các việc khác."]
    await person.send("/dangky")
    await person.click("Cá nhân")
    assert (await person.click("✖ Hủy"))[0].startswith("Hủy «Đăng ký mô hình»?")
    replies = await person.click(CANCEL_YES)
    assert replies == ["Đã hủy «Đăng ký mô hình». Gõ /help để xem các việc khác."]
    assert await count(db, Conversation) == 0
