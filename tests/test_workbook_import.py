"""Paper records from the import workbook: through /nhapexcel and `dvk import`, all or nothing,
every problem named by its sheet and row, and a second import of the same file changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.cli import main
from excel import check as workbook_check
from storage.models import (
    AuditEntry,
    Base,
    Campaign,
    Commendation,
    Conference,
    Field,
    Member,
    Model,
    OutboxMessage,
    Report,
    ReportValue,
    Target,
    Unit,
)
from storage.records.people import add_membership, get_or_create_identity
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_statistics import thongke

CAMPAIGN_HEAD = ["Mã đợt", "Tên đợt", "Ngày bắt đầu", "Ngày kết thúc"]
UNIT_HEAD = ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên"]
REGISTRATION_HEAD = [
    "Mã mô hình",
    "Mã đợt",
    "Mã đơn vị",
    "Loại",
    "Tên tập thể hoặc cá nhân",
    "Tên mô hình",
    "Lĩnh vực",
    "Ngày đăng ký",
]
RESULT_HEAD = ["Mã mô hình", "Chỉ tiêu", "Đơn vị tính", "Giá trị", "Ngày báo cáo"]
CONFERENCE_HEAD = ["Mã đơn vị", "Mã đợt", "Ngày tổ chức"]
COMMENDATION_HEAD = ["Mã mô hình", "Cấp", "Trạng thái", "Số quyết định", "Ngày"]
TARGET_HEAD = ["Mã mô hình", "Chỉ tiêu", "Đơn vị tính", "Mục tiêu"]

# Dates both as Excel dates and as dd/mm/yyyy text; amounts as numbers and Vietnamese text;
# choices and codes in any case, with stray spaces.
CLEAN: dict[str, list[list[object]]] = {
    "Đợt phát động": [
        CAMPAIGN_HEAD,
        ["DVK2026", "Dân vận khéo 2026–2027", "01/01/2026", datetime(2027, 12, 31)],
    ],
    "Đơn vị": [
        UNIT_HEAD,
        ["CB-VP", "Chi bộ Văn phòng", "DUK"],  # before its parent, on purpose
        ["DUK", "Đảng ủy Khối", None],
        ["CB-YT", "Chi bộ Y tế", "duk"],
    ],
    "Đăng ký": [
        REGISTRATION_HEAD,
        [
            "MH-001",
            "DVK2026",
            "CB-VP",
            "Tập thể",
            "Chi bộ Văn phòng",
            "Vận động xây nhà đại đoàn kết",
            "An sinh xã hội",
            "15/02/2026",
        ],
        [],  # an empty row is skipped
        [
            "MH-002",
            "dvk2026",
            "cb-yt",
            "  cá NHÂN ",
            "Nguyễn Văn An",
            "Chuyển đổi số trong khám bệnh",
            "chuyen doi so",
            datetime(2026, 3, 10),
        ],
    ],
    "Kết quả": [
        RESULT_HEAD,
        ["MH-001", "nhà đại đoàn kết", "căn", 5, "15/06/2026"],
        ["MH-001", "tiền vận động", "đồng", "130 tỷ", datetime(2026, 6, 30)],
        ["MH-001", "Nhà  đại đoàn kết ", "căn", "1.061", "15/09/2026"],
        ["MH-002", "kinh phí tiết kiệm", "đồng", "50.000.000 đồng", "20/07/2026"],
        ["MH-002", "giờ chờ giảm", "giờ", "2,5", "20/07/2026"],
    ],
    "Hội nghị": [CONFERENCE_HEAD, ["CB-VP", "DVK2026", "19/10/2027"]],
    "Khen thưởng": [
        COMMENDATION_HEAD,
        ["MH-001", "Đảng ủy Khối", "Đã khen", "123-QĐ/ĐUK", "25/10/2027"],
        ["MH-002", " cơ sở", "ĐỀ NGHỊ", None, None],
    ],
}

DONE = """✅ Đã nhập «du-lieu.xlsx»:
• Đợt phát động: thêm mới 1, cập nhật 0, giữ nguyên 0
• Đơn vị: thêm mới 3, cập nhật 0, giữ nguyên 0
• Đăng ký: thêm mới 2, cập nhật 0, giữ nguyên 0
• Kết quả: thêm mới 5, cập nhật 0, giữ nguyên 0
• Hội nghị: thêm mới 1, cập nhật 0, giữ nguyên 0
• Khen thưởng: thêm mới 2, cập nhật 0, giữ nguyên 0"""

AGAIN = """✅ «du-lieu.xlsx» không có gì mới: mọi dòng đã có sẵn.
• Đợt phát động: thêm mới 0, cập nhật 0, giữ nguyên 1
• Đơn vị: thêm mới 0, cập nhật 0, giữ nguyên 3
• Đăng ký: thêm mới 0, cập nhật 0, giữ nguyên 2
• Kết quả: thêm mới 0, cập nhật 0, giữ nguyên 5
• Hội nghị: thêm mới 0, cập nhật 0, giữ nguyên 1
• Khen thưởng: thêm mới 0, cập nhật 0, giữ nguyên 2"""

NOT_ALLOWED = "Bạn không có quyền thực hiện việc này."
# The first words of the message that says the import began (import-started).
RECEIVED = "⏳ Đã nhận «"


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, column by column, to compare before and after."""
    tables = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in (
                *("conversations", "identities", "members", "outbox", "jobs"),
                *("leases", "send_slots"),  # a replica's claims and send slots (PostgreSQL)
            ):
                continue  # the people chatting and the job itself; not what an import writes
            rows = (await session.execute(select(table).order_by(*table.primary_key))).all()
            tables[table.name] = [tuple(row) for row in rows]
    return tables


