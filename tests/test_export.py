"""The Excel export: /xuatexcel in the chat (progress edited, the file sent), `dvk export`, the
layout an import reads back, a coordinator's units only, and who may export at all."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select, update

from bot.cli import main
from excel.export import ExportScope, export_workbook
from excel.export_summary import SUMMARY_HEADERS
from excel.layout import SHEETS, SUMMARY_SHEET, TARGETS_SHEET
from excel.sheet_writer import SheetWriter
from handlers.coordinator import export as export_handler
from handlers.core.jobs import Throttle, run_job
from handlers.core.types import Inbound, Outbound
from storage.db import Database
from storage.models import (
    AuditEntry,
    Campaign,
    Commendation,
    Conference,
    Field,
    Member,
    Model,
    Report,
    ReportValue,
    Target,
)
from storage.records.campaigns import add_campaign
from storage.records.people import add_membership, get_or_create_identity
from storage.records.reports import refresh_achieved
from storage.records.units import add_unit, unit_by_code
from storage.stats import OrganisationStats, organisation_stats
from tests.conftest import ADMIN_ID, PG_URL, _truncate_postgres, make_coordinator

NOT_ALLOWED = "Bạn không có quyền thực hiện việc này."
QUESTIONS = [
    {"id": "q1", "form": "registration", "kind": "number", "label": "Số hộ hưởng lợi"},
    {"id": "q2", "form": "registration", "kind": "date", "label": "Ngày khởi công"},
    {"id": "q3", "form": "registration", "kind": "text", "label": "Ghi chú"},
    {"id": "q4", "form": "report", "kind": "text", "label": "Khó khăn khác"},
]


def at(day: date, hour: int = 3) -> datetime:
    """A UTC moment on that day (10:00 in Hà Nội)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def build_data(db, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """Units in two trees, two campaigns, models of both kinds in several fields and statuses,
    targets, reports with values (one late, sent after its period), a conference and
    commendations proposed and decided. Nothing the layout cannot carry (members, evaluations,
    drafts), so that an import gives back the same statistics."""
    async with db.session() as session:
        duk = await add_unit(session, code="DUK", name="Đảng ủy Khối", parent_id=None, now=now)
        vp = await add_unit(
            session, code="CB-VP", name="Chi bộ Văn phòng", parent_id=duk.id, now=now
        )
        tc = await add_unit(session, code="CB-TC", name="Chi bộ Tổ chức", parent_id=duk.id, now=now)
        other = await add_unit(
            session, code="DB-X", name="Đảng bộ Xây dựng", parent_id=None, now=now
        )
        dvk26 = await add_campaign(
            session,
            code="DVK26",
            name="Dân vận khéo 2026–2027",
            starts_on=date(2026, 1, 1),
            ends_on=date(2027, 12, 31),
            now=now,
        )
        dvk26.questions = QUESTIONS
        dvk24 = await add_campaign(
            session,
            code="DVK24",
            name="Dân vận khéo 2024–2025",
            starts_on=date(2024, 1, 1),
            ends_on=date(2025, 12, 31),
            now=now,
        )
        # A rhythm and window of its own, which the round trip must keep.
        dvk24.cadence, dvk24.due_day = "quarterly", 20
        dvk24.registration_opens_on = date(2024, 1, 1)
        dvk24.registration_closes_on = date(2024, 3, 31)
        fields = {f.name: f.id for f in (await session.scalars(select(Field))).all()}
        owner = Member(full_name="Trần Thị Bình", created_at=now)
        session.add(owner)
        await session.flush()

        async def model(code, campaign, unit, kind, status, field, name=None, **extra):  # type: ignore[no-untyped-def]
            row = Model(
                code=code,
                campaign_id=campaign.id,
                owner_id=None if name else owner.id,
                unit_id=unit.id,
                kind=kind,
                collective_name=name,
                title=f"Mô hình {code}",
                title_key=f"mô hình {code.lower()}",
                field_id=fields[field],
                approach="Cách làm",
                objectives="Mục tiêu",
                starts_on=campaign.starts_on,
                ends_on=campaign.ends_on,
                status=status,
                extra=extra,
                registered_on=date(campaign.starts_on.year, 2, 15),
                submitted_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            return row

        async def target(row, position, indicator, measure, value):  # type: ignore[no-untyped-def]
            item = Target(
                model_id=row.id,
                position=position,
                indicator=indicator,
                unit_of_measure=measure,
                target_value=Decimal(value),
            )
            session.add(item)
            await session.flush()
            return item

        async def report(row, month, sent, values, *, late=False, said=(None, None)):  # type: ignore[no-untyped-def]
            start = date(2026, month, 1)
            end = date(2026, month + 1, 1).replace(day=1) if month < 12 else date(2027, 1, 1)
            item = Report(
                model_id=row.id,
                member_id=None,
                period_start=start,
                period_end=date.fromordinal(end.toordinal() - 1),
                due_on=date(2026, month, 25),
                done_text="Đã làm",
                difficulties=said[0],
                proposals=said[1],
                late=late,
                completed=False,
                replaced=0,
                extra={},
                submitted_at=at(sent),
            )
            session.add(item)
            await session.flush()
            for target_row, value in values:
                session.add(
                    ReportValue(report_id=item.id, target_id=target_row.id, value=Decimal(value))
                )
            await session.flush()

        mh1 = await model(
            "MH1", dvk26, vp, "collective", "in_progress", "An sinh xã hội", "Chi bộ Văn phòng"
        )
        houses = await target(mh1, 1, "Nhà đại đoàn kết", "căn", 5)
        money = await target(mh1, 2, "tiền vận động", "đồng", 50_000_000)
        await report(mh1, 10, date(2026, 10, 20), [(houses, 2), (money, "12500000.5")])
        # An answer to the campaign's own report question (q4).
        october = await session.scalar(select(Report).where(Report.model_id == mh1.id))
        october.extra = {"questions": {"q4": "Mưa bão kéo dài"}}
        # Sent on 02/12 for November: late, and kept in November by the export's date.
        await report(mh1, 11, date(2026, 12, 2), [(houses, 1), (money, 7_000_000)], late=True)
        mh2 = await model("MH2", dvk26, tc, "individual", "evaluated", "Cải cách hành chính")
        files = await target(mh2, 1, "hồ sơ giải quyết đúng hạn", "hồ sơ", 100)
        await report(
            mh2, 9, date(2026, 9, 10), [(files, 100)], said=("Thiếu máy scan", "Cấp thêm máy")
        )
        await model("MH3", dvk26, vp, "individual", "approved", "Chuyển đổi số", "Lê Văn Cường")
        mh4 = await model("MH4", dvk26, other, "collective", "rejected", "An sinh xã hội", "Tổ 4")
        await target(mh4, 1, "Nhà đại đoàn kết", "căn", 999)
        await model(
            "MH5",
            dvk26,
            other,
            "individual",
            "submitted",
            "Cải cách hành chính",
            questions={"q1": "1500000", "q2": "2026-03-15", "q3": "=Đợt đầu"},
        )
        mh6 = await model("MH6", dvk26, duk, "collective", "completed", "An sinh xã hội", "Ban")
        mh6.registered_on = None  # registered before the date was kept: the day it was sent
        meals = await target(mh6, 1, "suất quà", "suất", 300)
        await report(mh6, 6, date(2026, 6, 28), [(meals, 120)], late=True)
        await model("MH7", dvk24, vp, "collective", "approved", "Chuyển đổi số", "Chi bộ VP")
        session.add(
            Conference(
                unit_id=vp.id, campaign_id=dvk26.id, held_on=date(2027, 10, 19), recorded_at=now
            )
        )
        await refresh_achieved(session, target_ids=[houses.id, money.id, files.id, meals.id])
        session.add_all(
            [
                Commendation(
                    model_id=mh2.id,
                    level="co_so",
                    status="decided",
                    decision_number="12-QĐ/CB",
                    decided_on=date(2026, 11, 1),
                    recorded_at=now,
                ),
                Commendation(
                    model_id=mh2.id, level="dang_uy_khoi", status="proposed", recorded_at=now
                ),
                Commendation(
                    model_id=mh1.id,
                    level="dang_uy_khoi",
                    status="decided",
                    decision_number="45-QĐ/ĐUK",
                    decided_on=date(2027, 10, 25),
                    recorded_at=now,
                ),
            ]
        )


@pytest.fixture
async def data(db, clock):
    await build_data(db, clock())


async def finish_jobs(app) -> None:  # type: ignore[no-untyped-def]
    """Wait for the background jobs the adapter started (no sleeping)."""
    await asyncio.gather(*app.bot_data.get("jobs", {}).values())


def sent_workbook(api, chat_id: int):  # type: ignore[no-untyped-def]
    call = next(
        c for c in api.calls if c.method == "sendDocument" and int(c.params["chat_id"]) == chat_id
    )
    name, content = call.params["_files"]["document"]
    return name, load_workbook(BytesIO(content))


def rows(book, sheet: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(row) for row in book[sheet].iter_rows(min_row=2, values_only=True)]


def column(book, sheet: str, header: str) -> list:  # type: ignore[no-untyped-def]
    headers = [cell.value for cell in book[sheet][1]]
    return [row[headers.index(header)] for row in rows(book, sheet)]


# --- in the chat ------------------------------------------------------------------------------


async def test_admin_export_has_the_layout_progress_and_the_file(data, chat, api, app, db):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/xuatexcel") == ["⏳ Đang tạo tệp Excel…"]
    first = admin.last_message()
    await finish_jobs(app)

    edits = [c for c in api.calls if c.method == "editMessageText"]
    assert edits and all(int(c.params["message_id"]) == first["message_id"] for c in edits)
    assert edits[-1].params["text"].startswith("⏳ Đang tạo tệp Excel: đã ghi ")
    done, total = edits[-1].params["text"].rsplit(" ", 2)[1].split("/")
    assert done == total
    assert api.sent(ADMIN_ID)[-1].params["text"] == "✅ Xong: 7 mô hình, 4 báo cáo."

    name, book = sent_workbook(api, ADMIN_ID)
    assert name == "dan-van-kheo-2026-11-26.xlsx"
    layout = [sheet for sheet, _, _ in SHEETS]
    assert book.sheetnames == [*layout, TARGETS_SHEET[0], "Trả lời báo cáo", SUMMARY_SHEET]
    assert [c.value for c in book["Trả lời báo cáo"][1]] == [
        "Mã mô hình",
        "Ngày báo cáo",
        "Câu hỏi",
        "Trả lời",
    ]
    assert rows(book, "Trả lời báo cáo") == [
        ("MH1", datetime(2026, 10, 20), "Khó khăn khác", "Mưa bão kéo dài")
    ]
    for sheet, headers, _ in SHEETS:
        found = [cell.value for cell in book[sheet][1]]
        extra = ["Trạng thái", "Số hộ hưởng lợi", "Ngày khởi công", "Ghi chú"]
        rhythm = ["Chu kỳ báo cáo", "Ngày hạn báo cáo", "Mở đăng ký", "Đóng đăng ký"]
        dates = ["Hoạt động từ", "Hoạt động đến"]
        said = ["Nội dung báo cáo", "Khó khăn", "Đề xuất"]
        optional = {"Đăng ký": extra, "Đợt phát động": rhythm, "Đơn vị": dates, "Kết quả": said}
        assert found == headers + optional.get(sheet, [])
    assert [c.value for c in book[TARGETS_SHEET[0]][1]] == TARGETS_SHEET[1]
    assert [c.value for c in book[SUMMARY_SHEET][1]] == SUMMARY_HEADERS

    assert rows(book, "Đợt phát động") == [
        DVK24_ROW,
        (
            "DVK26",
            "Dân vận khéo 2026–2027",
            datetime(2026, 1, 1),
            datetime(2027, 12, 31),
            "Hằng tháng",
            25,
            None,
            None,
        ),
    ]
    assert book["Đợt phát động"]["C2"].number_format == "dd/mm/yyyy"
    # Parents before their children.
    assert rows(book, "Đơn vị") == [
        ("DB-X", "Đảng bộ Xây dựng", None, None, None),
        ("DUK", "Đảng ủy Khối", None, None, None),
        ("CB-TC", "Chi bộ Tổ chức", "DUK", None, None),
        ("CB-VP", "Chi bộ Văn phòng", "DUK", None, None),
    ]
    registrations = {row[0]: row for row in rows(book, "Đăng ký")}
    assert registrations["MH1"][:9] == (
        "MH1",
        "DVK26",
        "CB-VP",
        "Tập thể",
        "Chi bộ Văn phòng",
        "Mô hình MH1",
        "An sinh xã hội",
        datetime(2026, 2, 15),
        "Đang thực hiện",
    )
    assert registrations["MH2"][3:5] == ("Cá nhân", "Trần Thị Bình")  # the owner's name
    assert registrations["MH3"][4] == "Lê Văn Cường"
    assert registrations["MH4"][8] == "Không duyệt"
    # Answers to the campaign's own questions: a number, a date, a text that stays text.
    assert registrations["MH5"][9:] == (1500000, datetime(2026, 3, 15), "=Đợt đầu")
    assert registrations["MH7"][9:] == (None, None, None)
    assert registrations["MH6"][7] == datetime(2026, 11, 26)

    # What each report said follows the layout's columns, on each of its rows.
    said = ("Đã làm", None, None)
    assert rows(book, "Kết quả") == [
        ("MH1", "Nhà đại đoàn kết", "căn", 2, datetime(2026, 10, 20), *said),
        ("MH1", "tiền vận động", "đồng", 12500000.5, datetime(2026, 10, 20), *said),
        ("MH1", "Nhà đại đoàn kết", "căn", 1, datetime(2026, 11, 30), *said),
        ("MH1", "tiền vận động", "đồng", 7000000, datetime(2026, 11, 30), *said),
        (
            "MH2",
            "hồ sơ giải quyết đúng hạn",
            "hồ sơ",
            100,
            datetime(2026, 9, 10),
            "Đã làm",
            "Thiếu máy scan",
            "Cấp thêm máy",
        ),
        ("MH6", "suất quà", "suất", 120, datetime(2026, 6, 28), *said),
    ]
    assert book["Kết quả"]["E2"].number_format == "dd/mm/yyyy"
    assert rows(book, "Hội nghị") == [("CB-VP", "DVK26", datetime(2027, 10, 19))]
    assert rows(book, "Khen thưởng") == [
        ("MH1", "Đảng ủy Khối", "Đã khen", "45-QĐ/ĐUK", datetime(2027, 10, 25)),
        ("MH2", "Cơ sở", "Đã khen", "12-QĐ/CB", datetime(2026, 11, 1)),
        ("MH2", "Đảng ủy Khối", "Đề nghị", None, None),
    ]
    assert ("MH4", "Nhà đại đoàn kết", "căn", 999) in rows(book, TARGETS_SHEET[0])
    assert len(rows(book, TARGETS_SHEET[0])) == 5

    summary = {row[0]: row for row in rows(book, SUMMARY_SHEET)}
    # Own figures of each unit; the rejected MH4 is not counted; the conference date is a date.
    assert summary["CB-VP"] == (
        "CB-VP",
        "Chi bộ Văn phòng",
        0,
        2,
        1,
        None,
        2,
        datetime(2027, 10, 19),
        1,
    )
    assert summary["DB-X"][3:5] == (0, 1)
    assert summary[None] == (None, "Tổng cộng", 0, 3, 3, None, 4, datetime(2027, 10, 19), 2)

    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "export.created")
        )
    assert entry.details == {"campaign": None, "units": None, "models": 7, "reports": 4}


