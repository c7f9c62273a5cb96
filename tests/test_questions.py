"""An admin's own questions in a campaign's registration and report forms (/cauhoi), through the
real Application: defining them, members answering them, where the answers are stored and shown,
a form changing under an open draft, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from bot.demo import seed
from handlers.shared import questions
from language import vn
from storage.models import AuditEntry, Campaign, Conversation, Identity, Member, Model, Report
from tests.conftest import ADMIN_ID
from tests.test_registration import join
from tests.test_reports import approve_all

HANOI_0900_20_NOV = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
COORDINATOR = 6100
CAMPAIGN = "Dân vận khéo (đợt thử)"
NUMBER_Q = "Số tiền vận động được (đồng)"
CHOICE_Q = "Hình thức thực hiện"
DATE_Q = "Ngày ra quân"
OPTIONS = ["Tự thực hiện", "Phối hợp với đoàn thể", "Vận động nhân dân"]
NOT_ALLOWED = ["Bạn không có quyền thực hiện việc này."]
FORM_CHANGED = "ℹ️ Mẫu vừa được quản trị viên cập nhật (thêm hoặc bỏ câu hỏi)."


@pytest.fixture
async def seeded(db, clock):
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


@pytest.fixture
def admin(seeded, chat):
    return chat(ADMIN_ID, "Quản trị")


async def add_question(
    admin, form: str, label: str, kind: str, *, required: bool, options: str | None = None
) -> list[str]:
    await admin.send("/cauhoi")
    await admin.click(next(b for b in admin.buttons() if b.startswith(form)))
    await admin.click("➕ Thêm câu hỏi")
    await admin.send(label)
    await admin.click(kind)
    if options is not None:
        await admin.send(options)
    await admin.click("Có" if required else "Không")
    return await admin.click("✅ Lưu câu hỏi")


async def three_questions(admin) -> None:
    """A required number and an optional choice in registrations, a date in reports."""
    await add_question(admin, "Đăng ký", NUMBER_Q, "Số", required=True)
    # Options separated by ";" or one per line, both at once.
    options = f"{OPTIONS[0]}; {OPTIONS[1]}\n{OPTIONS[2]}"
    await add_question(admin, "Đăng ký", CHOICE_Q, "Lựa chọn", required=False, options=options)
    await add_question(admin, "Báo cáo", DATE_Q, "Ngày", required=True)


async def fill_registration(person, title: str = "Chuyển đổi số trong giảng dạy") -> list[str]:
    """/dangky through the built-in questions, up to the model's end date."""
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
    return await person.send("30/06/2027")


async def register_answering(person, amount: str = "1,5 triệu", title: str | None = None) -> None:
    await fill_registration(person, *([title] if title else []))
    await person.send(amount)
    await person.click(OPTIONS[1])
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith("✅ Đã gửi đăng ký")


async def campaign_questions(db) -> list[dict]:
    async with db.session() as session:
        return (await session.scalar(select(Campaign))).questions


async def model_extra(db) -> dict:
    async with db.session() as session:
        return (await session.scalar(select(Model))).extra


async def conversation_answers(db) -> dict:
    async with db.session() as session:
        return (await session.scalar(select(Conversation))).state["answers"]


async def audit_actions(db, prefix: str) -> list[str]:
    async with db.session() as session:
        actions = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return list(actions)