async def stored(db) -> dict[str, object]:
    """What an import wrote, by natural keys, in a form a test can spell out."""
    async with db.session() as session:
        campaigns = {c.id: c for c in (await session.scalars(select(Campaign))).all()}
        units = {u.id: u for u in (await session.scalars(select(Unit))).all()}
        fields = {f.id: f.name for f in (await session.scalars(select(Field))).all()}
        models = {m.id: m for m in (await session.scalars(select(Model))).all()}
        targets = {t.id: t for t in (await session.scalars(select(Target))).all()}
        reports = {r.id: r for r in (await session.scalars(select(Report))).all()}
        values = (await session.scalars(select(ReportValue))).all()
        conferences = (await session.scalars(select(Conference))).all()
        commendations = (await session.scalars(select(Commendation))).all()
    return {
        "campaigns": sorted(
            (c.code, c.name, c.starts_on, c.ends_on, c.cadence, c.due_day)
            for c in campaigns.values()
        ),
        "units": sorted(
            (u.code, u.name, units[u.parent_id].code if u.parent_id else None)
            for u in units.values()
        ),
        "models": sorted(
            (
                m.code,
                campaigns[m.campaign_id].code,
                units[m.unit_id].code,
                m.kind,
                m.collective_name,
                m.title,
                m.title_key,
                fields[m.field_id],
                m.registered_on,
                m.status,
                m.owner_id,
                m.starts_on,
                m.ends_on,
                m.submitted_at,
            )
            for m in models.values()
        ),
        "targets": sorted(
            (
                models[t.model_id].code,
                t.position,
                t.indicator,
                t.unit_of_measure,
                t.target_value,
                t.achieved,
            )
            for t in targets.values()
        ),
        "reports": sorted(
            (
                models[r.model_id].code,
                r.period_start,
                r.period_end,
                r.due_on,
                r.member_id,
                r.late,
                r.submitted_at,
            )
            for r in reports.values()
        ),
        "values": sorted(
            (
                models[reports[v.report_id].model_id].code,
                reports[v.report_id].period_start,
                targets[v.target_id].indicator,
                v.value,
            )
            for v in values
        ),
        "conferences": sorted(
            (units[c.unit_id].code, campaigns[c.campaign_id].code, c.held_on) for c in conferences
        ),
        "commendations": sorted(
            (models[c.model_id].code, c.level, c.status, c.decision_number, c.decided_on)
            for c in commendations
        ),
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


EXPECTED = {
    "campaigns": [
        ("DVK2026", "Dân vận khéo 2026–2027", date(2026, 1, 1), date(2027, 12, 31), "monthly", 25)
    ],
    "units": [
        ("CB-VP", "Chi bộ Văn phòng", "DUK"),
        ("CB-YT", "Chi bộ Y tế", "DUK"),
        ("DUK", "Đảng ủy Khối", None),
    ],
    "models": [
        (
            "MH-001",
            "DVK2026",
            "CB-VP",
            "collective",
            "Chi bộ Văn phòng",
            "Vận động xây nhà đại đoàn kết",
            "vận động xây nhà đại đoàn kết",
            "An sinh xã hội",
            date(2026, 2, 15),
            "approved",
            None,
            date(2026, 2, 15),
            date(2027, 12, 31),
            utc(2026, 2, 14, 17),  # local midnight in Hà Nội
        ),
        (
            "MH-002",
            "DVK2026",
            "CB-YT",
            "individual",
            "Nguyễn Văn An",
            "Chuyển đổi số trong khám bệnh",
            "chuyển đổi số trong khám bệnh",
            "Chuyển đổi số",
            date(2026, 3, 10),
            "approved",
            None,
            date(2026, 3, 10),
            date(2027, 12, 31),
            utc(2026, 3, 9, 17),
        ),
    ],
    "targets": [
        # Target values are not in paper records; running totals add up the results.
        ("MH-001", 1, "nhà đại đoàn kết", "căn", Decimal(0), Decimal(1066)),
        ("MH-001", 2, "tiền vận động", "đồng", Decimal(0), Decimal(130_000_000_000)),
        ("MH-002", 1, "kinh phí tiết kiệm", "đồng", Decimal(0), Decimal(50_000_000)),
        ("MH-002", 2, "giờ chờ giảm", "giờ", Decimal(0), Decimal("2.5")),
    ],
    "reports": [
        # Monthly, due on the 25th: June and September for MH-001, July for MH-002.
        (
            "MH-001",
            date(2026, 6, 1),
            date(2026, 6, 30),
            date(2026, 6, 25),
            None,
            True,  # reported on 30/06, after the due day
            utc(2026, 6, 29, 17),  # the latest of its rows
        ),
        (
            "MH-001",
            date(2026, 9, 1),
            date(2026, 9, 30),
            date(2026, 9, 25),
            None,
            False,
            utc(2026, 9, 14, 17),
        ),
        (
            "MH-002",
            date(2026, 7, 1),
            date(2026, 7, 31),
            date(2026, 7, 25),
            None,
            False,
            utc(2026, 7, 19, 17),
        ),
    ],
    "values": [
        ("MH-001", date(2026, 6, 1), "nhà đại đoàn kết", Decimal(5)),
        ("MH-001", date(2026, 6, 1), "tiền vận động", Decimal(130_000_000_000)),
        ("MH-001", date(2026, 9, 1), "nhà đại đoàn kết", Decimal(1061)),
        ("MH-002", date(2026, 7, 1), "giờ chờ giảm", Decimal("2.5")),
        ("MH-002", date(2026, 7, 1), "kinh phí tiết kiệm", Decimal(50_000_000)),
    ],
    "conferences": [("CB-VP", "DVK2026", date(2027, 10, 19))],
    "commendations": [
        ("MH-001", "dang_uy_khoi", "decided", "123-QĐ/ĐUK", date(2027, 10, 25)),
        ("MH-002", "co_so", "proposed", None, None),
    ],
}


async def import_actions(db) -> list[AuditEntry]:
    async with db.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "import.workbook")
                )
            ).all()
        )