DVK24_ROW = (
    "DVK24",
    "Dân vận khéo 2024–2025",
    datetime(2024, 1, 1),
    datetime(2025, 12, 31),
    "Hằng quý",
    20,
    datetime(2024, 1, 1),
    datetime(2024, 3, 31),
)


async def test_export_of_one_campaign(data, chat, api, app):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/xuatexcel KHONGCO") == ["Không có đợt phát động mã KHONGCO."]
    await admin.send("/xuatexcel dvk24")
    await finish_jobs(app)
    name, book = sent_workbook(api, ADMIN_ID)
    assert name == "dan-van-kheo-DVK24-2026-11-26.xlsx"
    assert rows(book, "Đợt phát động") == [DVK24_ROW]
    assert column(book, "Đăng ký", "Mã mô hình") == ["MH7"]
    assert rows(book, "Kết quả") == [] and rows(book, "Hội nghị") == []
    assert api.sent(ADMIN_ID)[-1].params["text"] == "✅ Xong: 1 mô hình, 0 báo cáo."


async def test_coordinator_exports_only_their_units(data, chat, api, app, db, clock):
    async with db.session() as session:
        duk = await unit_by_code(session, code="DUK")
        vp = await unit_by_code(session, code="CB-VP")
    await make_coordinator(db, unit_id=duk.id, telegram_id=9001, now=clock())
    await make_coordinator(db, unit_id=vp.id, telegram_id=9002, now=clock())

    await chat(9001, "Phụ trách khối").send("/xuatexcel")
    await finish_jobs(app)
    _, book = sent_workbook(api, 9001)
    # Sub-units come with the unit held; DB-X is not theirs.
    assert [row[0] for row in rows(book, "Đơn vị")] == ["DUK", "CB-TC", "CB-VP"]
    assert sorted(column(book, "Đăng ký", "Mã mô hình")) == ["MH1", "MH2", "MH3", "MH6", "MH7"]
    assert {row[0] for row in rows(book, TARGETS_SHEET[0])} == {"MH1", "MH2", "MH6"}
    assert [row[0] for row in rows(book, SUMMARY_SHEET)] == ["DUK", "CB-TC", "CB-VP", None]

    await chat(9002, "Phụ trách VP").send("/xuatexcel DVK26")
    await finish_jobs(app)
    _, book = sent_workbook(api, 9002)
    # The parent as it is.
    assert rows(book, "Đơn vị") == [("CB-VP", "Chi bộ Văn phòng", "DUK", None, None)]
    assert sorted(column(book, "Đăng ký", "Mã mô hình")) == ["MH1", "MH3"]
    assert {row[0] for row in rows(book, "Kết quả")} == {"MH1"}
    assert {row[0] for row in rows(book, "Khen thưởng")} == {"MH1"}
    assert rows(book, "Hội nghị") == [("CB-VP", "DVK26", datetime(2027, 10, 19))]
    assert api.sent(9002)[-1].params["text"] == "✅ Xong: 2 mô hình, 2 báo cáo."


