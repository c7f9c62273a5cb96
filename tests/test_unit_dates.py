"""Issue 15, "Figures that read right": a campaign counts the units active at some time during
it. Units made in the chat begin that day, a deactivated one ends that day, imported ones carry
the dates the «Đơn vị» sheet gives (else none: counted in every campaign)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.models import Unit
from tests.conftest import ADMIN_ID
from tests.test_statistics import thongke
from tests.test_workbook_import import (
    CAMPAIGN_HEAD,
    COMMENDATION_HEAD,
    CONFERENCE_HEAD,
    REGISTRATION_HEAD,
    RESULT_HEAD,
    UNIT_HEAD,
    admin_chat,
    send_file,
    workbook,
)

DATES = ["Hoạt động từ", "Hoạt động đến"]


def old_campaign(units: list[list[object]]) -> bytes:
    return workbook(
        {
            "Đợt phát động": [
                CAMPAIGN_HEAD,
                ["DVK2123", "Dân vận khéo 2021–2023", "01/01/2021", "31/12/2023"],
            ],
            "Đơn vị": [UNIT_HEAD + DATES, *units],
            "Đăng ký": [
                REGISTRATION_HEAD,
                [
                    "MH-1",
                    "DVK2123",
                    "CB-A",
                    "Tập thể",
                    "Chi bộ A",
                    "Nhà đại đoàn kết",
                    "An sinh xã hội",
                    "15/02/2022",
                ],
            ],
            "Kết quả": [RESULT_HEAD],
            "Hội nghị": [CONFERENCE_HEAD, ["CB-A", "DVK2123", "10/12/2023"]],
            "Khen thưởng": [COMMENDATION_HEAD],
        }
    )


UNITS = [
    ["DUK", "Đảng ủy Khối", None, None, None],  # dates not known: counted
    ["CB-A", "Chi bộ A", "DUK", "01/03/2019", None],
    ["CB-B", "Chi bộ B", "DUK", "01/01/2018", "30/06/2020"],  # closed before the campaign
    ["CB-C", "Chi bộ C", "DUK", "01/06/2023", "31/01/2024"],  # active for part of it
]


async def test_a_campaign_counts_the_units_of_its_time(db, chat, clock):
    admin = await admin_chat(chat)
    [reply] = await send_file(admin, "2021-2023.xlsx", old_campaign(UNITS))
    assert "• Đơn vị: thêm mới 4, cập nhật 0, giữ nguyên 0" in reply
    # Three units made in the chat today (26/11/2026).
    for code in ("CB-X", "CB-Y", "CB-Z"):
        await admin.send("/themdonvi")
        await admin.send(code)
        await admin.send(f"Chi bộ {code}")
        await admin.click("Đảng ủy Khối")
        await admin.click("✅ Xác nhận")

    stats = (await thongke(admin, "DVK2123"))[0]
    assert "• Đơn vị: 3, trong đó 1 đơn vị có đăng ký" in stats
    assert "• 1/3 đơn vị đã tổ chức hội nghị tuyên dương, khen thưởng" in stats
    years = (await thongke(admin, "2019"))[0]
    assert "• Đơn vị: 3, trong đó 0 đơn vị có đăng ký" in years  # DUK, CB-A, CB-B
    async with db.session() as session:
        made = await session.scalar(select(Unit).where(Unit.code == "CB-X"))
        assert (made.active_from, made.active_until) == (date(2026, 11, 26), None)


async def test_unit_dates_go_out_in_the_export_and_come_back(db, chat, app, api):
    from tests.test_export import finish_jobs, sent_workbook

    admin = await admin_chat(chat)
    await send_file(admin, "2021-2023.xlsx", old_campaign(UNITS))
    await admin.send("/xuatexcel")
    await finish_jobs(app)
    _, book = sent_workbook(api, ADMIN_ID)
    sheet = [list(row) for row in book["Đơn vị"].iter_rows(values_only=True)]
    assert sheet[0] == UNIT_HEAD + DATES
    by_code = {row[0]: row for row in sheet[1:]}
    assert [value.date() for value in by_code["CB-B"][3:]] == [date(2018, 1, 1), date(2020, 6, 30)]
    assert [value.date() for value in by_code["CB-C"][3:]] == [date(2023, 6, 1), date(2024, 1, 31)]
    assert by_code["DUK"][3:] == [None, None]


async def test_dates_in_the_wrong_order_are_refused(db, chat):
    admin = await admin_chat(chat)
    bad = [*UNITS[:1], ["CB-A", "Chi bộ A", "DUK", "01/03/2024", "01/03/2020"]]
    [reply] = await send_file(admin, "sai.xlsx", old_campaign(bad))
    assert "«Hoạt động đến» không được trước «Hoạt động từ»" in reply
    async with db.session() as session:
        assert await session.scalar(select(Unit).where(Unit.code == "CB-A")) is None


async def test_the_same_export_imported_again_changes_nothing(db, chat, app, api):
    from tests.test_export import finish_jobs, sent_workbook

    admin = await admin_chat(chat)
    await send_file(admin, "2021-2023.xlsx", old_campaign(UNITS))
    await admin.send("/xuatexcel")
    await finish_jobs(app)
    name, book = sent_workbook(api, ADMIN_ID)
    from io import BytesIO

    buffer = BytesIO()
    book.save(buffer)
    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, name, buffer.getvalue())
    assert "• Đơn vị: thêm mới 0, cập nhật 0, giữ nguyên 4" in reply


async def test_the_migration_dates_the_units_it_can(db):
    """Upgrading to 0010: a unit added in the chat begins on the day of its «unit.added» entry, a
    deactivated one ends on its last «unit.deactivated» (else the day it was made), the rest stay
    without dates."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from storage.migrate import downgrade, upgrade

    await downgrade(db.engine, "0009")
    made = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 2 March in Vietnam
    async with db.engine.begin() as conn:
        for code, active in (("A", True), ("B", False), ("C", False), ("D", True)):
            await conn.execute(
                text("INSERT INTO units (code, name, active, created_at) VALUES (:c, :c, :a, :m)"),
                {"c": code, "a": active, "m": made},
            )
        ids = dict((await conn.execute(text("SELECT code, id FROM units"))).all())
        for action, code, at in (
            ("unit.added", "A", made),
            ("unit.added", "B", made),
            ("unit.deactivated", "B", datetime(2026, 5, 1, 3, tzinfo=UTC)),
            ("unit.deactivated", "B", datetime(2026, 6, 1, 3, tzinfo=UTC)),
        ):
            await conn.execute(
                text(
                    "INSERT INTO audit_log (at, action, object_type, object_id, details) "
                    "VALUES (:at, :action, 'unit', :id, '{}')"
                ),
                {"at": at, "action": action, "id": ids[code]},
            )
    await upgrade(db.engine)
    async with db.session() as session:
        dates = {
            u.code: (u.active_from, u.active_until) for u in await session.scalars(select(Unit))
        }
    assert dates == {
        "A": (date(2026, 3, 2), None),
        "B": (date(2026, 3, 2), date(2026, 6, 1)),
        "C": (None, date(2026, 3, 2)),
        "D": (None, None),
    }
