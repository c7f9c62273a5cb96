"""Coordinators read the work itself: a report with its photos (an album on Telegram, signed links
on Zalo), from /donvi's reports of the period and from the digest; a model's reports, newest
first and paged; who may read what, and what a missing record answers."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from bot import schedules
from bot.demo import seed
from storage.models import Model, Report, ReportPhoto, Target
from storage.records.units import add_unit
from tests.botapi import JPEG
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_both_channels import HANOI, join, register, world  # noqa: F401 (a fixture)
from tests.test_registration import join as join_telegram
from tests.test_registration import register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all, report

COORDINATOR = 6100
LINK = re.compile(r"https://\S+/media/\S+")


@pytest.fixture
async def demo(db, clock):
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def reported_on_telegram(db, clock, chat, *, photos: int = 0):
    """On Telegram, 20/11/2026: the demo's coordinator, and An, whose approved model has its
    November report (with `photos`)."""
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join_telegram(chat, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT")
    an = await join_telegram(chat)
    await register_quickly(an, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    await report(an, "500", photos=photos)
    return coordinator, an


async def report_with_photos(person, photos: int = 2) -> None:
    await person.send("/baocao")
    await person.send("Hoàn thành bài giảng điện tử cho khối 10")
    await person.send("500")
    await person.send("12")
    for _ in range(photos):
        await person.send_photo()
    await person.choose("✅ Xong")
    await person.send("Thiếu máy chiếu ở hai lớp")
    await person.send("Đề nghị hỗ trợ máy chiếu")
    await person.choose("Chưa")
    await person.choose("✅ Gửi báo cáo")


async def test_a_coordinator_reads_a_report_with_its_photos_from_donvi(world, demo, db):  # noqa: F811
    coordinator = await join(world, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT")
    member = await join(world)
    await register(member)
    await approve_all(db)
    await report_with_photos(member)

    state = (await coordinator.send("/donvi"))[0]
    assert "Báo cáo kỳ này: 1/1" in state
    listed = (await coordinator.choose("📝 Báo cáo kỳ này (1)"))[0]
    assert listed.splitlines()[:2] == [
        "📝 Chi bộ Văn phòng: 1 báo cáo kỳ này, mới nhất trước. Chọn một báo cáo để xem đầy đủ, "
        "kèm ảnh minh chứng.",
        "– MH1 «Chuyển đổi số trong giảng dạy» — Nguyễn Văn An · 🖼 2",
    ]
    replies = await coordinator.choose("MH1 · Nguyễn Văn An · 20/11/2026")
    async with db.session() as session:
        found = await session.scalar(select(Report))
        photos = (await session.scalars(select(ReportPhoto))).all()
    # (On Zalo the options follow, numbered.)
    assert replies[0].splitlines()[:10] == [
        f"📝 Báo cáo số {found.id} · MH1 · kỳ tháng 11/2026",
        "👤 Nguyễn Văn An · gửi lúc 20/11/2026 09:00",
        "• Đã làm được:",
        "Hoàn thành bài giảng điện tử cho khối 10",
        "• Kết quả kỳ này so với chỉ tiêu cả đợt:",
        "  – bài giảng điện tử: 500/1.061 bài (47%)",
        "  – giáo viên được tập huấn: 12/40 người (30%)",
        "• Khó khăn: Thiếu máy chiếu ở hai lớp",
        "• Đề xuất: Đề nghị hỗ trợ máy chiếu",
        "• Ảnh minh chứng: 2",
    ]
    if world.channel == "telegram":
        # One album of the two photos, by Telegram's own file ids: nothing uploaded again.
        [album] = [c for c in world.api.calls if c.method == "sendMediaGroup"]
        media = album.params["media"]
        media = json.loads(media) if isinstance(media, str) else media
        assert [(m["type"], m["media"]) for m in media] == [("photo", "AgAD"), ("photo", "AgAD")]
        assert int(album.params["chat_id"]) == COORDINATOR
    else:
        # Each picture would cost a message on Zalo: one text with a signed link per photo.
        [links] = [t for t in coordinator.all_texts() if t.startswith("🖼 Ảnh minh chứng (2)")]
        urls = LINK.findall(links)
        assert len(urls) == 2
        for url in urls:
            answer = await world.get(url)
            assert (answer.status_code, answer.content) == (200, JPEG)
        assert {p.media_key for p in photos} != {None}

    # The answer to its difficulties is a step away, and then part of the report.
    replies = await coordinator.choose("✍️ Trả lời khó khăn, đề xuất")
    assert replies[0].startswith("📝 Báo cáo kỳ tháng 11/2026 của mô hình")
    await coordinator.send("Đơn vị sẽ mượn máy chiếu của phòng họp.")
    await coordinator.choose("✅ Gửi trả lời")
    replies = await coordinator.send(f"/xembaocao {found.id}")
    assert "• Cán bộ phụ trách đã trả lời: Đơn vị sẽ mượn máy chiếu của phòng họp." in replies[0]
    # From the report, the model's page.
    page = await coordinator.choose("📂 Mọi báo cáo của MH1")
    assert page[0].splitlines()[:4] == [
        "📌 MH1 · Chuyển đổi số trong giảng dạy",
        "• Người đăng ký: Nguyễn Văn An · Chi bộ Văn phòng",
        "• Trạng thái: Đang thực hiện",
        "Tiến độ so với chỉ tiêu:",
    ]
    assert page[0].splitlines()[-1] == "Các báo cáo (1), mới nhất trước:"
    assert page[1].startswith(f"📝 Báo cáo số {found.id} · MH1")

    # An admin's /donvi is by top-level unit: each report names the unit it came from.
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/donvi")
    listed = (await admin.choose("📝 Báo cáo kỳ này (1)"))[0]
    assert "– MH1 «Chuyển đổi số trong giảng dạy» — Nguyễn Văn An (Chi bộ Văn phòng) · 🖼 2" in (
        listed.splitlines()
    )


async def test_the_digest_opens_each_new_report(world, demo, db, clock):  # noqa: F811
    coordinator = await join(world, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT")
    member = await join(world)
    await register(member)
    await approve_all(db)
    await report_with_photos(member, photos=1)
    async with db.session() as session:
        report_id = await session.scalar(select(Report.id))
    clock.now = datetime(2026, 11, 23, 8, 30, tzinfo=HANOI).astimezone(UTC)
    await schedules.sweep_digests(world.core)  # Monday 08:00 passed: the weekly digest is due
    await world.flush()
    [digest] = [t for t in world.outbox_texts(COORDINATOR) if t.startswith("📊")]
    assert "• Báo cáo nhận được: 1" in digest
    label = "MH1 · Nguyễn Văn An · 20/11/2026"
    if world.channel == "zalo":
        # No buttons on Zalo: the command to type for it.
        assert f"👉 {label}: gõ /xembaocao {report_id}" in digest.splitlines()
    replies = await coordinator.choose(label)
    assert replies[0].startswith(f"📝 Báo cáo số {report_id} · MH1 · kỳ tháng 11/2026")


async def test_a_models_reports_newest_first_a_page_at_a_time(db, clock, chat, api):
    coordinator, _ = await reported_on_telegram(db, clock, chat)
    async with db.session() as session:
        model = await session.scalar(select(Model))
        target = await session.scalar(select(Target).where(Target.model_id == model.id))
        # Three earlier months, the oldest late; imported from paper: the model's owner is named.
        for month in (8, 9, 10):
            session.add(
                Report(
                    model_id=model.id,
                    member_id=None,
                    period_start=date(2026, month, 1),
                    period_end=date(2026, month, 28),
                    due_on=date(2026, month, 25),
                    done_text=f"Việc tháng {month}",
                    late=month == 8,
                    submitted_at=datetime(2026, month, 20 + (month == 8) * 7, 2, tzinfo=UTC),
                )
            )
    replies = await coordinator.send("/xemmohinh mh1")
    assert replies[0].splitlines()[-1] == "Các báo cáo (4), mới nhất trước:"
    assert [r.splitlines()[0].split(" · ")[-1] for r in replies[1:4]] == [
        "kỳ tháng 11/2026",
        "kỳ tháng 10/2026",
        "kỳ tháng 09/2026",
    ]
    assert replies[2].splitlines()[1] == "👤 Nguyễn Văn An · gửi lúc 20/10/2026 09:00"
    assert replies[4] == "Trang 1/2"
    assert coordinator.buttons() == ["Trang sau ›"]
    replies = await coordinator.click("Trang sau ›")
    assert replies[1].splitlines()[:2] == [
        replies[1].splitlines()[0],
        "👤 Nguyễn Văn An · gửi lúc 27/08/2026 09:00 · nộp muộn (hạn 25/08/2026)",
    ]
    assert replies[1].splitlines()[0].endswith("kỳ tháng 08/2026")
    assert replies[-1] == "Trang 2/2" and coordinator.buttons() == ["‹ Trang trước"]
    # Typed with a page number, as a channel without buttons would; "MH 1" is the code MH1.
    assert (await coordinator.send("/xemmohinh MH1 2"))[-1] == "Trang 2/2"
    assert (await coordinator.send("/xemmohinh MH 1"))[-1] == "Trang 1/2"
    assert (await coordinator.send("/xemmohinh MH 1 2"))[-1] == "Trang 2/2"
    assert target is not None


async def test_who_may_read_and_what_a_missing_record_answers(db, clock, chat):
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
        other = await add_unit(
            session, code="CB-K", name="Chi bộ Khác", parent_id=None, now=clock()
        )
    an = await join_telegram(chat)
    await register_quickly(an, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    await report(an, "500")
    await make_coordinator(db, unit_id=other.id, telegram_id=7300, now=clock())
    stranger = chat(7300, "Khác")
    async with db.session() as session:
        report_id = await session.scalar(select(Report.id))
        unit_id = await session.scalar(select(Model.unit_id))
    refused = "Bạn không có quyền thực hiện việc này."
    assert await stranger.send("/xemmohinh MH1") == [refused]
    assert await stranger.send(f"/xembaocao {report_id}") == [refused]
    assert await stranger.press(f"ur:{unit_id}") == [refused]
    # What does not exist says so, to anyone allowed to read reports at all.
    assert await stranger.send("/xembaocao 999") == ["Không tìm thấy báo cáo số 999."]
    assert await stranger.press("rr:999") == ["Không tìm thấy báo cáo số 999."]
    assert await stranger.press("mr:999") == ["Không tìm thấy mô hình này."]
    assert await stranger.press("ur:999") == ["Không tìm thấy đơn vị này."]
    assert await stranger.send("/xemmohinh MH999") == ["Không có mô hình mã MH999."]
    assert (await stranger.send("/xemmohinh"))[0].startswith("Gõ /xemmohinh kèm mã mô hình")
    assert (await stranger.send("/xembaocao mười"))[0].startswith("Gõ /xembaocao kèm số")
    # A member who coordinates nothing reads only their own, through /mohinh.
    assert await an.send(f"/xembaocao {report_id}") == [refused]


async def test_a_photo_from_before_the_media_store(world, demo, db):  # noqa: F811
    coordinator = await join(world, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT")
    member = await join(world)
    await register(member)
    await approve_all(db)
    await report_with_photos(member, photos=1)
    async with db.session() as session:
        # As kept before the store existed: Telegram's file id alone.
        await session.execute(update(ReportPhoto).values(file_id="AgOLD", media_key=None))
        report_id = await session.scalar(select(Report.id))
    replies = await coordinator.send(f"/xembaocao {report_id}")
    if world.channel == "telegram":
        [photo] = [c for c in world.api.calls if c.method == "sendPhoto"]
        assert photo.params["photo"] == "AgOLD"
    else:
        assert replies[-1] == "⚠️ 1 ảnh chưa được lưu trên máy chủ nên chưa xem được ở đây."


async def test_a_file_id_telegram_refuses_is_sent_from_the_media_store(db, clock, chat, api):
    coordinator, _ = await reported_on_telegram(db, clock, chat, photos=2)
    async with db.session() as session:
        report_id = await session.scalar(select(Report.id))
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: wrong file identifier"}
    api.fail_next["sendMediaGroup"] = (400, refused)
    await coordinator.send(f"/xembaocao {report_id}")
    first, again = [c for c in api.calls if c.method == "sendMediaGroup"]
    assert "_files" not in first.params
    assert [content for _, content in again.params["_files"].values()] == [JPEG, JPEG]


async def test_a_photo_sent_from_the_terminal_is_uploaded_on_telegram(db, clock, chat, api):
    coordinator, _ = await reported_on_telegram(db, clock, chat, photos=1)
    async with db.session() as session:
        # The terminal keeps the path the photo was sent from: no Telegram file id.
        await session.execute(update(ReportPhoto).values(file_id="/home/an/anh lop 10A.jpg"))
        report_id = await session.scalar(select(Report.id))
    await coordinator.send(f"/xembaocao {report_id}")
    [photo] = [c for c in api.calls if c.method == "sendPhoto"]
    assert [content for _, content in photo.params["_files"].values()] == [JPEG]


async def test_a_refused_file_id_without_a_kept_copy_is_counted_not_fatal(db, clock, chat, api):
    coordinator, _ = await reported_on_telegram(db, clock, chat, photos=2)
    async with db.session() as session:
        report_id = await session.scalar(select(Report.id))
        second = await session.scalar(select(ReportPhoto).where(ReportPhoto.position == 2))
        second.file_id, second.media_key = "AgOLD", None  # from before the store
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: wrong file identifier"}
    api.fail_next["sendMediaGroup"] = (400, refused)
    replies = await coordinator.send(f"/xembaocao {report_id}")
    [photo] = [c for c in api.calls if c.method == "sendPhoto"]
    assert [content for _, content in photo.params["_files"].values()] == [JPEG]
    assert replies[-1] == "⚠️ 1 ảnh chưa được lưu trên máy chủ nên chưa xem được ở đây."