async def test_admin_adds_questions_to_both_forms(admin, db):
    replies = await admin.send("/cauhoi")
    # One campaign: straight to its forms.
    assert replies == [f"Đợt «{CAMPAIGN}»: câu hỏi riêng của mẫu nào?"]
    assert admin.buttons() == [
        "Đăng ký mô hình (0 câu hỏi riêng)",
        "Báo cáo tiến độ (0 câu hỏi riêng)",
    ]
    replies = await add_question(admin, "Đăng ký", NUMBER_Q, "Số", required=True)
    assert replies == [
        f"Đã thêm câu hỏi «{NUMBER_Q}» (Số, Bắt buộc) vào mẫu «Đăng ký mô hình» "
        f"của đợt «{CAMPAIGN}».",
        f"Câu hỏi riêng của mẫu «Đăng ký mô hình», đợt «{CAMPAIGN}»:\n1. {NUMBER_Q} — Số, Bắt buộc",
    ]
    assert admin.buttons() == ["➕ Thêm câu hỏi", "🗑 Ẩn câu 1", "« Chọn mẫu khác"]

    # The summary before saving says where the question goes and what it is.
    await admin.click("➕ Thêm câu hỏi")
    await admin.send(CHOICE_Q)
    await admin.click("Lựa chọn")
    await admin.send(f"{OPTIONS[0]}; {OPTIONS[1]}\n{OPTIONS[2]};")
    replies = await admin.click("Không")
    assert replies == [
        f"📋 Thêm câu hỏi vào mẫu «Đăng ký mô hình», đợt «{CAMPAIGN}» — kiểm tra lại thông tin:\n"
        f"• Câu hỏi: {CHOICE_Q}\n"
        "• Loại câu trả lời: Lựa chọn\n"
        f"• Các lựa chọn:\n{OPTIONS[0]}; {OPTIONS[1]}\n{OPTIONS[2]};\n"
        "• Bắt buộc trả lời: Không\n"
        "Chọn bên dưới để gửi, hoặc chọn mục cần sửa."
    ]
    assert len(await campaign_questions(db)) == 1  # nothing saved before confirming
    replies = await admin.click("✅ Lưu câu hỏi")
    assert replies[1].endswith(
        f"2. {CHOICE_Q} — Lựa chọn, Không bắt buộc\n   " + " · ".join(OPTIONS)
    )
    await add_question(admin, "Báo cáo", DATE_Q, "Ngày", required=True)

    assert await campaign_questions(db) == [
        {"id": "q1", "form": "registration", "kind": "number", "label": NUMBER_Q, "required": True},
        {
            "id": "q2",
            "form": "registration",
            "kind": "choice",
            "label": CHOICE_Q,
            "required": False,
            "options": OPTIONS,
        },
        {"id": "q3", "form": "report", "kind": "date", "label": DATE_Q, "required": True},
    ]
    await admin.send("/cauhoi")
    assert admin.buttons() == [
        "Đăng ký mô hình (2 câu hỏi riêng)",
        "Báo cáo tiến độ (1 câu hỏi riêng)",
    ]
    assert await audit_actions(db, "campaign.question") == ["campaign.question_added"] * 3


async def test_member_answers_them_and_they_show_in_the_details(admin, db, chat):
    await three_questions(admin)
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    person = await join(chat)
    replies = await fill_registration(person)
    assert replies == [f"{NUMBER_Q}\n(Nhập một số, ví dụ 1.500.000 hoặc 1,5 triệu.)"]
    assert person.buttons() == ["« Quay lại", "✖ Hủy"]  # required: no skip
    before = await conversation_answers(db)
    replies = await person.send("abc")
    assert replies[0].startswith("⚠️ Số không hợp lệ. Viết theo kiểu Việt Nam")
    assert await conversation_answers(db) == before
    assert (await person.send("/boqua"))[0].startswith("⚠️ Câu này bắt buộc, không bỏ qua được.")
    replies = await person.send("1,5 triệu")
    assert replies == [f"{CHOICE_Q}\n(Không bắt buộc — bấm «Bỏ qua» hoặc gõ /boqua nếu không có.)"]
    assert person.buttons() == [*OPTIONS, "« Quay lại", "Bỏ qua »", "✖ Hủy"]
    # A forged option (not offered) changes nothing.
    before = await conversation_answers(db)
    async with db.session() as session:
        version = (await session.scalar(select(Conversation))).version
    replies = await person.press(f"f:{version}:o:7")
    assert replies[0].startswith("⚠️ Lựa chọn không hợp lệ.")
    assert await conversation_answers(db) == before
    assert before["q1"] == "1500000"
    # Back, then the number the other way.
    assert (await person.send("/quaylai"))[0].startswith(NUMBER_Q)
    await person.send("1.500.000")
    summary = (await person.send("/boqua"))[0]
    assert f"• Kết thúc: 30/06/2027\n• {NUMBER_Q}: 1.500.000\n• {CHOICE_Q}: (bỏ trống)\n" in summary
    # Changed from the summary, by typing the option rather than pressing it.
    await person.click(f"✏️ {CHOICE_Q}")
    summary = (await person.send("phoi hop voi doan the"))[0]
    assert f"• {CHOICE_Q}: {OPTIONS[1]}\n" in summary
    assert (await person.click("✅ Gửi đăng ký"))[0].startswith("✅ Đã gửi đăng ký")

    assert await model_extra(db) == {"questions": {"q1": "1500000", "q2": OPTIONS[1]}}
    page = (await person.click("Xem mô hình"))[0]
    assert f"• Thời gian: 01/12/2026 – 30/06/2027\n• {NUMBER_Q}: 1.500.000\n" in page
    assert f"• {CHOICE_Q}: {OPTIONS[1]}\n" in page
    queue = (await coordinator.send("/duyet"))[0]
    assert f"• {NUMBER_Q}: 1.500.000\n• {CHOICE_Q}: {OPTIONS[1]}" in queue