@pytest.mark.parametrize("command", ["xuatexcel", "xuatanh"])  # the records, the photos
async def test_members_and_guests_are_refused(data, chat, api, app, db, clock, command):
    async with db.session() as session:
        vp = await unit_by_code(session, code="CB-VP")
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id="7001",
            chat_id="7001",
            display_name=None,
            now=clock(),
        )
        await add_membership(
            session, member_id=identity.member_id, unit_id=vp.id, role="member", now=clock()
        )
    assert await chat(7001, "Thành viên").send(f"/{command}") == [NOT_ALLOWED]
    assert await chat(7002, "Khách").send(f"/{command} DVK26") == [NOT_ALLOWED]
    assert not app.bot_data.get("jobs")
    assert "sendDocument" not in api.methods()


async def test_rights_are_checked_again_when_the_job_runs(data, core, db):
    """Between the command and the job, the admin loses the right: nothing is exported."""
    result = await core.handle(Inbound("telegram", str(ADMIN_ID), str(ADMIN_ID), text="/xuatexcel"))
    [job] = result.jobs
    async with db.session() as session:
        await session.execute(update(Member).values(is_admin=False))
    delivered: list[Outbound] = []

    async def progress(text: str, fraction: float) -> None:
        raise AssertionError("no progress without the right")

    async def deliver(messages: list[Outbound]) -> None:
        delivered.extend(messages)

    await run_job(core, job, progress=progress, deliver=deliver)
    assert [m.text for m in delivered] == [NOT_ALLOWED]
    assert all(m.document_file is None for m in delivered)


