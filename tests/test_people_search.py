"""Choosing a person in /phutrach and /quantri is searched and paged by the database, on a name
folded for searching (members.name_folded): found by part of the name without diacritics or by
a unit's name, a page at a time; the folded names of people kept before it existed are made by
its migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from storage.migrate import downgrade, upgrade
from storage.models import Member
from tests.conftest import ADMIN_ID
from tests.test_management import add_person, seeded  # noqa: F401 - a fixture


async def test_the_migration_folds_the_names_kept_before_it(db):
    await downgrade(db.engine, "0018")
    async with db.engine.begin() as conn:
        for name in ("Đặng Thị Ánh", "  Lê   VĂN  Ước ", None):
            await conn.execute(
                text(
                    "INSERT INTO members (full_name, is_admin, digest_mode, digest_hour, "
                    "digest_weekday, created_at) VALUES (:name, false, 'weekly', 8, 0, :at)"
                ),
                {"name": name, "at": datetime(2026, 11, 1, tzinfo=UTC)},
            )
    await upgrade(db.engine)
    async with db.session() as session:
        rows = (await session.execute(select(Member.full_name, Member.name_folded))).all()
    assert sorted(rows, key=str) == sorted(
        [("Đặng Thị Ánh", "dang thi anh"), ("  Lê   VĂN  Ước ", "le van uoc"), (None, None)],
        key=str,
    )


async def test_found_by_name_or_unit_a_page_at_a_time(seeded, db, clock, chat):  # noqa: F811
    for n in range(10):
        await add_person(db, clock, 7000 + n, f"Đỗ Thị Hà {n}", "CB-BV")
    await add_person(db, clock, 7100, "Hà Văn Đỗ", "CB-VP")
    await add_person(db, clock, 7101, "Võ Văn Tâm", "DB-SGD")
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/phutrach")
    await admin.click("➕ Giao phụ trách đơn vị")

    replies = await admin.send("do thi ha")
    assert replies[0].startswith("Kết quả tìm «do thi ha»:")
    assert "Trang 1/2." in replies[0]
    people = [b for b in admin.buttons() if " — " in b]
    assert people == [f"Đỗ Thị Hà {n} — Chi bộ Bệnh viện Đa khoa" for n in range(8)]
    await admin.click("Trang sau ›")
    assert "Trang 2/2." in admin.replies()[0]
    people = [b for b in admin.buttons() if " — " in b]
    assert people == [f"Đỗ Thị Hà {n} — Chi bộ Bệnh viện Đa khoa" for n in (8, 9)]

    # A unit's name finds its people; one match is taken at once.
    await admin.click("Hiện tất cả")
    replies = await admin.send("giao duc")
    assert replies[0].startswith("Đơn vị 1:")
    await admin.cancel_form()

    await admin.send("/phutrach")
    await admin.click("➕ Giao phụ trách đơn vị")
    replies = await admin.send("Nguyễn Không Có")
    assert replies[0].startswith("⚠️ Không tìm thấy mục nào khớp với «Nguyễn Không Có».")
    replies = await admin.send("Hà Văn Đỗ — Chi bộ Văn phòng")
    assert replies[0].startswith("Đơn vị 1:")
    await admin.click("Chi bộ Bệnh viện Đa khoa")
    summary = (await admin.click("Xong"))[0]
    assert "• Người: Hà Văn Đỗ — Chi bộ Văn phòng" in summary

    # Changed from the summary: the search begins again.
    replies = await admin.click("✏️ Người")
    assert "Trang 1/2." in replies[0]
    summary = (await admin.send("tam"))[0]
    assert "• Người: Võ Văn Tâm — Đảng bộ Sở Giáo dục và Đào tạo" in summary
    assert await admin.click("✅ Xác nhận") == [
        "Đã giao Võ Văn Tâm phụ trách: Chi bộ Bệnh viện Đa khoa."
    ]