async def test_a_report_stores_and_shows_its_answer(admin, db, chat):
    await three_questions(admin)
    person = await join(chat)
    await register_answering(person)
    await approve_all(db)

    async def report_until_question(replace: bool = False) -> list[str]:
        if replace:
            await person.send("/baocao")
            await person.click("📝 Báo cáo lại, thay thế")
        else:
            await person.send("/baocao")
        await person.send("Hoàn thành bài giảng điện tử cho khối 10")
        await person.send("500")
        await person.click("Bỏ qua »")
        await person.click("Bỏ qua »")
        await person.click("Bỏ qua »")
        return await person.click("Chưa")

    assert await report_until_question() == [f"{DATE_Q}\n(Ngày/tháng/năm, ví dụ 19/10/2026.)"]
    before = await conversation_answers(db)
    replies = await person.send("31/02/2026")
    assert replies[0].startswith("⚠️ Tháng 2/2026 không có ngày 31: tháng này có 28 ngày.")
    assert await conversation_answers(db) == before
    summary = (await person.send("15/11/2026"))[0]
    assert f"• Đã hoàn thành: Chưa\n• {DATE_Q}: 15/11/2026\n" in summary
    replies = await person.click("✅ Gửi báo cáo")
    assert replies[0].startswith(
        "✅ Đã gửi báo cáo kỳ tháng 11/2026 cho mô hình «Chuyển đổi số trong giảng dạy»."
        f"\n• {DATE_Q}: 15/11/2026\n"
    )
    async with db.session() as session:
        report = await session.scalar(select(Report))
        model_id = await session.scalar(select(Model.id))
    assert report.extra == {"questions": {"q3": "2026-11-15"}}
    page = (await person.press(f"m:{model_id}"))[0]
    assert f"• Kỳ tháng 11/2026: gửi 20/11/2026 09:00\n   · {DATE_Q}: 15/11/2026" in page

    # A report replacing it replaces its answer too.
    await report_until_question(replace=True)
    await person.send("18-11-2026")
    await person.click("✅ Gửi báo cáo")
    async with db.session() as session:
        report = await session.scalar(select(Report))
    assert report.replaced == 1
    assert report.extra == {"questions": {"q3": "2026-11-18"}}


async def test_questions_added_or_hidden_while_a_draft_is_open(admin, db, chat):
    await add_question(admin, "Đăng ký", NUMBER_Q, "Số", required=True)
    person = await join(chat)
    await fill_registration(person)
    summary = (await person.send("2.000"))[0]
    assert summary.startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")

    # At the summary: a new required question is asked before the draft can be sent.
    await add_question(admin, "Đăng ký", "Người phối hợp", "Chữ", required=True)
    replies = await person.click("✅ Gửi đăng ký")
    assert replies == [
        FORM_CHANGED + " Các câu bạn đã trả lời vẫn được giữ; "
        "mời trả lời câu dưới đây.\nNgười phối hợp"
    ]
    async with db.session() as session:
        assert await session.scalar(select(Model)) is None
    answers = await conversation_answers(db)
    assert answers["title"] == "Chuyển đổi số trong giảng dạy" and answers["q1"] == "2000"
    summary = (await person.send("Đoàn thanh niên cơ quan"))[0]
    assert f"• {NUMBER_Q}: 2.000\n• Người phối hợp: Đoàn thanh niên cơ quan\n" in summary
    await person.click("✅ Gửi đăng ký")
    assert await model_extra(db) == {"questions": {"q1": "2000", "q2": "Đoàn thanh niên cơ quan"}}

    # Asked a question that is hidden before the answer comes: the answer is not applied to
    # another question; the one asked now is shown.
    replies = await fill_registration(person, "Cải cách hành chính tại bộ phận một cửa")
    assert replies[0].startswith(NUMBER_Q)
    await admin.send("/cauhoi")
    await admin.click("Đăng ký mô hình (2 câu hỏi riêng)")
    await admin.click("🗑 Ẩn câu 1")
    await admin.click("✅ Ẩn câu hỏi")
    replies = await person.send("3.000")
    assert replies[0].startswith(FORM_CHANGED) and replies[0].endswith("\nNgười phối hợp")
    assert "q2" not in await conversation_answers(db)
    summary = (await person.send("Hội Cựu chiến binh"))[0]
    assert NUMBER_Q not in summary
    await person.click("✅ Gửi đăng ký")
    async with db.session() as session:
        second = await session.scalar(select(Model).order_by(Model.id.desc()))
    assert second.extra == {"questions": {"q2": "Hội Cựu chiến binh"}}