async def test_a_second_export_waits_for_the_first(data, chat, app, api, monkeypatch):
    """The export runs beside the updates: while it is under way, the bot answers."""
    release = asyncio.Event()
    real = export_handler.export_workbook

    async def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(export_handler, "export_workbook", slow)
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/xuatexcel")
    assert await admin.send("/xuatexcel") == [
        "⏳ Tệp Excel trước của bạn vẫn đang được tạo, xin chờ xong rồi hãy yêu cầu tiếp."
    ]
    release.set()
    await finish_jobs(app)
    assert api.methods().count("sendDocument") == 1
    # Once it is done, another can be made.
    await admin.send("/xuatexcel")
    await finish_jobs(app)
    assert api.methods().count("sendDocument") == 2


async def test_a_failed_export_is_reported(data, chat, app, api, monkeypatch):
    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_handler, "export_workbook", broken)
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/xuatexcel")
    # Told through the outbox, in the unit of work that marks the job failed.
    assert (await admin.settle())[-1] == "❌ Có lỗi khi thực hiện, chưa làm xong. Xin thử lại sau."
    assert "sendDocument" not in api.methods()


async def test_a_file_too_big_for_telegram_is_not_sent(data, chat, app, api, monkeypatch):
    from bot.telegram import delivery as telegram_channel

    monkeypatch.setattr(telegram_channel, "UPLOAD_LIMIT_MB", 0)
    await chat(ADMIN_ID, "Quản trị").send("/xuatexcel")
    await finish_jobs(app)
    texts = [c.params["text"] for c in api.sent(ADMIN_ID)]
    assert texts[-2].startswith("Tệp dan-van-kheo-2026-11-26.xlsx nặng 0")
    assert "dvk export" in texts[-2]
    assert "sendDocument" not in api.methods()


