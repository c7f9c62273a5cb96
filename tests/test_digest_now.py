"""Issue 15, "Trying a digest now": a coordinator has the digest sent at once from /tomtat, and
`dvk digest --now [PERSON]` queues the same; the schedule does not change."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from bot.cli import main
from storage.models import Identity, Member, OutboxMessage
from tests.test_digest import COORDINATOR, HANOI, coordinator, digests_until  # noqa: F401
from tests.test_registration import join, register_quickly

NOW = "📨 Gửi ngay một bản (lịch giữ nguyên)"


async def test_a_digest_now_from_tomtat_and_the_schedule_goes_on(
    coordinator,  # noqa: F811
    chat,
    app,
    api,
    clock,
    db,
):
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    await coordinator.send("/tomtat")
    replies = await coordinator.click(NOW)
    assert "• Nhận tóm tắt: 📨 Gửi ngay một bản (lịch giữ nguyên)" in replies[0]
    replies = await coordinator.click("✅ Xác nhận")
    # Thursday 26/11 09:00: what came in the week before, at once.
    assert replies[0].splitlines()[:2] == [
        "📊 Tóm tắt tình hình từ 19/11/2026 09:00",
        "• Đăng ký mới chờ duyệt: 1 (tổng số đang chờ: 1)",
    ]
    assert replies[-1] == (
        "Lịch nhận tóm tắt không đổi: Bạn nhận bản tóm tắt vào Thứ Hai hằng tuần lúc 08:00."
    )
    assert "📥 Mở hàng chờ duyệt" in coordinator.buttons()
    async with db.session() as session:
        person = await session.scalar(select(Member).where(Member.full_name == "Lê Văn Phụ Trách"))
        assert (person.digest_mode, person.digest_weekday, person.digest_hour) == ("weekly", 0, 8)
    # Monday's digest still comes, and covers what came after the one sent now.
    got = await digests_until(app, api, clock, datetime(2026, 11, 30, 12, tzinfo=HANOI))
    assert got == [
        (
            "Mon 30/11 08:00",
            "sendMessage",
            "📊 Không có gì mới kể từ bản tóm tắt trước (26/11/2026).",
        )
    ]


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_dvk_digest_now_queues_for_the_person_named(
    coordinator,  # noqa: F811
    db,
    settings,
    monkeypatch,
    tmp_path,
    capsys,
):
    monkeypatch.setenv("DVK_DATABASE_URL", settings.database_url)
    monkeypatch.chdir(tmp_path)

    # The demo's coordinator has the same name: the bot asks which one.
    assert await cli("digest", "--now", "phu trach") == 1
    assert "«phu trach» khớp nhiều người: Lê Văn Phụ Trách (" in capsys.readouterr().err
    assert await cli("digest", "--now", f"telegram:{COORDINATOR}") == 0
    assert capsys.readouterr().out.strip() == (
        "Đã xếp 1 bản tóm tắt vào hàng gửi; bot đang chạy sẽ gửi đi."
    )
    async with db.session() as session:
        queued = (await session.scalars(select(OutboxMessage))).all()
        person = await session.scalar(
            select(Member).join(Member.identities).where(Identity.external_id == str(COORDINATOR))
        )
        assert [row.member_id for row in queued] == [person.id]
        assert queued[0].key.startswith(f"digest:{person.id}:")
        assert queued[0].payload["text"].startswith("📊 ")
        assert person.digest_mode == "weekly"

    assert await cli("digest", "--now", str(person.id)) == 0
    assert await cli("digest", "--now", "Không Ai") == 1
    assert "Không có quản trị viên hay người phụ trách nào khớp «Không Ai»." in (
        capsys.readouterr().err
    )
    # Without a person: every admin and coordinator whose digest is on (the demo's too).
    assert await cli("digest", "--now") == 0
    assert "Đã xếp 3 bản tóm tắt" in capsys.readouterr().out.splitlines()[-1]