async def test_hiding_keeps_old_answers_and_ids_are_never_reused(admin, db, chat):
    await three_questions(admin)
    person = await join(chat)
    await register_answering(person)
    await admin.send("/cauhoi")
    await admin.click("Đăng ký mô hình (2 câu hỏi riêng)")
    replies = await admin.click("🗑 Ẩn câu 2")
    assert replies == [
        f"Ẩn câu hỏi «{CHOICE_Q}» khỏi mẫu «Đăng ký mô hình»? Từ nay không ai được hỏi câu này "
        "nữa; các câu trả lời đã có vẫn được giữ và hiển thị."
    ]
    confirm = admin.last_keyboard_message()
    assert "hidden" not in (await campaign_questions(db))[1]  # nothing before confirming
    replies = await admin.click("✅ Ẩn câu hỏi")
    assert replies == [
        f"Đã ẩn câu hỏi «{CHOICE_Q}».",
        f"Câu hỏi riêng của mẫu «Đăng ký mô hình», đợt «{CAMPAIGN}»:\n"
        f"1. {NUMBER_Q} — Số, Bắt buộc\n"
        "(1 câu đã ẩn; câu trả lời cũ vẫn được giữ và hiển thị.)",
    ]
    assert (await campaign_questions(db))[1]["hidden"] is True
    # The same button again: already done, nothing changes.
    assert await admin.click("✅ Ẩn câu hỏi", message=confirm) == [
        f"Câu hỏi «{CHOICE_Q}» đã được ẩn trước đó."
    ]
    assert await audit_actions(db, "campaign.question_removed") == ["campaign.question_removed"]

    # The earlier answer still shows; a new registration is not asked the hidden question.
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    page = (await person.press(f"m:{model_id}"))[0]
    assert f"• {CHOICE_Q}: {OPTIONS[1]}" in page
    await fill_registration(person, "Cải cách hành chính tại bộ phận một cửa")
    summary = (await person.send("700"))[0]
    assert summary.startswith("📋 Đăng ký mô hình") and CHOICE_Q not in summary

    await add_question(admin, "Đăng ký", "Số hộ được hỗ trợ", "Số", required=False)
    assert [q["id"] for q in await campaign_questions(db)] == ["q1", "q2", "q3", "q4"]


async def test_corrected_after_a_return_keeps_and_changes_the_answers(admin, db, chat):
    await three_questions(admin)
    person = await join(chat)
    await register_answering(person)
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
        await session.execute(
            update(Model).values(status="returned", review_note="Ghi rõ số tiền vận động")
        )
    # The choice question is hidden meanwhile: its answer is not asked again, and kept.
    await admin.send("/cauhoi")
    await admin.click("Đăng ký mô hình (2 câu hỏi riêng)")
    await admin.click("🗑 Ẩn câu 2")
    await admin.click("✅ Ẩn câu hỏi")

    replies = await person.send(f"/suadangky {model_id}")
    assert replies[1].startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")
    assert f"• {NUMBER_Q}: 1.500.000\n" in replies[1] and CHOICE_Q not in replies[1]
    await person.click(f"✏️ {NUMBER_Q}")
    assert (await person.send("abc"))[0].startswith("⚠️ Số không hợp lệ")
    summary = (await person.send("2 triệu"))[0]
    assert f"• {NUMBER_Q}: 2.000.000\n" in summary
    replies = await person.click("✅ Gửi đăng ký")
    assert replies[0].startswith("✅ Đã gửi lại đăng ký")
    assert await model_extra(db) == {"questions": {"q1": "2000000", "q2": OPTIONS[1]}}