async def cli(*argv: str) -> int:
    # main() runs its own event loop with asyncio.run, so it needs a thread without one.
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def cli_env(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DVK_DATABASE_URL", settings.database_url)
    monkeypatch.chdir(tmp_path)  # no .env from the project directory


async def send_file(client, name: str, content: bytes, **options) -> list[str]:  # type: ignore[no-untyped-def]
    """A file sent at /nhapexcel's step and, when it was taken, its import run to the end in
    the background: what the person read after «đã nhận» (the outcome comes through the
    outbox)."""
    replies = await client.send_document(name, content, **options)
    if replies and replies[-1].startswith(RECEIVED):
        return (await client.settle())[len(replies) :]
    return replies


async def admin_chat(chat):
    admin = chat(ADMIN_ID, "Quản trị")
    [prompt] = await admin.send("/nhapexcel")
    assert prompt.startswith("📥 Gửi tệp Excel (.xlsx)")
    return admin


# --- a clean file ---------------------------------------------------------------------------------


async def test_clean_file_through_the_chat(db, chat):
    admin = await admin_chat(chat)

    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [DONE]

    assert await stored(db) == EXPECTED
    [entry] = await import_actions(db)
    assert entry.details["file"] == "du-lieu.xlsx"
    assert entry.details["sheets"]["Kết quả"] == {"added": 5, "updated": 0, "unchanged": 0}
    async with db.session() as session:
        admin_id = await session.scalar(select(Member.id).where(Member.is_admin.is_(True)))
        conference = await session.scalar(select(Conference))
    assert entry.actor_id == admin_id and conference.recorded_by == admin_id
    # The step is over: a further file is not taken for an import.
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [
        "Hiện bot không cần tệp hay ảnh nào. Gõ /help để xem những việc bạn có thể làm."
    ]


async def test_second_import_of_the_same_file_changes_nothing(db, chat):
    admin = await admin_chat(chat)
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [DONE]
    before = await snapshot(db)

    await admin.send("/nhapexcel")
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [AGAIN]

    assert await snapshot(db) == before  # the audit log included: nothing happened


async def test_a_changed_file_updates_what_changed(db, chat):
    admin = await admin_chat(chat)
    await send_file(admin, "du-lieu.xlsx", workbook(CLEAN))
    changed = {name: [list(row) for row in rows] for name, rows in CLEAN.items()}
    changed["Đơn vị"][3][1] = "Chi bộ Sở Y tế"
    changed["Kết quả"][3][3] = "1.062"  # the value is set, not added
    changed["Khen thưởng"][2][2:] = ["Đã khen", "45-QĐ/CB", "01/11/2027"]

    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, "sua.xlsx", workbook(changed))

    assert "• Đơn vị: thêm mới 0, cập nhật 1, giữ nguyên 2" in reply
    assert "• Kết quả: thêm mới 0, cập nhật 1, giữ nguyên 4" in reply
    assert "• Khen thưởng: thêm mới 0, cập nhật 1, giữ nguyên 1" in reply
    data = await stored(db)
    assert ("MH-001", date(2026, 9, 1), "nhà đại đoàn kết", Decimal(1062)) in data["values"]
    assert ("MH-002", "co_so", "decided", "45-QĐ/CB", date(2027, 11, 1)) in data["commendations"]
    assert ("CB-YT", "Chi bộ Sở Y tế", "DUK") in data["units"]
    assert len(await import_actions(db)) == 2


async def test_clean_file_on_the_command_line_twice(db, cli_env, tmp_path, capsys):
    path = tmp_path / "du-lieu.xlsx"
    path.write_bytes(workbook(CLEAN))

    assert await cli("import", str(path)) == 0
    assert capsys.readouterr().out.strip() == DONE
    assert await stored(db) == EXPECTED
    [entry] = await import_actions(db)
    assert entry.actor_id is None
    before = await snapshot(db)

    assert await cli("import", str(path)) == 0
    assert capsys.readouterr().out.strip() == AGAIN
    assert await snapshot(db) == before


async def test_lookups_are_chunked(db, cli_env, tmp_path, capsys, monkeypatch):
    # PostgreSQL takes at most 32767 parameters a statement: codes are looked up in chunks.
    monkeypatch.setattr(workbook_check, "CHUNK", 1)
    path = tmp_path / "du-lieu.xlsx"
    path.write_bytes(workbook(CLEAN))
    assert await cli("import", str(path)) == 0
    assert await cli("import", str(path)) == 0
    assert capsys.readouterr().out.strip().endswith(AGAIN)
    assert await stored(db) == EXPECTED


# --- a file with problems in every sheet ----------------------------------------------------------

BAD: dict[str, list[list[object]]] = {
    "Đợt phát động": [
        ["DANH SÁCH ĐỢT PHÁT ĐỘNG"],  # a title above the table
        [],
        CAMPAIGN_HEAD,
        ["DVK2026", "Dân vận khéo 2026–2027", "01/01/2026", "31/12/2027"],
        ["DVK-X", "Đợt lỗi", "31/12/2026", "01/01/2026"],
        ["dvk2026", "Trùng mã", "01/01/2026", "31/12/2027"],
    ],
    "Đơn vị": [
        [*UNIT_HEAD, "Ghi chú"],
        ["CB-A", "Chi bộ A", "CB-B", "cột thêm bị bỏ qua"],
        ["CB-B", "Chi bộ B", "CB-A"],
        ["CB-C", "x" * 201, None],
        ["CB-D", "Chi bộ D", None],
    ],
    "Đăng ký": [
        REGISTRATION_HEAD,
        [
            "MH-1",
            "DVK2026",
            "CB-D",
            "Tập thể",
            "Chi bộ D",
            "Mô hình 1",
            "An sinh xã hội",
            "01/03/2026",
        ],
        [
            "MH-1",
            "DVK2026",
            "CB-D",
            "Tập thể",
            "Chi bộ D",
            "Mô hình 2",
            "An sinh xã hội",
            "01/03/2026",
        ],
        ["MH-3", "KHONG", "CB-Z", "Nhóm", "Tổ A", "Mô hình 3", "Thể thao", "31/02/2026"],
        ["MH 4", "DVK2026", "CB-D", "Cá nhân", None, "y" * 201, "An sinh xã hội", 46068],
    ],
    "Kết quả": [
        RESULT_HEAD,
        ["MH-404", "nhà", "căn", 1, "01/06/2026"],
        ["MH-1", "nhà", "căn", "abc", "2026-06-01"],
        ["MH-1", "nhà", "căn", -3, "01/06/2026"],
        ["MH-1", "Nhà", "căn", 2, "01/06/2026"],
        ["MH-1", "nhà", "căn", 3, "20/06/2026"],
    ],
    "Hội nghị": [
        CONFERENCE_HEAD,
        ["CB-D", "DVK2026", "19/10/2027"],
        ["cb-d", "dvk2026", "20/10/2027"],
        ["CB-Q", "DVK9", "20/10/2027"],
    ],
    "Khen thưởng": [
        COMMENDATION_HEAD,
        ["MH-1", "Trung ương", "Đã khen", "1-QĐ", "25/10/2027"],
        ["MH-1", "Cơ sở", "Đã khen", None, "25/10/2027"],
        ["MH-1", "cơ sở", "Đề nghị", None, None],
        ["MH-1", "Đảng ủy Khối", "Xong", None, None],
    ],
}


