"""Issue 15, "Difficulties and proposals reach someone": a report that states them is flagged in
the coordinator's digest with the command that answers it; the answer is kept with the report
and the member told."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.telegram.outbox import flush_outbox
from storage.models import Report
from tests.test_digest_now import NOW
from tests.test_followup import unit  # noqa: F401  (fixture)
from tests.test_registration import MEMBER_ID


async def digest_now(coordinator) -> str:
    await coordinator.send("/tomtat")
    await coordinator.click(NOW)
    return (await coordinator.click("✅ Xác nhận"))[0]


async def test_a_proposal_is_flagged_answered_and_the_member_told(
    unit,  # noqa: F811
    chat,
    db,
    app,
    api,
):
    coordinator, _, bao = unit
    digest = digest_now(coordinator)
    lines = (await digest).splitlines()
    assert "• Báo cáo nêu khó khăn, đề xuất (1):" in lines
    [line] = [line for line in lines if "/traloi" in line]
    assert line.startswith("  – Nguyễn Văn An: Chuyển đổi số trong giảng dạy — trả lời: /traloi ")
    report_id = int(re.search(r"/traloi (\d+)", line).group(1))

    # Neither a member nor someone without the right may answer.
    assert await bao.send(f"/traloi {report_id}") == ["Bạn không có quyền thực hiện việc này."]
    assert (await coordinator.send("/traloi mot"))[0].startswith("Cách dùng: /traloi SỐ")
    assert await coordinator.send("/traloi 999") == ["Không tìm thấy báo cáo số 999."]

    replies = await coordinator.send(f"/traloi {report_id}")
    assert replies[0].splitlines() == [
        "📝 Báo cáo kỳ tháng 11/2026 của mô hình «Chuyển đổi số trong giảng dạy»:",
        "• Đề xuất: Đề nghị hỗ trợ máy chiếu",
    ]
    assert replies[1].startswith("Viết câu trả lời cho người báo cáo")
    await coordinator.send("Đơn vị sẽ mượn máy chiếu của phòng họp từ tuần sau.")
    assert await coordinator.click("✅ Gửi trả lời") == [
        "✅ Đã gửi câu trả lời cho người báo cáo mô hình «Chuyển đổi số trong giảng dạy»."
    ]
    await flush_outbox(app)
    assert api.sent(MEMBER_ID)[-1].params["text"] == (
        "💬 Lê Văn Phụ Trách trả lời báo cáo kỳ tháng 11/2026 của mô hình "
        "«Chuyển đổi số trong giảng dạy»:\nĐơn vị sẽ mượn máy chiếu của phòng họp từ tuần sau."
    )
    async with db.session() as session:
        report = await session.get(Report, report_id)
        assert report.extra["answer"]["text"] == (
            "Đơn vị sẽ mượn máy chiếu của phòng họp từ tuần sau."
        )
    # Asked again, the earlier answer is shown.
    replies = await coordinator.send(f"/traloi {report_id}")
    assert "• Đã trả lời trước đây: Đơn vị sẽ mượn máy chiếu" in replies[0]


async def test_a_report_without_difficulties_or_proposals_is_not_flagged(
    unit,  # noqa: F811
    db,
):
    coordinator, _, _ = unit
    async with db.session() as session:
        for report in await session.scalars(select(Report)):
            report.proposals = None
    digest = await digest_now(coordinator)
    assert "khó khăn, đề xuất" not in digest and "/traloi" not in digest