async def set_admin(db, user_id: int, value: bool) -> None:
    """An admin appointed in the database (not a bootstrap one), so the role can be taken away."""
    async with db.session() as session:
        member_id = await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(user_id))
        )
        await session.execute(update(Member).where(Member.id == member_id).values(is_admin=value))


async def test_only_admins_and_forged_buttons_change_nothing(admin, db, chat):
    await add_question(admin, "Đăng ký", NUMBER_Q, "Số", required=True)
    coordinator = await join(
        chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ"
    )
    member = await join(chat)
    async with db.session() as session:
        campaign_id = await session.scalar(select(Campaign.id))
    before = await campaign_questions(db)
    forged = [
        f"qs:{campaign_id}",
        f"qs:{campaign_id}:registration",
        f"qs:{campaign_id}:report:a",
        f"qs:{campaign_id}:registration:h:q1",
        f"qs:{campaign_id}:registration:hy:q1",
    ]
    for person in (coordinator, member):
        assert await person.send("/cauhoi") == NOT_ALLOWED
        assert await person.send("/cauhoi DVK-DEMO") == NOT_ALLOWED
        for data in forged:
            assert await person.press(data) == NOT_ALLOWED, data
    assert await campaign_questions(db) == before
    async with db.session() as session:
        assert await session.scalar(select(Conversation)) is None
    assert await audit_actions(db, "campaign.question") == ["campaign.question_added"]

    # An admin whose role is taken away: the open form ends, the buttons are refused.
    deputy = await join(chat, 7100, "Trần Văn Phó")
    await set_admin(db, 7100, True)
    await deputy.send("/cauhoi DVK-DEMO")
    await deputy.click("Đăng ký mô hình (1 câu hỏi riêng)")
    listing = deputy.last_keyboard_message()
    await deputy.click("➕ Thêm câu hỏi")
    await deputy.send("Số người tham gia")
    await set_admin(db, 7100, False)
    assert await deputy.click("Số") == [
        "Bạn không còn quyền thực hiện «Thêm câu hỏi», nên phiên nhập đã được hủy."
    ]
    assert await deputy.click("🗑 Ẩn câu 1", message=listing) == NOT_ALLOWED
    assert await deputy.press(f"qs:{campaign_id}:registration:hy:q1") == NOT_ALLOWED
    assert await campaign_questions(db) == before
    # Garbage in the button data is not acted on at all.
    for data in (f"qs:{campaign_id}:other", "qs:x", f"qs:{campaign_id}:registration:hy:zz"):
        assert await admin.press(data) == []
    assert await campaign_questions(db) == before


async def test_a_question_definition_is_checked(admin, db):
    await admin.send("/cauhoi")
    await admin.click("Đăng ký mô hình (0 câu hỏi riêng)")
    prompt = (await admin.click("➕ Thêm câu hỏi"))[0]
    assert await admin.send("   ") == ["Bạn chưa nhập gì.", prompt]
    replies = await admin.send("Câu hỏi " + "x" * 200)
    assert replies == ["⚠️ Nội dung quá dài: 208 ký tự, tối đa 200.\n" + prompt]
    replies = await admin.send("form-register")
    assert replies[0].startswith("⚠️ «form-register» trùng với một mã nội bộ của bot")
    assert await conversation_answers(db) == {}
    await admin.send("Mức độ hài lòng của người dân")
    await admin.click("Lựa chọn")
    for typed, error in [
        ("Hài lòng", "⚠️ Cần ít nhất 2 lựa chọn"),
        ("Hài lòng;  ;\n", "⚠️ Cần ít nhất 2 lựa chọn"),
        (";".join(f"Mức {i}" for i in range(13)), "⚠️ Nhiều nhất 12 lựa chọn (bạn đã nhập 13)."),
        ("Hài lòng; HÀI LÒNG.", "⚠️ Lựa chọn «HÀI LÒNG.» bị lặp lại."),
        ("Hài lòng; " + "y" * 61, f"⚠️ Lựa chọn «{'y' * 61}» quá dài: 61 ký tự, tối đa 60."),
        ("Hài lòng; 👍", "⚠️ Vui lòng không dùng biểu tượng cảm xúc"),
    ]:
        replies = await admin.send(typed)
        assert replies[0].startswith(error), (typed, replies)
        assert "options" not in await conversation_answers(db)
    replies = await admin.send("Rất hài lòng; Hài lòng; Chưa hài lòng")
    assert replies == ["Người trả lời có bắt buộc phải trả lời câu này không?"]
    assert await campaign_questions(db) == []
    assert (await admin.send("/huy"))[0].startswith("Hủy «Thêm câu hỏi»?")
    assert (await admin.send("/huy"))[0] == "Đã hủy «Thêm câu hỏi». Gõ /help để xem các việc khác."
    assert await campaign_questions(db) == []
    assert await admin.send("/cauhoi KHONGCO") == ["Không có đợt phát động mã KHONGCO."]