BAD_REPORT = [
    "Sheet «Đợt phát động», dòng 5: ngày kết thúc 01/01/2026 trước ngày bắt đầu 31/12/2026",
    "Sheet «Đợt phát động», dòng 6: mã đợt «dvk2026» trùng với dòng 4",
    "Sheet «Đơn vị», dòng 2: cấp trên lặp vòng: CB-A → CB-B → CB-A (dòng 2, 3)",
    "Sheet «Đơn vị», dòng 4: tên đơn vị dài 201 ký tự, tối đa 200 ký tự",
    "Sheet «Đăng ký», dòng 3: mã mô hình «MH-1» trùng với dòng 2",
    "Sheet «Đăng ký», dòng 4: «Loại» «Nhóm» không hợp lệ; chọn một trong: Tập thể, Cá nhân",
    "Sheet «Đăng ký», dòng 4: «Ngày đăng ký» «31/02/2026» không phải ngày hợp lệ "
    "(ngày/tháng/năm, ví dụ 19/10/2026)",
    "Sheet «Đăng ký», dòng 4: mã đợt «KHONG» không có trong sheet «Đợt phát động», "
    "cũng không có trong cơ sở dữ liệu",
    "Sheet «Đăng ký», dòng 4: mã đơn vị «CB-Z» không có trong sheet «Đơn vị», "
    "cũng không có trong cơ sở dữ liệu",
    "Sheet «Đăng ký», dòng 4: lĩnh vực «Thể thao» không có trong danh sách lĩnh vực",
    "Sheet «Đăng ký», dòng 5: «Mã mô hình» «MH 4» không hợp lệ (tối đa 32 ký tự: chữ cái "
    "không dấu, chữ số, dấu . _ -, bắt đầu bằng chữ hoặc số)",
    "Sheet «Đăng ký», dòng 5: thiếu «Tên tập thể hoặc cá nhân»",
    "Sheet «Đăng ký», dòng 5: «Tên mô hình» dài 201 ký tự, tối đa 200 ký tự",
    "Sheet «Đăng ký», dòng 5: «Ngày đăng ký» «46068» không phải ngày hợp lệ "
    "(ngày/tháng/năm, ví dụ 19/10/2026)",
    "Sheet «Đăng ký»: các lĩnh vực hiện có: Phát triển kinh tế, giảm nghèo; Phát huy sáng tạo; "
    "Xây dựng kết cấu hạ tầng; Xây dựng tổ chức Đảng, chính quyền, đoàn thể; Nâng cao đạo đức "
    "công vụ; Cải cách hành chính; Xây dựng nông thôn mới, đô thị văn minh; An sinh xã hội; "
    "Chuyển đổi số; Thực hành tiết kiệm, chống lãng phí; Nghiên cứu khoa học",
    "Sheet «Kết quả», dòng 2: mã mô hình «MH-404» không có trong sheet «Đăng ký», "
    "cũng không có trong cơ sở dữ liệu",
    "Sheet «Kết quả», dòng 3: «Giá trị» «abc» không phải số hợp lệ "
    "(ví dụ 1.061; 2,5; 50.000.000 đồng; 130 tỷ)",
    "Sheet «Kết quả», dòng 3: «Ngày báo cáo» «2026-06-01» không phải ngày hợp lệ "
    "(ngày/tháng/năm, ví dụ 19/10/2026)",
    "Sheet «Kết quả», dòng 4: «Giá trị» không được là số âm (-3)",
    "Sheet «Kết quả», dòng 5: kết quả «Nhà» của mô hình «MH-1» cho kỳ 01/06/2026–30/06/2026 "
    "đã có ở dòng 4",
    "Sheet «Kết quả», dòng 6: kết quả «nhà» của mô hình «MH-1» cho kỳ 01/06/2026–30/06/2026 "
    "đã có ở dòng 4",
    "Sheet «Hội nghị», dòng 3: hội nghị của đơn vị «cb-d» trong đợt «dvk2026» đã có ở dòng 2",
    "Sheet «Hội nghị», dòng 4: mã đơn vị «CB-Q» không có trong sheet «Đơn vị», "
    "cũng không có trong cơ sở dữ liệu",
    "Sheet «Hội nghị», dòng 4: mã đợt «DVK9» không có trong sheet «Đợt phát động», "
    "cũng không có trong cơ sở dữ liệu",
    "Sheet «Khen thưởng», dòng 2: «Cấp» «Trung ương» không hợp lệ; chọn một trong: Cơ sở, "
    "Đảng ủy Khối, BCĐ tỉnh, UBND tỉnh",
    "Sheet «Khen thưởng», dòng 3: khen thưởng «Đã khen» cần có: Số quyết định",
    "Sheet «Khen thưởng», dòng 4: khen thưởng cấp «Cơ sở» của mô hình «MH-1» đã có ở dòng 3",
    "Sheet «Khen thưởng», dòng 5: «Trạng thái» «Xong» không hợp lệ; chọn một trong: "
    "Đề nghị, Đã khen",
    "❌ Chưa nhập gì từ «loi.xlsx»: 28 lỗi. Sửa tệp rồi nhập lại.",
]


