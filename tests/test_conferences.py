"""/hoinghi records that a unit held its commendation conference; /thongke counts them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.models import AuditEntry, Conference, Member
from storage.records.campaigns import add_campaign
from storage.records.people import find_identity
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_statistics import thongke


async def _setup(db, now):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        units = [
            await add_unit(session, code=f"U{i}", name=f"Chi bộ {i}", parent_id=None, now=now)
            for i in range(3)
        ]
        await add_campaign(
            session,
            code="DVK26",
            name="Dân vận khéo 2026",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            now=now,
        )
    return units


async def test_an_admin_records_a_conference_and_statistics_count_it(chat, db, clock):
    await _setup(db, clock())
    admin = chat(ADMIN_ID, "Quản trị")
    assert (await admin.send("/hoinghi"))[-1] == "Hội nghị tổng kết đợt phát động nào?"
    await admin.click("Dân vận khéo 2026 (DVK26)")
    await admin.click("Chi bộ 1")
    assert (await admin.send("30/02/2026"))[0].startswith(
        "⚠️ Tháng 2/2026 không có ngày 30: tháng này có 28 ngày."
    )
    assert (await admin.send("27/11/2026"))[0].startswith("⚠️ Ngày không được sau 26/11/2026.")
    await admin.send("20/11/2026")
    assert await admin.click("✅ Xác nhận") == [
        "Đã ghi: Chi bộ 1 tổ chức hội nghị tuyên dương, khen thưởng đợt «Dân vận khéo 2026» "
        "ngày 20/11/2026."
    ]
    # Recording it again corrects the date; there is still one conference.
    await admin.send("/hoinghi")
    await admin.click("Dân vận khéo 2026 (DVK26)")
    await admin.click("Chi bộ 1")
    await admin.send("21/11/2026")
    assert await admin.click("✅ Xác nhận") == [
        "Đã sửa ngày hội nghị của Chi bộ 1 (đợt «Dân vận khéo 2026») từ 20/11/2026 thành "
        "21/11/2026."
    ]
    async with db.session() as session:
        held = (await session.scalars(select(Conference))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert [(c.held_on, c.recorded_by is not None) for c in held] == [(date(2026, 11, 21), True)]
    assert actions.count("conference.recorded") == 2
    stats = (await thongke(admin))[0]
    assert "• 1/3 đơn vị đã tổ chức hội nghị tuyên dương, khen thưởng" in stats


async def test_without_a_campaign_there_is_nothing_to_record(chat):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/hoinghi") == [
        "Chưa có đợt phát động nào: tạo đợt bằng /taodot trước."
    ]


async def test_conferences_are_recorded_by_admins_only(chat, db, clock):
    units = await _setup(db, clock())
    await make_coordinator(db, unit_id=units[0].id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    assert await coordinator.send("/hoinghi") == ["Bạn không có quyền thực hiện việc này."]
    # An admin's form, then the admin right taken away mid-way: the confirmation is refused.
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/hoinghi")
    await admin.click("Dân vận khéo 2026 (DVK26)")
    await admin.click("Chi bộ 0")
    await admin.send("20/11/2026")
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(ADMIN_ID))
        member = await session.get(Member, identity.member_id)
        member.is_admin = False
    # The bootstrap list would make them admin again on their next message: take it away too.
    admin.app.bot_data["core"].config.bootstrap_admins.clear()
    assert await admin.click("✅ Xác nhận") == [
        "Bạn không còn quyền thực hiện «Hội nghị tuyên dương, khen thưởng», nên phiên nhập đã "
        "được hủy."
    ]
    async with db.session() as session:
        assert (await session.scalars(select(Conference))).all() == []