async def test_adding_while_another_form_is_open_asks_first(admin, db):
    await admin.send("/cauhoi")
    await admin.click("Báo cáo tiến độ (0 câu hỏi riêng)")
    listing = admin.last_keyboard_message()
    await admin.send("/taodot")
    await admin.send("DVK2027")
    replies = await admin.click("➕ Thêm câu hỏi", message=listing)
    assert replies[0].startswith("Bạn đang nhập dở «Tạo đợt phát động»")
    assert await conversation_answers(db) == {"code": "DVK2027"}
    replies = await admin.click("🗑 Bỏ bản nháp, làm việc mới")
    assert replies[-1].startswith("Nội dung câu hỏi (tối đa 200 ký tự)?")
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.form == "question" and conv.context["form"] == "report"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Có; Không", ["Có", "Không"]),
        ("Có\nKhông\n", ["Có", "Không"]),
        ("  Tự   thực hiện ;\n; Phối hợp ", ["Tự thực hiện", "Phối hợp"]),
        ("Có; Cô; Cơ", ["Có", "Cô", "Cơ"]),  # diacritics make different words
        ("Có", "error-question-options-few"),
        (";;\n", "error-question-options-few"),
        (";".join(str(i) for i in range(13)), "error-question-options-many"),
        ("Có; có", "error-question-option-twice"),
        ("Có; " + "x" * 61, "error-question-option-long"),
        ("Có; 🙂", "error-emoji"),
    ],
)
def test_parse_options(typed: str, expected: list[str] | str) -> None:
    if isinstance(expected, list):
        assert questions.parse_options(typed) == expected
    else:
        with pytest.raises(vn.InputError) as error:
            questions.parse_options(typed)
        assert error.value.key == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [([], "q1"), (["q1", "q2"], "q3"), (["q2", "q9", "x7"], "q10"), (["q1", "q1x"], "q2")],
)
def test_next_id_never_reuses_one(ids: list[str], expected: str) -> None:
    assert questions.next_id([{"id": i, "hidden": True} for i in ids]) == expected


def test_answers_convert_both_ways() -> None:
    asked = [
        {"id": "q1", "kind": "number", "required": True, "options": []},
        {"id": "q2", "kind": "choice", "required": False, "options": ["A", "B"]},
        {"id": "q3", "kind": "date", "required": False, "options": []},
        {"id": "q5", "kind": "text", "required": True, "options": []},
    ]
    answers = {"q1": "1500000", "q2": "1", "q3": None, "q4": "gone", "q5": "Chữ"}
    stored = questions.to_stored(asked, answers)
    assert stored == {"q1": "1500000", "q2": "B", "q5": "Chữ"}
    # Back to answers: skipped optional ones stay skipped; a required one without an answer
    # (added since) and a choice whose text is unknown are asked again.
    assert questions.to_answers(asked, {"q1": "7", "q2": "Z"}) == {"q1": "7", "q3": None}
    assert questions.to_answers(asked, stored) == {
        "q1": "1500000",
        "q2": "1",
        "q3": None,
        "q5": "Chữ",
    }
    assert questions.merged({"q4": "old", "q1": "1"}, asked, {"q1": "2"}) == {
        "q4": "old",
        "q1": "2",
    }


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("number", "1500000", "1.500.000"),
        ("number", "2.5", "2,5"),
        ("date", "2026-11-15", "15/11/2026"),
        ("date", "not a date", "not a date"),
        ("choice", "B", "B"),
    ],
)
def test_values_are_shown_the_vietnamese_way(kind: str, value: str, shown: str) -> None:
    assert questions.value_text(kind, value) == shown