async def test_every_problem_in_every_sheet_and_nothing_stored(db, cli_env, tmp_path, capsys):
    before = await snapshot(db)
    path = tmp_path / "loi.xlsx"
    path.write_bytes(workbook(BAD))

    assert await cli("import", str(path)) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().split("\n") == BAD_REPORT
    assert await snapshot(db) == before


async def test_problems_in_the_chat_are_capped_and_the_step_stays_open(db, chat):
    admin = await admin_chat(chat)
    many = {name: [list(row) for row in rows] for name, rows in CLEAN.items()}
    many["Kết quả"] += [["MH-404", "nhà", "căn", n, "01/06/2026"] for n in range(60)]

    replies = await send_file(admin, "nhieu-loi.xlsx", workbook(many))

    text = "\n".join(replies)
    assert len(replies) == 2  # over 4.000 characters: split in two messages
    assert all(len(reply) <= 4000 for reply in replies)
    assert text.count("mã mô hình «MH-404» không có") == 50
    assert "Sheet «Kết quả», dòng 7: mã mô hình «MH-404»" in text
    assert "… và 10 lỗi khác" in text
    assert "❌ Chưa nhập gì từ «nhieu-loi.xlsx»: 60 lỗi." in text
    assert text.endswith("Gửi tệp đã sửa, hoặc /huy để thoát.")
    assert (await stored(db))["models"] == []
    # The corrected file, sent at the same step, is imported.
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [DONE]


async def test_missing_sheets_and_headers(db, chat):
    admin = await admin_chat(chat)
    sheets = {
        "Đơn vị": [["Mã đơn vị", "Tên"], ["CB-A", "Chi bộ A"]],
        "Đăng ký": [REGISTRATION_HEAD],
        "kết QUẢ": [RESULT_HEAD],  # sheet names match regardless of case
        "Hội nghị": [["Ngày tổ chức", "Ghi chú"]],
        "Khen thưởng": [["Tiêu đề"], ["Số quyết định"]],
    }

    [reply] = await send_file(admin, "thieu.xlsx", workbook(sheets))

    assert reply.split("\n")[:-3] == [
        "Sheet «Đơn vị», dòng 1: dòng tiêu đề thiếu cột: Tên đơn vị, Mã đơn vị cấp trên",
        "Sheet «Hội nghị», dòng 1: dòng tiêu đề thiếu cột: Mã đơn vị, Mã đợt",
        "Sheet «Khen thưởng», dòng 2: dòng tiêu đề thiếu cột: Mã mô hình, Cấp, Trạng thái, Ngày",
    ]
    assert reply.split("\n")[-3] == "❌ Chưa nhập gì từ «thieu.xlsx»: 3 lỗi. Sửa tệp rồi nhập lại."

    del sheets["Khen thưởng"]
    sheets["Hội nghị"] = [CONFERENCE_HEAD]
    sheets["Đơn vị"] = [UNIT_HEAD, ["", "", ""]]
    [reply] = await send_file(admin, "thieu.xlsx", workbook(sheets))
    assert reply.split("\n")[0] == (
        "thiếu sheet «Khen thưởng» (tệp có các sheet: Đơn vị, Đăng ký, kết QUẢ, Hội nghị)"
    )

    sheets["Khen thưởng"] = [COMMENDATION_HEAD]
    [reply] = await send_file(admin, "trong.xlsx", workbook(sheets))
    assert reply.split("\n")[0] == "trong.xlsx: không có dòng dữ liệu nào"
    assert (await stored(db))["units"] == []


# --- files that are not workbooks, and too big ones -----------------------------------------------


async def test_wrong_files_in_the_chat(db, chat, api):
    admin = await admin_chat(chat)
    prompt_tail = "Gửi tệp Excel (.xlsx) theo mẫu /maunhap"

    for name in ("bao-cao.pdf", "du-lieu.xls", "du-lieu.csv"):
        [reply] = await send_file(admin, name, b"%PDF-1.4 whatever")
        assert reply.startswith(f"⚠️ {name}: chỉ nhận tệp Excel .xlsx"), reply
        assert prompt_tail in reply  # the step is asked again
    [reply] = await send_file(admin, "lon.xlsx", workbook(CLEAN), size=25 * 1024 * 1024)
    assert reply.startswith("⚠️ Tệp «lon.xlsx» nặng 25 MB, bot chỉ nhận tệp đến 20 MB.")
    assert "getFile" not in api.methods()  # none of these was downloaded

    for content in (b"%PDF-1.4 not a zip", b"PK\x03\x04 a broken zip", b"\xd0\xcf\x11\xe0 xls"):
        replies = await send_file(admin, "hong.xlsx", content)
        assert replies[0].startswith(
            "hong.xlsx không phải tệp Excel .xlsx hợp lệ (hãy mở và lưu lại dưới dạng "
            "Excel Workbook .xlsx)"
        ), replies
    assert api.methods().count("downloadFile") == 3

    [reply] = await admin.send("MH-001")  # typed text is not a file
    assert reply.startswith("⚠️ Ở bước này hãy gửi tệp Excel .xlsx dưới dạng tệp đính kèm.")
    [reply] = await admin.send_photo()
    assert reply.startswith("⚠️ Ở bước này hãy gửi tệp Excel .xlsx dưới dạng tệp đính kèm.")
    assert await admin.send("/huy") == [
        "Đã hủy «Nhập dữ liệu từ Excel». Gõ /help để xem các việc khác."
    ]
    assert (await stored(db))["units"] == []