# --- the terminal and the command line --------------------------------------------------------


async def test_terminal_chat_writes_the_file_under_data_downloads(
    data, core, db, tmp_path, monkeypatch
):
    from bot.terminal import TerminalChat

    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    terminal = TerminalChat(core, "quantri", lines.append)
    await terminal.say("/help")
    async with db.session() as session:
        await session.execute(update(Member).values(is_admin=True))
    await terminal.say("/xuatexcel")
    assert "⏳ Đang tạo tệp Excel…" in lines
    assert any(line.startswith("⏳ Đang tạo tệp Excel: đã ghi ") for line in lines)
    written = Path("data/downloads/dan-van-kheo-2026-11-26.xlsx")
    assert f"📎 Đã lưu tệp: {written}" in lines
    assert lines[-1] == "✅ Xong: 7 mô hình, 4 báo cáo."
    assert "MH1" in column(load_workbook(written), "Đăng ký", "Mã mô hình")


async def test_dvk_export_on_the_command_line(data, database_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["export", "--campaign", "DVK26"]) == 0
    out, err = capsys.readouterr()
    [written] = tmp_path.glob("dan-van-kheo-DVK26-????-??-??.xlsx")  # today's date
    assert out.strip() == f"Đã ghi tệp {written.name}: 6 mô hình, 4 báo cáo."
    assert "đã ghi" in err
    codes = column(load_workbook(written), "Đăng ký", "Mã mô hình")
    assert sorted(codes) == ["MH1", "MH2", "MH3", "MH4", "MH5", "MH6"]
    target = tmp_path / "out" / "all.xlsx"
    target.parent.mkdir()
    assert await asyncio.to_thread(main, ["export", "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"Đã ghi tệp {target}: 7 mô hình, 4 báo cáo."
    assert [p.name for p in target.parent.iterdir()] == ["all.xlsx"]  # no partial file left
    assert await asyncio.to_thread(main, ["export", "--campaign", "KHONGCO"]) == 1
    assert "Không có đợt phát động mã KHONGCO." in capsys.readouterr().err


# --- round trip --------------------------------------------------------------------------------


async def statistics(db) -> dict[str | None, OrganisationStats]:  # type: ignore[no-untyped-def]
    """The /thongke figures of every campaign (by code: ids differ between databases) and of
    all campaigns together."""
    async with db.session() as session:
        figures = {None: await organisation_stats(session)}
        for campaign in await session.scalars(select(Campaign)):
            figures[campaign.code] = await organisation_stats(session, campaign_id=campaign.id)
    return figures


async def empty_database(db, database_url: str, template: str, tmp_path) -> tuple[str, Database]:  # type: ignore[no-untyped-def]
    """Somewhere to import into: another migrated SQLite file, or on PostgreSQL (one test
    database) the same database emptied."""
    if PG_URL:
        await _truncate_postgres(db)
        return database_url, db
    target = tmp_path / "elsewhere.sqlite3"
    shutil.copy(template, target)
    url = f"sqlite+aiosqlite:///{target}"
    return url, Database.from_url(url)


def sheets_of(path) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    book = load_workbook(path)
    return {name: sorted(rows(book, name), key=repr) for name in book.sheetnames}


async def round_trip(db, database_url, template, tmp_path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    """`dvk export` here, `dvk import` into an empty database, `dvk export` from there: the
    figures before and after, and the two workbooks."""
    before = await statistics(db)
    assert before["DVK26"].reports == 4 and before["DVK26"].late_reports == 2  # a real data set
    assert [i.achieved for i in before[None].indicators] == [100, 3, 120, Decimal("19500000.5")]
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    exported = tmp_path / "export.xlsx"
    assert await asyncio.to_thread(main, ["export", "-o", str(exported)]) == 0

    url, elsewhere = await empty_database(db, database_url, template, tmp_path)
    try:
        assert (await statistics(elsewhere))[None].by_status == {}
        monkeypatch.setenv("DVK_DATABASE_URL", url)
        assert await asyncio.to_thread(main, ["import", str(exported)]) == 0, capsys.readouterr()
        after = await statistics(elsewhere)
        again = tmp_path / "again.xlsx"
        assert await asyncio.to_thread(main, ["export", "-o", str(again)]) == 0
    finally:
        if elsewhere is not db:
            await elsewhere.dispose()
    return before, after, sheets_of(exported), sheets_of(again)


async def test_export_then_import_gives_the_same_statistics(
    data, db, database_url, migrated_template, tmp_path, monkeypatch, capsys
):
    before, after, exported, again = await round_trip(
        db, database_url, migrated_template, tmp_path, monkeypatch, capsys
    )
    assert set(after) == {None, "DVK24", "DVK26"}
    assert after == before
    # The campaign's rhythm and window came back with it (in "Đợt phát động" of `again`).
    # Exported again from there: the same workbook, but for the answers to the campaign's own
    # questions (the questions are not part of the layout, so an import cannot ask them).
    exported.pop("Trả lời báo cáo")  # the questions are not in the layout either
    registrations = [row[:9] for row in exported.pop("Đăng ký")]
    assert [row[:9] for row in again.pop("Đăng ký")] == registrations
    # What reports said is for people to read; the import leaves it (the layout's five stay).
    results = exported.pop("Kết quả")
    assert {row[5:] for row in results} == {
        ("Đã làm", None, None),
        ("Đã làm", "Thiếu máy scan", "Cấp thêm máy"),
    }
    assert [row[:5] for row in again.pop("Kết quả")] == [row[:5] for row in results]
    assert again == exported


# --- the writer itself ------------------------------------------------------------------------


async def test_rows_are_streamed_in_chunks_with_progress(data, db, tmp_path):
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    path = tmp_path / "small-chunks.xlsx"
    async with db.session() as session:
        counts = await export_workbook(
            session,
            path,
            scope=ExportScope(),
            timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
            progress=progress,
            chunk=2,
        )
    assert len(seen) > 5
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (counts.rows, counts.rows)
    # 2 campaigns, 4 units twice (list and summary), 7 models, 5 targets, 6 results,
    # 1 conference, 3 commendations.
    assert counts.rows == 2 + 8 + 7 + 5 + 6 + 1 + 3
    assert len(rows(load_workbook(path), "Kết quả")) == 6


async def test_drafts_are_not_exported(data, db, tmp_path, clock):
    async with db.session() as session:
        await session.execute(update(Model).where(Model.code == "MH3").values(status="draft"))
        campaign = await session.scalar(select(Campaign).where(Campaign.code == "DVK26"))
    path = tmp_path / "x.xlsx"
    async with db.session() as session:
        counts = await export_workbook(
            session,
            path,
            scope=ExportScope(campaign_id=campaign.id),
            timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
        )
    assert counts.models == 5
    assert "MH3" not in column(load_workbook(path), "Đăng ký", "Mã mô hình")


def test_a_sheet_goes_on_past_the_row_limit(tmp_path):
    book = Workbook(write_only=True)
    out = SheetWriter(book, "Kết quả", ["Mã mô hình", "Giá trị"], max_rows=3)
    for n in range(5):
        out.append([out.text(f"MH{n}"), n])
    book.save(tmp_path / "long.xlsx")
    read = load_workbook(tmp_path / "long.xlsx")
    assert read.sheetnames == ["Kết quả", "Kết quả (2)", "Kết quả (3)"]
    assert [rows(read, name) for name in read.sheetnames] == [
        [("MH0", 0), ("MH1", 1)],
        [("MH2", 2), ("MH3", 3)],
        [("MH4", 4)],
    ]
    assert [c.value for c in read["Kết quả (3)"][1]] == ["Mã mô hình", "Giá trị"]


@pytest.mark.parametrize(
    ("steps", "shown"),
    [
        # (fraction, seconds since start) -> shown?
        ([(0.01, 0.1), (0.05, 0.5), (0.11, 0.6)], [False, False, True]),
        ([(0.01, 2.5), (0.02, 3.0), (0.03, 4.6)], [True, False, True]),
        ([(0.5, 0.1), (1.0, 0.2)], [True, True]),
    ],
)
def test_progress_is_throttled(steps, shown):
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    got = []
    for fraction, seconds in steps:
        now[0] = seconds
        got.append(throttle.due(fraction))
    assert got == shown
