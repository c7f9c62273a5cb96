"""Issue 14, "Withdraw and delete" and "Nowhere means nowhere": /xoadulieu erases a person's
personal data after a confirmation. Afterwards no table holds their name or phone in any column,
JSON included, except a decided commendation (an official record); the movement's figures are
the same; their photos are gone from the media store; their channel sees a stranger. An admin
can do it for someone else (audited by id); nobody else can, and the last admin cannot erase
themselves. A failure half-way leaves everything as it was."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import JSON, String, Text, select

from bot import schedules
from bot.cli import main
from bot.telegram.outbox import flush_outbox
from storage import retention
from storage.models import (
    AuditEntry,
    Base,
    Commendation,
    Conversation,
    Identity,
    JoinRequest,
    Member,
    Model,
    OutboxMessage,
    ReportPhoto,
)
from storage.records.consents import Consent
from storage.records.honours import commended, notable_models
from storage.stats import organisation_stats
from tests.botapi import JPEG
from tests.conftest import ADMIN_ID
from tests.test_both_channels import MEMBER, demo, join, world  # noqa: F401 (fixtures)
from tests.test_consent import member_before_the_notice
from tests.test_invites import REVOKED, invite, make_invite
from tests.test_registration import join as join_by_code
from tests.test_registration import register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all, report
from tests.test_retention import ask_to_join

AN, BINH = 6100, 6101
NAME, PHONE = "Hoàng Thị Thu Hằng", "0912345678"
PHONE_SHOWN = "0912 345 678"  # as the notices to reviewers write it
FOLDED = "hoang thi thu hang"  # the name as /phutrach searches it (members.name_folded)
DECISION = "125-QĐ/ĐUK"


async def found(db, *words: str) -> list[str]:
    """Where any of the words is, as "table.column", searching every text and JSON column of
    every table (JSON read back as Python values, so escaped letters are found too)."""
    places = []
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in await conn.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if any(word in repr(value) for word in words):
                        places.append(f"{table.name}.{column.name}")
    return sorted(set(places))


async def figures(db):
    async with db.session() as session:
        return await organisation_stats(session)


async def member_id_of(db, user_id: int) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(user_id))
        )


@pytest.fixture
async def an(db, clock, chat, app, settings):
    """An asked to join with their phone (the coordinators' notice names them and gives it),
    was accepted, registered a model, reported with a photo; the model has a decided
    commendation and a proposed one."""
    from bot.demo import seed

    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    person = await ask_to_join(chat, AN, NAME, PHONE)
    async with db.session() as session:
        request = await session.scalar(select(JoinRequest))
    await admin.send(f"/chapnhan {request.id}")
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    assert (await report(person, photos=1))[0].startswith("✅ Đã gửi báo cáo")
    async with db.session() as session:
        model = await session.scalar(select(Model))
        for level, status, number in (
            ("co_so", "decided", DECISION),
            ("dang_uy_khoi", "proposed", None),
        ):
            session.add(
                Commendation(
                    model_id=model.id,
                    level=level,
                    status=status,
                    decision_number=number,
                    decided_on=date(2026, 11, 15) if number else None,
                    recorded_at=clock(),
                )
            )
    await flush_outbox(app)
    return person


def media_files(settings) -> list[Path]:
    return [p for p in Path(settings.media_dir).rglob("*") if p.is_file()]


async def test_a_member_erases_their_data_and_it_is_found_nowhere(an, db, chat, settings):
    before = await figures(db)
    assert set(await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED)) >= {
        "members.full_name",
        "members.name_folded",
        "members.phone",
        "outbox.payload",  # the coordinators' notice of the join request
    }
    assert len(media_files(settings)) == 1
    member_id = await member_id_of(db, AN)

    replies = await an.send("/xoadulieu")
    assert replies[0].startswith("🗑 Rút lại sự đồng ý và xóa dữ liệu cá nhân.")
    assert "Khen thưởng đã có quyết định" in replies[0]
    assert "Dữ liệu của: Của tôi" in replies[1]
    replies = await an.click("🗑 Xóa dữ liệu")

    assert replies[0].startswith("✅ Đã xóa dữ liệu cá nhân của bạn")
    assert "«thành viên đã rời»" in replies[0]
    assert "Khen thưởng đã có quyết định (1) là văn bản chính thức" in replies[0]
    # Nowhere, but in the decided commendation.
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == ["commendations.person_name"]
    assert await figures(db) == before
    assert media_files(settings) == []
    async with db.session() as session:
        member = await session.get(Member, member_id)
        consents = (await session.scalars(select(Consent))).all()
        photos = (await session.scalars(select(ReportPhoto))).all()
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "personal.erased")
        )
        honours = await commended(session)
        notable = await notable_models(session)
        pending = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.member_id == member_id, OutboxMessage.status == "pending"
            )
        )
    assert (member.full_name, member.phone, member.category) == (None, None, None)
    assert [c.withdrawn_at is not None for c in consents if c.member_id == member_id] == [True]
    assert photos == []
    assert (entry.actor_id, entry.object_id, entry.details["by"]) == (member_id, member_id, "self")
    assert pending is None
    # The official record keeps the name; everything else shows a member who left.
    assert {(h.level, h.name) for h in honours} == {
        ("co_so", NAME),
        ("dang_uy_khoi", "thành viên đã rời"),
    }
    assert [n.owner for n in notable] == ["thành viên đã rời"]

    # Their channel sees a stranger: /start begins joining again.
    assert (await an.send("/start"))[-1] == "Họ và tên của bạn?"
    assert await member_id_of(db, AN) != member_id


async def test_a_failure_half_way_changes_nothing(an, db, settings, monkeypatch):
    before = await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED)

    async def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    # The last database write of the erasure fails, after everything else was written.
    monkeypatch.setattr(retention, "scrub", broken)
    await an.send("/xoadulieu")
    replies = await an.click("🗑 Xóa dữ liệu")  # the error handler logs it and says sorry

    assert not any(reply.startswith("✅ Đã xóa") for reply in replies)

    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == before
    assert len(media_files(settings)) == 1
    member_id = await member_id_of(db, AN)
    async with db.session() as session:
        assert await session.scalar(select(ReportPhoto)) is not None
        withdrawn = await session.scalar(
            select(Consent.withdrawn_at).where(Consent.member_id == member_id)
        )
    assert withdrawn is None
    # Then it works: nothing was half-done that would stand in the way.
    monkeypatch.undo()
    await an.send("/xoadulieu")
    assert (await an.click("🗑 Xóa dữ liệu"))[0].startswith("✅ Đã xóa dữ liệu cá nhân của bạn")
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == ["commendations.person_name"]
    assert media_files(settings) == []


async def test_an_admin_erases_someone_on_a_paper_request(an, db, chat):
    member_id = await member_id_of(db, AN)
    admin = chat(ADMIN_ID, "Quản trị")
    help_text = (await admin.send("/help"))[0]
    assert "/xoadulieu — xóa dữ liệu cá nhân của bạn, hoặc của một người theo đơn" in help_text
    assert "/xoadulieu — rút lại sự đồng ý" in (await an.send("/help"))[0]
    replies = await admin.send("/xoadulieu")
    assert replies[-1] == "Xóa dữ liệu cá nhân của ai?"
    await admin.click("Của người khác (theo đơn yêu cầu)")
    replies = await admin.send("thu hang")  # the one found is chosen
    assert f"• Người: {NAME} — Chi bộ Văn phòng" in replies[0]
    replies = await admin.click("🗑 Xóa dữ liệu")

    assert replies[0].startswith(f"✅ Đã xóa dữ liệu cá nhân của {NAME} (mã số {member_id})")
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == ["commendations.person_name"]
    async with db.session() as session:
        admin_id = await member_id_of(db, ADMIN_ID)
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "personal.erased")
        )
    assert (entry.actor_id, entry.object_type, entry.object_id) == (admin_id, "member", member_id)
    assert entry.details == {"by": "admin", "commendations_kept": 1}
    assert "Xóa dữ liệu cá nhân" in (await admin.send("/nhatky dữ liệu cá nhân"))[0]
    # Their channel sees a stranger.
    assert (await an.send("/mohinh"))[-1].startswith("Bạn chưa là thành viên của đơn vị nào.")


async def test_nobody_else_can_erase_another_person(an, db, chat):
    before = await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED)
    member = chat(BINH, "Bình")
    await member.send("/start DEMO-TV")
    await member.send("Phạm Văn Bình")
    await member.click("Công chức")
    await member.click("Bỏ qua »")
    replies = await member.send("/xoadulieu")
    # Only their own: the form opens at its confirmation, no choice of whose.
    assert "Dữ liệu của: Của tôi" in replies[-1]
    assert "Của người khác (theo đơn yêu cầu)" not in member.buttons()
    # Nor a button to change it (there is nothing to change it to), and a forged one is refused.
    assert member.buttons() == ["🗑 Xóa dữ liệu", "✖ Hủy"]
    assert replies[-1].endswith("• Dữ liệu của: Của tôi\nChọn bên dưới để gửi.")
    form = member.last_keyboard_message()["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    for forged in ("e:whose", "o:other"):
        replies = await member.press(form.rsplit(":", 1)[0] + ":" + forged)
        assert replies[0].startswith("⚠️ Lựa chọn không hợp lệ.")
        assert "• Dữ liệu của: Của tôi" in replies[0]
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == before
    assert await found(db, "Phạm Văn Bình") != []
    await member.cancel_form()
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == before


async def test_the_last_admin_cannot_erase_themselves(db, chat):
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    await admin.send("/xoadulieu")
    await admin.click("Của tôi")
    replies = await admin.click("🗑 Xóa dữ liệu")
    assert "Đây là quản trị viên cuối cùng" in replies[0]
    async with db.session() as session:
        assert (await session.scalar(select(Member).where(Member.is_admin))) is not None
        assert (
            await session.scalar(select(AuditEntry).where(AuditEntry.action == "personal.erased"))
            is None
        )


async def test_on_both_channels_the_person_is_a_stranger_afterwards(world, demo, db):  # noqa: F811
    person = await join(world, MEMBER, "Đỗ Thị Mai Lan")
    replies = await person.send("/xoadulieu")
    assert "Dữ liệu của: Của tôi" in replies[-1]
    replies = await person.choose("🗑 Xóa dữ liệu")
    assert replies[0].startswith("✅ Đã xóa dữ liệu cá nhân của bạn")
    assert await found(db, "Đỗ Thị Mai Lan") == []
    async with db.session() as session:
        assert (
            await session.scalar(select(Identity).where(Identity.external_id == str(MEMBER)))
            is None
        )
    # A stranger again: an invite begins joining from the start, with the notice.
    replies = await person.send("/start DEMO-TV")
    assert replies[-1] == "Họ và tên của bạn?"


async def test_a_member_who_declines_a_changed_notice_can_erase_their_data(db, clock, chat):
    member = await member_before_the_notice(db, clock, unit_code="CU", unit_name="Chi bộ Cũ")
    person = chat(7002, "Cũ")
    person.agrees = False
    await person.send("/mohinh")  # the notice, again
    replies = await person.click("Không đồng ý")
    assert "/xoadulieu" in replies[0]
    await person.send("/xoadulieu")
    replies = await person.click("🗑 Xóa dữ liệu")
    assert replies[0].startswith("✅ Đã xóa dữ liệu cá nhân của bạn")
    assert await found(db, "Lê Thị Cũ") == []
    async with db.session() as session:
        assert (await session.get(Member, member.id)).full_name is None


async def test_dvk_erase_erases_again_after_a_restore(an, db, settings, monkeypatch, capsys):
    """A restored backup brings an erased person back; the audit log's personal.erased ids are
    erased again on the command line."""
    member_id = await member_id_of(db, AN)
    monkeypatch.setenv("DVK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DVK_MEDIA_DIR", str(settings.media_dir))

    assert await asyncio.to_thread(main, ["erase", "999999"]) == 1
    assert "Không có thành viên số 999999" in capsys.readouterr().err
    assert len(media_files(settings)) == 1

    assert await asyncio.to_thread(main, ["erase", str(member_id)]) == 0
    assert capsys.readouterr().out.strip() == "Đã xóa dữ liệu cá nhân của 1 người."
    assert await found(db, NAME, PHONE, PHONE_SHOWN, FOLDED) == ["commendations.person_name"]
    assert media_files(settings) == []
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "personal.erased")
        )
    assert (entry.actor_id, entry.object_id, entry.details["by"]) == (None, member_id, "cli")


async def test_a_coordinator_who_erases_their_data_takes_back_their_invites(db, clock, chat):
    from bot.demo import seed

    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    coordinator = await join_by_code(chat, 6200, "Vũ Đức Phụ", code="DEMO-PT", category="Cán bộ")
    code = await make_invite(coordinator, "Chi bộ Văn phòng")
    assert not (await invite(db, code)).revoked

    await coordinator.send("/xoadulieu")
    assert (await coordinator.click("🗑 Xóa dữ liệu"))[0].startswith("✅ Đã xóa")

    assert (await invite(db, code)).revoked
    assert (await chat(7001, "Muộn").send(f"/start {code}"))[0] == REVOKED
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "invite.revoked")
        )
    assert entry.details["reason"] == "erased"


async def report_half_written(person) -> None:
    """A report begun again with a new photo (in the media store already), not sent."""
    await person.send("/baocao")
    await person.click("📝 Báo cáo lại, thay thế")
    await person.send("Hoàn thành bài giảng điện tử cho khối 11")
    await person.send("300")
    await person.send_photo(content=JPEG + b"another", file_id="AgAE")


async def test_photos_of_a_report_being_written_go_with_it(an, db, settings):
    await report_half_written(an)
    assert len(media_files(settings)) == 2
    # Erasing from inside the report: the report is given up first, and its photo with it ...
    assert (await an.send("/xoadulieu"))[0].startswith("Bạn đang ")
    await an.click("🗑 Bỏ bản nháp, làm việc mới")
    assert len(media_files(settings)) == 1
    await an.click("🗑 Xóa dữ liệu")
    # ... and the sent report's photo goes with the erasure.
    assert media_files(settings) == []


async def test_an_admin_erasing_someone_mid_report_removes_its_photos(an, db, chat, settings):
    await report_half_written(an)
    assert len(media_files(settings)) == 2
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/xoadulieu")
    await admin.click("Của người khác (theo đơn yêu cầu)")
    await admin.send("thu hang")
    replies = await admin.click("🗑 Xóa dữ liệu")
    assert replies[0].startswith(f"✅ Đã xóa dữ liệu cá nhân của {NAME}")
    assert media_files(settings) == []


async def test_a_photo_someone_else_is_still_using_stays(an, db, settings):
    """The store keeps the same bytes once: the same picture in another person's open report
    (forwarded to both, say) stays when one of them gives theirs up."""
    await report_half_written(an)
    admin_id = await member_id_of(db, ADMIN_ID)
    async with db.session() as session:
        mine = await session.get(Conversation, await member_id_of(db, AN))
        session.add(
            Conversation(
                member_id=admin_id,
                form=mine.form,
                state=mine.state,
                context=mine.context,
                expires_at=mine.expires_at,
                updated_at=mine.updated_at,
            )
        )
    await an.send("/huy")
    assert (await an.click("🗑 Hủy, bỏ phần đã điền"))[0].startswith("Đã hủy")
    assert len(media_files(settings)) == 2


async def test_the_photos_of_a_report_left_half_way_go_with_its_draft(an, clock, app, settings):
    await report_half_written(an)
    assert len(media_files(settings)) == 2
    clock.advance(days=92)
    swept = await schedules.sweep_retention(app.bot_data["core"])
    assert (swept.drafts, len(swept.media_keys)) == (1, 1)
    # The photo of the report that was sent stays with it.
    assert len(media_files(settings)) == 1