async def test_the_file_is_downloaded_by_the_job_not_in_the_step(db, chat, api):
    """A large file over a slow link: the step answers at once and other people go on (their
    writes too: on SQLite the step would hold the write lock while it downloaded); the download
    runs in the background. One that fails is said so, and another file is asked for."""
    admin = await admin_chat(chat)
    api.downloads_held = asyncio.Event()
    replies = await asyncio.wait_for(admin.send_document("du-lieu.xlsx", workbook(CLEAN)), 10)
    assert replies[-1].startswith(RECEIVED)
    # Someone new meanwhile (their identity is written): answered while the download waits.
    assert await asyncio.wait_for(chat(4242, "Người mới").send("/start"), 10)
    assert api.methods().count("downloadFile") == 1
    api.downloads_held.set()
    assert (await admin.settle())[len(replies) :] == [DONE]
    assert await stored(db) == EXPECTED

    # The file is gone from Telegram by the time it is downloaded (a 404).
    await admin.send("/nhapexcel")
    api.downloads_held = asyncio.Event()
    replies = await admin.send_document("mat.xlsx", workbook(CLEAN))
    assert replies[-1].startswith(RECEIVED)
    api.files.clear()
    api.downloads_held.set()
    [failed] = (await admin.settle())[len(replies) :]
    assert failed.startswith("⚠️ Không tải được tệp «mat.xlsx»; vui lòng gửi lại.\n\n")
    assert failed.endswith("Gửi tệp đã sửa, hoặc /huy để thoát.")
    # The step is still open: the next file is taken.
    api.downloads_held = None
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [AGAIN]


async def test_wrong_files_on_the_command_line(db, cli_env, tmp_path, capsys):
    missing = tmp_path / "khong-co.xlsx"
    assert await cli("import", str(missing)) == 1
    assert f"{missing}: không tìm thấy tệp" in capsys.readouterr().err

    pdf = tmp_path / "bao-cao.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert await cli("import", str(pdf)) == 1
    assert "bao-cao.pdf: chỉ nhận tệp Excel .xlsx" in capsys.readouterr().err

    broken = tmp_path / "hong.xlsx"
    broken.write_bytes(workbook(CLEAN)[:500])  # a zip cut short
    assert await cli("import", str(broken)) == 1
    err = capsys.readouterr().err
    assert "hong.xlsx không phải tệp Excel .xlsx hợp lệ" in err
    assert "chưa nhập gì: 1 lỗi" in err
    assert (await stored(db))["units"] == []


# --- who may import -------------------------------------------------------------------------------


async def test_only_admins_may_import(db, chat, clock, api):
    async with db.session() as session:
        unit = await add_unit(
            session, code="CB-VP", name="Chi bộ Văn phòng", parent_id=None, now=clock()
        )
    await make_coordinator(db, unit_id=unit.id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    assert await coordinator.send("/nhapexcel") == [NOT_ALLOWED]
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id="9002",
            chat_id="9002",
            display_name=None,
            now=clock(),
        )
        await add_membership(
            session, member_id=identity.member_id, unit_id=unit.id, role="member", now=clock()
        )
    member = chat(9002, "Thành viên")
    assert await member.send("/nhapexcel") == [NOT_ALLOWED]

    # A document sent by someone with no import open is not read.
    idle = "Hiện bot không cần tệp hay ảnh nào. Gõ /help để xem những việc bạn có thể làm."
    assert await send_file(member, "du-lieu.xlsx", workbook(CLEAN)) == [idle]
    assert await send_file(coordinator, "du-lieu.xlsx", workbook(CLEAN)) == [idle]
    assert await send_file(chat(9003, "Khách"), "du-lieu.xlsx", workbook(CLEAN)) == [idle]
    assert "getFile" not in api.methods()
    assert (await stored(db))["models"] == []


async def test_an_admin_who_loses_the_right_mid_way_imports_nothing(db, chat, clock, api):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id="2000",
            chat_id="2000",
            display_name=None,
            now=clock(),
        )
        identity.member.is_admin = True
        member_id = identity.member_id
    admin = chat(2000, "Quản trị 2")
    [prompt] = await admin.send("/nhapexcel")
    assert prompt.startswith("📥")
    async with db.session() as session:
        (await session.get(Member, member_id)).is_admin = False

    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [
        "Bạn không còn quyền thực hiện «Nhập dữ liệu từ Excel», nên phiên nhập đã được hủy."
    ]
    assert "getFile" not in api.methods()
    assert (await stored(db))["units"] == []


# --- what an export adds, and models that cannot move ---------------------------------------------


async def test_the_export_layout_imports_back(db, chat):
    """An export adds a "Trạng thái" column and admins' question columns to "Đăng ký" and a
    "Chỉ tiêu" sheet with the targets; an import reads them back (the questions are ignored)."""
    exported = {name: [list(row) for row in rows] for name, rows in CLEAN.items()}
    exported["Đăng ký"][0] += ["Trạng thái", "Số hộ được hỗ trợ"]
    exported["Đăng ký"][1] += ["Đang thực hiện", 12]
    exported["Đăng ký"][3] += [" đã HOÀN thành", None]
    exported["Chỉ tiêu"] = [
        TARGET_HEAD,
        ["MH-001", "Nhà đại đoàn kết", "căn", 10],
        ["MH-001", "tiền vận động", "đồng", "150 tỷ"],
        ["MH-002", "kinh phí tiết kiệm", "đồng", "60 triệu"],
    ]
    admin = await admin_chat(chat)

    [reply] = await send_file(admin, "xuat.xlsx", workbook(exported))

    assert "• Chỉ tiêu: thêm mới 3, cập nhật 0, giữ nguyên 0" in reply
    data = await stored(db)
    assert [(m[0], m[9]) for m in data["models"]] == [
        ("MH-001", "in_progress"),
        ("MH-002", "completed"),
    ]
    assert data["targets"] == [
        ("MH-001", 1, "Nhà đại đoàn kết", "căn", Decimal(10), Decimal(1066)),
        ("MH-001", 2, "tiền vận động", "đồng", Decimal(150_000_000_000), Decimal(130_000_000_000)),
        ("MH-002", 1, "kinh phí tiết kiệm", "đồng", Decimal(60_000_000), Decimal(50_000_000)),
        # known from a result only
        ("MH-002", 2, "giờ chờ giảm", "giờ", Decimal(0), Decimal("2.5")),
    ]
    before = await snapshot(db)
    await admin.send("/nhapexcel")
    [again] = await send_file(admin, "xuat.xlsx", workbook(exported))
    assert again.startswith("✅ «xuat.xlsx» không có gì mới")
    assert "• Chỉ tiêu: thêm mới 0, cập nhật 0, giữ nguyên 3" in again
    assert await snapshot(db) == before

    # Without the status column, a stored model keeps its status.
    await admin.send("/nhapexcel")
    [paper] = await send_file(admin, "du-lieu.xlsx", workbook(CLEAN))
    assert paper.startswith("✅ «du-lieu.xlsx» không có gì mới")


