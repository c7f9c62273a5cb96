"""/suadot: an admin changes a campaign through its form, opened at the summary."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.models import AuditEntry, Campaign, Model, Report
from storage.records.campaigns import add_campaign, campaign_by_code
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID, make_coordinator

NOT_ALLOWED = "Bạn không có quyền thực hiện việc này."


async def _campaigns(db, clock, count=1):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        for n in range(count):
            await add_campaign(
                session,
                code=f"DVK2{6 + n}",
                name=f"Dân vận khéo 202{6 + n}",
                starts_on=date(2026 + n, 1, 1),
                ends_on=date(2026 + n, 12, 31),
                now=clock(),
            )


async def test_an_admin_changes_a_campaign_at_its_summary(chat, db, clock):
    await _campaigns(db, clock)
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await admin.send("/suadot")
    assert "Dân vận khéo 2026" in replies[-1] and "✅ Xác nhận" in admin.buttons()
    await admin.click("✏️ Tên đợt")
    await admin.send("Dân vận khéo năm 2026")
    await admin.click("✏️ Đóng đăng ký")
    assert (await admin.send("01/01/2028"))[0].startswith("⚠️ Ngày không được sau 31/12/2026.")
    await admin.send("30/06/2026")
    assert await admin.click("✅ Xác nhận") == [
        "Đã lưu thay đổi của đợt «Dân vận khéo năm 2026» (DVK26)."
    ]
    async with db.session() as session:
        campaign = await session.scalar(select(Campaign))
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "campaign.updated")
        )
    assert campaign.name == "Dân vận khéo năm 2026"
    assert campaign.registration_closes_on == date(2026, 6, 30)
    assert entry.details["changed"] == {
        "name": ["Dân vận khéo 2026", "Dân vận khéo năm 2026"],
        "registration_closes_on": [None, "2026-06-30"],
    }
    # A start moved past the registration window's end leaves the window outside: refused.
    await admin.send("/suadot DVK26")
    await admin.click("✏️ Bắt đầu")
    await admin.send("01/07/2026")
    replies = await admin.click("✅ Xác nhận")
    assert replies[0].startswith(
        "⚠️ Thời gian nhận đăng ký (01/07/2026–30/06/2026) phải nằm trong thời gian của đợt "
        "(01/07/2026–31/12/2026)."
    )
    async with db.session() as session:
        assert (await session.scalar(select(Campaign))).starts_on == date(2026, 1, 1)
    await admin.cancel_form()
    # Nothing changed: said so, nothing audited.
    await admin.send("/suadot DVK26")
    assert await admin.click("✅ Xác nhận") == [
        "Đợt «Dân vận khéo năm 2026» (DVK26) không có gì thay đổi."
    ]


async def test_a_code_in_use_and_a_rhythm_with_reports_are_refused(chat, db, clock):
    await _campaigns(db, clock, count=2)
    admin = chat(ADMIN_ID, "Quản trị")
    assert (await admin.send("/suadot"))[0] == "Sửa đợt phát động nào?"
    await admin.click("Dân vận khéo 2026 (DVK26)")
    await admin.click("✏️ Mã đợt")
    assert (await admin.send("dvk27"))[0].startswith("⚠️ Mã đợt dvk27 đã có.")
    assert (await admin.send("/suadot KHONGCO")) == ["Không có đợt phát động mã KHONGCO."]

    # With a report filed by monthly periods, the rhythm stays.
    async with db.session() as session:
        unit = await add_unit(session, code="U", name="Chi bộ", parent_id=None, now=clock())
        campaign = await campaign_by_code(session, code="DVK26")
        model = Model(
            code="MH-X",
            campaign_id=campaign.id,
            unit_id=unit.id,
            kind="individual",
            title="Mô hình",
            title_key="mô hình",
            field_id=1,
            approach="",
            objectives="",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            status="in_progress",
            extra={},
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(model)
        await session.flush()
        session.add(
            Report(
                model_id=model.id,
                period_start=date(2026, 10, 1),
                period_end=date(2026, 10, 31),
                due_on=date(2026, 10, 25),
                done_text="",
                extra={},
                submitted_at=clock(),
            )
        )
    await admin.cancel_form()
    await admin.send("/suadot DVK26")
    await admin.click("✏️ Kỳ báo cáo")
    await admin.click("Hằng quý")
    replies = await admin.click("✅ Xác nhận")
    assert replies[0].startswith(
        "⚠️ Đợt đã có 1 báo cáo theo kỳ hiện tại: không đổi được kỳ báo cáo hay ngày hạn nữa."
    )
    async with db.session() as session:
        assert (await campaign_by_code(session, code="DVK26")).cadence == "monthly"


async def test_campaign_changes_are_for_admins_only(chat, db, clock):
    await _campaigns(db, clock)
    async with db.session() as session:
        unit = await add_unit(session, code="U", name="Chi bộ", parent_id=None, now=clock())
    await make_coordinator(db, unit_id=unit.id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    assert await coordinator.send("/suadot") == [NOT_ALLOWED]
    assert await coordinator.press("cd:1") == [NOT_ALLOWED]
