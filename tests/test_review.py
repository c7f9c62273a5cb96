"""Coordinators review registrations through the real Application."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage.models import AuditEntry, Model
from storage.records.invites import create_invite
from storage.records.units import unit_by_code
from tests.test_registration import MEMBER_ID, join, register_quickly

COORDINATOR = 6100


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


async def status(db) -> str:
    async with db.session() as session:
        return await session.scalar(select(Model.status))


async def test_approve_and_the_member_is_told(setup, db, app, api, clock):
    coordinator, member = setup
    replies = await coordinator.send("/duyet")
    assert replies[0].startswith(
        "📥 Chờ duyệt: 1 — người đăng ký: Nguyễn Văn An (Chi bộ Văn phòng)\n\n"
        "📌 MH1 · Chuyển đổi số trong giảng dạy\n• Trạng thái: Đã gửi, chờ duyệt"
    )
    assert "  1. bài giảng điện tử: 1.061 bài" in replies[0]
    replies = await coordinator.click("✅ Duyệt")
    assert replies == [
        "Đã duyệt «Chuyển đổi số trong giảng dạy».",
        "Không có đăng ký nào chờ duyệt.",
    ]
    assert await status(db) == "approved"
    await flush_outbox(app)
    told = api.sent(MEMBER_ID)[-1].params["text"]
    assert told == (
        "✅ Mô hình «Chuyển đổi số trong giảng dạy» của bạn đã được duyệt. "
        "Bạn có thể báo cáo tiến độ bằng /baocao."
    )
    clock.advance(days=6)  # December, when the model has begun
    replies = await member.click("Báo cáo tiến độ")
    assert replies[0].startswith("Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy»")
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "model.approved")
        )
    assert entry is not None and entry.object_type == "model"


async def test_return_with_a_reason_then_correct_and_resubmit(setup, db, app, api):
    coordinator, member = setup
    await coordinator.send("/duyet")
    assert await coordinator.click("↩️ Trả lại để sửa") == ["Lý do (người đăng ký sẽ nhận được):"]
    assert (await coordinator.send("ít"))[0].startswith("⚠️ Nội dung quá ngắn")
    replies = await coordinator.send("Chỉ tiêu chưa rõ, cần ghi số bài giảng mỗi học kỳ")
    assert replies == [
        "Đã trả lại «Chuyển đổi số trong giảng dạy» để người đăng ký sửa.",
        "Không có đăng ký nào chờ duyệt.",
    ]
    assert await status(db) == "returned"
    await flush_outbox(app)
    assert api.sent(MEMBER_ID)[-1].params["text"] == (
        "↩️ Mô hình «Chuyển đổi số trong giảng dạy» được trả lại để sửa. "
        "Lý do: Chỉ tiêu chưa rõ, cần ghi số bài giảng mỗi học kỳ"
    )
    replies = await member.click("✏️ Sửa và gửi lại")
    assert replies[0].startswith("Sửa đăng ký «Chuyển đổi số trong giảng dạy». Lý do trả lại:")
    assert replies[1].startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")
    assert "  1. bài giảng điện tử: 1.061 bài" in replies[1]
    await member.click("✏️ Chỉ tiêu")
    await member.click("1. bài giảng điện tử: 1.061 bài")
    await member.send("bài giảng điện tử mỗi học kỳ")
    await member.click("↩ Giữ nguyên")
    await member.send("500")
    replies = await member.click("✅ Xong")
    assert "  1. bài giảng điện tử mỗi học kỳ: 500 bài" in replies[0]
    replies = await member.click("✅ Gửi đăng ký")
    assert replies[0] == (
        "✅ Đã gửi lại đăng ký «Chuyển đổi số trong giảng dạy». Cán bộ phụ trách sẽ xem xét lại."
    )
    async with db.session() as session:
        models = (await session.scalars(select(Model))).all()
    assert len(models) == 1 and models[0].status == "submitted"
    replies = await coordinator.send("/duyet")
    assert "  1. bài giảng điện tử mỗi học kỳ: 500 bài" in replies[0]


async def test_reject_with_a_reason(setup, db, app, api):
    coordinator, _ = setup
    await coordinator.send("/duyet")
    await coordinator.click("✖ Không duyệt")
    await coordinator.send("Trùng với mô hình của tập thể chi bộ")
    assert await status(db) == "rejected"
    await flush_outbox(app)
    assert (
        api.sent(MEMBER_ID)[-1]
        .params["text"]
        .startswith("Mô hình «Chuyển đổi số trong giảng dạy» không được duyệt. Lý do: Trùng")
    )


async def test_two_coordinators_at_once_one_wins(setup, db, chat):
    first, _ = setup
    second = await join(chat, 6101, "Đỗ Văn Hai", code="DEMO-PT", category="Cán bộ")
    await first.send("/duyet")
    await second.send("/duyet")
    await first.click("✅ Duyệt")
    replies = await second.click("✖ Không duyệt")
    assert replies == [
        "Đăng ký «Chuyển đổi số trong giảng dạy» đã được Lê Văn Phụ Trách xử lý trước đó "
        "(Đã duyệt)."
    ]
    assert await status(db) == "approved"


async def test_reviews_refused_to_members_and_to_other_units(setup, db, chat, clock):
    _, member = setup
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    assert await member.send("/duyet") == ["Bạn không có quyền thực hiện việc này."]
    assert await member.press(f"rv:a:{model_id}") == ["Bạn không có quyền thực hiện việc này."]
    # A coordinator of Sở Y tế does not review Chi bộ Văn phòng.
    async with db.session() as session:
        syt = await unit_by_code(session, code="DB-SYT")
        invite = await create_invite(
            session,
            unit_id=syt.id,
            role="coordinator",
            expires_at=clock().replace(year=2027),
            max_uses=5,
            created_by=None,
            now=clock(),
        )
    other = await join(chat, 6200, "Vũ Văn Khác", code=invite.code, category="Cán bộ")
    assert await other.send("/duyet") == ["Không có đăng ký nào chờ duyệt."]
    assert await other.press(f"rv:a:{model_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert await other.press(f"rv:r:{model_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert await status(db) == "submitted"
    # Nobody but the owner reopens a registration for correction.
    assert await other.press(f"ed:{model_id}") == ["Không tìm thấy mô hình này."]


async def test_the_reason_goes_to_the_registration_it_was_asked_for(setup, db):
    coordinator, member = setup
    await register_quickly(member, "Số hóa hồ sơ một cửa")
    async with db.session() as session:
        first, second = (await session.scalars(select(Model.id).order_by(Model.id))).all()
    await coordinator.send("/duyet")
    await coordinator.click("↩️ Trả lại để sửa")  # on the first, then changes their mind
    await coordinator.press(f"rv:n:{first}")
    replies = await coordinator.press(f"rv:r:{second}")
    assert replies == ["Bạn đang nhập dở «Lý do». Tiếp tục phần đó, hay bỏ nó để làm việc mới?"]
    replies = await coordinator.click("🗑 Bỏ bản nháp, làm việc mới")
    assert replies == ["Đã bỏ bản nháp «Lý do».", "Lý do (người đăng ký sẽ nhận được):"]
    await coordinator.send("Chỉ tiêu của mô hình một cửa chưa rõ")
    async with db.session() as session:
        statuses = dict((await session.execute(select(Model.id, Model.status))).all())
    assert statuses == {first: "submitted", second: "returned"}


async def test_a_card_decided_meanwhile_by_nobody_in_the_chat(setup, db):
    """The registration was settled outside the chat (a workbook import, say): the old card
    says so without naming anyone."""
    coordinator, _ = setup
    await coordinator.send("/duyet")
    async with db.session() as session:
        model = await session.scalar(select(Model))
        model.status, model.reviewed_by = "approved", None
    replies = await coordinator.click("✅ Duyệt")
    assert replies == ["Đăng ký «Chuyển đổi số trong giảng dạy» đã được xử lý trước đó (Đã duyệt)."]


async def test_two_reviewers_pressing_at_the_same_moment(setup, db, chat, api):
    import asyncio

    first, _ = setup
    second = await join(chat, 6101, "Đỗ Văn Hai", code="DEMO-PT", category="Cán bộ")
    await first.send("/duyet")
    await second.send("/duyet")
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    before = len(api.calls)
    await asyncio.gather(first.press(f"rv:a:{model_id}"), second.press(f"rv:a:{model_id}"))
    texts = [c.params["text"] for c in api.calls[before:] if c.method == "sendMessage"]
    assert "Đã duyệt «Chuyển đổi số trong giảng dạy»." in texts
    assert any(
        t.startswith("Đăng ký «Chuyển đổi số trong giảng dạy» đã được ") and "xử lý trước đó" in t
        for t in texts
    )
    assert not any(t.startswith("Đã có lỗi") for t in texts)
    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("model.approved") == 1


async def test_nobody_reviews_their_own_registration(setup, db):
    coordinator, _ = setup
    await register_quickly(coordinator, "Mô hình của chính cán bộ phụ trách")
    async with db.session() as session:
        own = await session.scalar(
            select(Model.id).where(Model.title == "Mô hình của chính cán bộ phụ trách")
        )
    replies = await coordinator.send("/duyet")
    assert replies[0].startswith("📥 Chờ duyệt: 1 — người đăng ký: Nguyễn Văn An")
    assert await coordinator.press(f"rv:a:{own}") == ["Bạn không có quyền thực hiện việc này."]
    async with db.session() as session:
        assert (await session.get(Model, own)).status == "submitted"


async def test_an_outcome_decided_at_night_is_delivered_in_the_morning(setup, app, api, clock):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    coordinator, _ = setup
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    clock.now = datetime(2026, 11, 30, 23, 0, tzinfo=hanoi).astimezone(UTC)
    await coordinator.send("/duyet")
    await coordinator.click("✅ Duyệt")
    await flush_outbox(app)
    assert not [c for c in api.sent(MEMBER_ID) if "của bạn đã được duyệt" in c.params["text"]]
    clock.now = datetime(2026, 12, 1, 7, 30, tzinfo=hanoi).astimezone(UTC)
    await flush_outbox(app)
    assert [c for c in api.sent(MEMBER_ID) if "của bạn đã được duyệt" in c.params["text"]]