async def test_a_model_cannot_move_to_another_campaign(db, chat):
    admin = await admin_chat(chat)
    await send_file(admin, "du-lieu.xlsx", workbook(CLEAN))
    moved = {name: [list(row) for row in rows] for name, rows in CLEAN.items()}
    moved["Đợt phát động"].append(["DVK2028", "Dân vận khéo 2028", "01/01/2028", "31/12/2028"])
    moved["Đăng ký"][1][1] = "DVK2028"
    moved["Đăng ký"][3][7] = "01/01/2028"  # registered after DVK2026 ended

    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, "doi-dot.xlsx", workbook(moved))

    assert reply.split("\n")[:2] == [
        "Sheet «Đăng ký», dòng 2: mô hình «MH-001» đã thuộc đợt «DVK2026», không chuyển sang "
        "đợt «DVK2028» được",
        "Sheet «Đăng ký», dòng 4: ngày đăng ký 01/01/2028 sau khi đợt «dvk2026» kết thúc "
        "(31/12/2027)",
    ]
    assert (await stored(db))["campaigns"] == EXPECTED["campaigns"]


async def test_the_terminal_sends_a_local_file(db, core, clock, tmp_path):
    from bot.terminal import TerminalChat

    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="terminal",
            external_id="admin",
            chat_id="admin",
            display_name=None,
            now=clock(),
        )
        identity.member.is_admin = True
    path = tmp_path / "du-lieu.xlsx"
    path.write_bytes(workbook(CLEAN))
    shown: list[str] = []
    terminal = TerminalChat(core, "admin", shown.append)

    await terminal.say("/nhapexcel")
    await terminal.say(f"@{tmp_path / 'khong-co.xlsx'}")
    assert shown[-1] == f"(không có tệp {tmp_path / 'khong-co.xlsx'})"
    await terminal.say(f"@{path}")

    # The outcome comes through the outbox, shown with the terminal's mark for those.
    assert "🔔 " + DONE in shown
    assert await stored(db) == EXPECTED


async def test_results_continued_past_the_row_limit_are_read(db, chat):
    """An export of more than a million results goes on in "Kết quả (2)": both sheets are
    read, and a problem there is named by that sheet."""
    split = dict(CLEAN)
    split["Kết quả"] = CLEAN["Kết quả"][:3]
    split["Kết quả (2)"] = [RESULT_HEAD, *CLEAN["Kết quả"][3:]]
    admin = await admin_chat(chat)
    assert await send_file(admin, "du-lieu.xlsx", workbook(split)) == [DONE]
    assert await stored(db) == EXPECTED

    wrong = dict(split)
    wrong["Kết quả (2)"] = [*split["Kết quả (2)"], ["MH-404", "nhà", "căn", 1, "15/06/2026"]]
    await admin.send("/nhapexcel")
    wrong["Kết quả"] = [*split["Kết quả"], ["MH-405", "nhà", "căn", 1, "15/06/2026"]]
    replies = await send_file(admin, "du-lieu.xlsx", workbook(wrong))
    # In the order of the file: the first part's problems, then the continued sheet's.
    first = replies[0].index("Sheet «Kết quả», dòng 4:")
    assert first < replies[0].index("Sheet «Kết quả (2)», dòng 5:")


async def test_a_file_never_changes_what_a_member_registered_in_the_chat(db, chat, clock):
    """Codes are shared by paper records and the bot ("MH1"): a file may repeat a model
    registered in the chat (its own export does) but not change it or its reports."""
    from bot.demo import seed
    from tests.test_registration import join, register_quickly

    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        mine = await session.scalar(select(Model))
    assert mine.code == "MH1"
    row = [
        "MH1",
        "DVK-DEMO",
        "CB-VP",
        "Cá nhân",
        "Nguyễn Văn An",
        "Chuyển đổi số trong giảng dạy",
        "Chuyển đổi số",
        clock().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().strftime("%d/%m/%Y"),
    ]
    empty = {
        "Đơn vị": [UNIT_HEAD],
        "Kết quả": [RESULT_HEAD],
        "Hội nghị": [CONFERENCE_HEAD],
        "Khen thưởng": [COMMENDATION_HEAD],
    }
    admin = await admin_chat(chat)
    same = {**empty, "Đăng ký": [REGISTRATION_HEAD, row]}
    [reply] = await send_file(admin, "lai.xlsx", workbook(same))
    assert "• Đăng ký: thêm mới 0, cập nhật 0, giữ nguyên 1" in reply

    changed = {
        **empty,
        "Đăng ký": [REGISTRATION_HEAD, [*row[:5], "Tên khác hẳn", *row[6:]]],
        "Kết quả": [RESULT_HEAD, ["MH1", "bài giảng điện tử", "bài", 5, "15/12/2026"]],
    }
    before = await snapshot(db)
    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, "sua.xlsx", workbook(changed))
    assert "Sheet «Đăng ký», dòng 2: mô hình «MH1» do thành viên đăng ký trong bot" in reply
    assert "Sheet «Kết quả», dòng 2: kết quả của mô hình «MH1» do thành viên báo cáo" in reply
    assert await snapshot(db) == before

    # Nor its targets, even when the registration row repeats it unchanged.
    targets = {
        **same,
        "Chỉ tiêu": [
            TARGET_HEAD,
            ["MH1", "bài giảng điện tử", "bài", 5],
            ["MH1", "chỉ tiêu mới", "cái", 9],
        ],
    }
    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, "chi-tieu.xlsx", workbook(targets))
    assert "Sheet «Chỉ tiêu», dòng 2: mô hình «MH1» do thành viên đăng ký trong bot" in reply
    assert "Sheet «Chỉ tiêu», dòng 3: mô hình «MH1»" in reply
    assert await snapshot(db) == before


