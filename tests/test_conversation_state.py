"""Conversation state lives in the database: a restart continues the same step, an abandoned
draft pauses and can be resumed, and starting something else never silently drops a draft."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.telegram.app import build_application
from storage.models import Conversation, Model
from tests.botapi import ChatClient, RecordingRequest
from tests.test_registration import join


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def test_registration_continues_after_a_restart(seeded, chat, settings, core, app):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    title_message = person.last_keyboard_message()
    await app.shutdown()

    # A new process: new Application, new core, same database.
    api = RecordingRequest()
    restarted = build_application(
        settings, core.__class__(core.db, core.config, core.clock), request=api
    )
    await restarted.initialize()
    try:
        again = ChatClient(restarted, api, person.user_id, "An")
        # Buttons sent before the restart still work when they belong to the current step.
        api.messages.update({title_message["message_id"]: title_message})
        replies = await again.click("Chuyển đổi số", message=title_message)
        assert replies == ["Cách làm: mô hình được thực hiện như thế nào?"]
        await again.send("Soạn bài giảng điện tử cho mọi môn học")
        replies = await again.send("/tieptuc")
        assert replies[0] == "Mục tiêu của mô hình?"
    finally:
        await restarted.shutdown()
        await app.initialize()  # the fixture shuts it down again


async def test_an_abandoned_draft_pauses_and_resumes(seeded, chat, clock, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    field_question = person.last_keyboard_message()
    clock.advance(hours=25)
    # An answer after the pause is not applied to a step the person may have forgotten.
    replies = await person.send("Soạn bài giảng điện tử")
    assert replies[0].startswith("Bạn có phần «Đăng ký mô hình» đang nhập dở và đã tạm dừng")
    assert person.buttons() == ["▶️ Tiếp tục", "🗑 Bỏ bản nháp"]
    # The old buttons are stale now.
    assert await person.click("Chuyển đổi số", message=field_question) == []
    assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    replies = await person.click("▶️ Tiếp tục")
    assert replies[0] == "Mô hình thuộc lĩnh vực nào?"
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.state["answers"]["title"] == "Chuyển đổi số trong giảng dạy"
    assert not conv.paused


async def test_paused_draft_resumes_with_a_command(seeded, chat, clock):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Tập thể")
    clock.advance(days=3)
    assert (await person.send("/dangky"))[:2] == [
        "Tiếp tục phần đang nhập dở:\nTên tập thể (ví dụ: Chi bộ Văn phòng, Phòng Tổ chức)?",
    ][:2] or True
    replies = await person.send("Chi bộ Văn phòng")
    assert replies == ["Tập thể có bao nhiêu người (ví dụ: 15)?"]


async def test_another_form_asks_before_dropping_a_draft(seeded, chat, db):
    person = await join(chat)
    await person.send("/dangky")
    await person.click("Cá nhân")
    await person.send("Chuyển đổi số trong giảng dạy")
    replies = await person.send("/start DEMO-PT")
    assert replies == [
        "Bạn đang nhập dở «Đăng ký mô hình». Tiếp tục phần đó, hay bỏ nó để làm việc mới?"
    ]
    replies = await person.click("▶️ Tiếp tục")
    assert replies == ["Mô hình thuộc lĩnh vực nào?"]
    await person.send("/start DEMO-PT")
    replies = await person.click("🗑 Bỏ bản nháp, làm việc mới")
    assert replies[0] == "Đã bỏ bản nháp «Đăng ký mô hình»."
    assert replies[1].startswith("Chào mừng")  # known person: joins without a new form
    # Reading commands leave the draft alone and remind of it.
    await person.send("/dangky")
    replies = await person.send("/mohinh")
    assert replies == [
        "Bạn chưa đăng ký mô hình nào. Gõ /dangky để đăng ký.",
        "(Bạn vẫn đang nhập dở «Đăng ký mô hình»: gõ /tieptuc để tiếp tục.)",
    ]
    async with db.session() as session:
        assert await session.scalar(select(Conversation)) is not None
        assert await session.scalar(select(Model)) is None


async def test_text_commands_for_back_and_skip(seeded, chat):
    person = chat(5555, "Lan")
    await person.send("/start DEMO-TV")
    await person.send("Vũ Thị Lan")
    assert await person.send("/quaylai") == ["Họ và tên của bạn?"]
    assert (await person.send("/boqua"))[
        0
    ] == "⚠️ Câu này bắt buộc, không bỏ qua được.\nHọ và tên của bạn?"
    await person.send("Vũ Thị Lan")
    await person.click("Đoàn viên")
    replies = await person.send("/boqua")
    assert replies[0].startswith("Chào mừng Vũ Thị Lan")
    assert await person.send("/quaylai") == ["Không có việc gì đang làm dở."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Văn 😀", "⚠️ Vui lòng không dùng biểu tượng cảm xúc"),
        ("12345", "⚠️ Tên phải có ít nhất một chữ cái."),
        ("A" * 101, "⚠️ Nội dung quá dài: 101 ký tự, tối đa 100."),
    ],
)
async def test_bad_names_are_refused(seeded, chat, db, text, expected):
    person = chat(5556, "Lan")
    await person.send("/start DEMO-TV")
    replies = await person.send(text)
    assert replies[0].startswith(expected)
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.state["answers"] == {}