async def test_imported_models_can_be_reviewed_and_evaluated(db, chat):
    """A paper record waiting for review or completed has no owner in the chat: it still
    appears in /duyet and /danhgia, and deciding on it tells nobody."""
    sheets = dict(CLEAN)
    sheets["Đăng ký"] = [
        [*REGISTRATION_HEAD, "Trạng thái"],
        [*CLEAN["Đăng ký"][1], "Chờ duyệt"],
        [*CLEAN["Đăng ký"][3], "Đã hoàn thành"],
    ]
    admin = await admin_chat(chat)
    await send_file(admin, "du-lieu.xlsx", workbook(sheets))
    replies = await admin.send("/duyet")
    assert "Vận động xây nhà đại đoàn kết" in replies[0]
    assert (await admin.click("✅ Duyệt"))[0].startswith("Đã duyệt")
    replies = await admin.send("/danhgia")
    assert "Chuyển đổi số trong khám bệnh" in " ".join(admin.buttons())
    async with db.session() as session:
        statuses = dict((await session.execute(select(Model.code, Model.status))).all())
        queued = await session.scalar(
            select(func.count()).where(
                OutboxMessage.key.not_like("job:%")
            )  # but the import's outcome
        )
    assert statuses == {"MH-001": "approved", "MH-002": "completed"}
    assert queued == 0


async def test_a_draft_is_not_importable(db, chat):
    sheets = dict(CLEAN)
    sheets["Đăng ký"] = [[*REGISTRATION_HEAD, "Trạng thái"], [*CLEAN["Đăng ký"][1], "Bản nháp"]]
    admin = await admin_chat(chat)
    [reply] = await send_file(admin, "du-lieu.xlsx", workbook(sheets))
    assert "Sheet «Đăng ký», dòng 2:" in reply and "Bản nháp" in reply


async def test_paper_results_without_targets_read_as_totals(db, chat):
    admin = await admin_chat(chat)
    await send_file(admin, "du-lieu.xlsx", workbook(CLEAN))
    stats = (await thongke(admin, "DVK2026"))[0]
    assert "  – nhà đại đoàn kết: 1.066 căn" in stats.splitlines()
    assert "  – tiền vận động: 130 tỷ đồng" in stats.splitlines()
    assert "/0" not in stats


async def test_a_code_given_in_the_chat_never_takes_an_imported_one(db, chat, clock):
    from bot.demo import seed
    from tests.test_registration import join, register_quickly

    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    paper = [
        "mh2",  # the code the next registration (id 2) would get, in another case
        "DVK-DEMO",
        "CB-VP",
        "Tập thể",
        "Tổ hồ sơ",
        "Số hóa hồ sơ giấy",
        "Chuyển đổi số",
        "01/12/2026",
    ]
    sheets = {
        "Đơn vị": [UNIT_HEAD],
        "Đăng ký": [REGISTRATION_HEAD, paper],
        "Kết quả": [RESULT_HEAD],
        "Hội nghị": [CONFERENCE_HEAD],
        "Khen thưởng": [COMMENDATION_HEAD],
    }
    admin = await admin_chat(chat)
    await send_file(admin, "giay.xlsx", workbook(sheets))
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    async with db.session() as session:
        codes = dict((await session.execute(select(Model.id, Model.code))).all())
    assert codes == {1: "mh2", 2: "MH2-2"}


async def test_a_collective_named_with_invisible_fillers_is_refused(db, chat):
    """The chat's readability rule holds for names that come in a file too."""
    sheets = dict(CLEAN)
    row = list(CLEAN["Đăng ký"][1])
    row[4] = "\u3164\u3164 Chi bộ"
    sheets["Đăng ký"] = [REGISTRATION_HEAD, row]
    admin = await admin_chat(chat)
    before = await snapshot(db)
    [reply] = await send_file(admin, "du-lieu.xlsx", workbook(sheets))
    assert "Sheet «Đăng ký», dòng 2: «Tên tập thể hoặc cá nhân» không đọc được" in reply
    assert await snapshot(db) == before


async def test_a_text_amount_is_read_in_its_rows_unit(db, chat):
    """As in the chat: «1,5 tỷ» in «triệu đồng» is 1.500 of them, and money is not a count."""
    sheets = dict(CLEAN)
    sheets["Kết quả"] = [
        RESULT_HEAD,
        ["MH-002", "kinh phí tiết kiệm", "triệu đồng", "1,5 tỷ", "20/07/2026"],
        ["MH-002", "giờ chờ giảm", "giờ", "2,5", "20/07/2026"],
    ]
    admin = await admin_chat(chat)
    [reply] = await send_file(admin, "du-lieu.xlsx", workbook(sheets))
    assert "• Kết quả: thêm mới 2, cập nhật 0, giữ nguyên 0" in reply
    async with db.session() as session:
        values = sorted((await session.scalars(select(ReportValue.value))).all())
    assert values == [Decimal("2.5"), Decimal(1500)]

    sheets["Kết quả"] = [
        RESULT_HEAD,
        ["MH-002", "giờ chờ giảm", "giờ", "50.000.000 đồng", "21/07/2026"],
    ]
    await admin.send("/nhapexcel")
    [reply] = await send_file(admin, "du-lieu.xlsx", workbook(sheets))
    assert "Sheet «Kết quả», dòng 2:" in reply and "«50.000.000 đồng» không phải số" in reply
