"""Statistics for a known data set give the known numbers, formatted the Vietnamese way."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.cli import main
from handlers.admin import statistics
from storage.models import (
    Commendation,
    Conference,
    Evaluation,
    Field,
    Member,
    Model,
    Report,
    ReportValue,
    Target,
)
from storage.records.campaigns import add_campaign
from storage.records.jobs import BackgroundJob
from storage.records.people import add_membership
from storage.records.reports import refresh_achieved
from storage.records.units import add_unit, unit_by_code
from tests.botapi import ChatClient
from tests.conftest import ADMIN_ID, make_coordinator

STARTED = "⏳ Đang tổng hợp số liệu…"
BUSY = "⏳ Số liệu bạn yêu cầu trước vẫn đang được tổng hợp, xin chờ xong rồi hãy yêu cầu tiếp."


async def thongke(person: ChatClient, args: str = "") -> list[str]:
    """/thongke, its figures made in the background (a job): what the job said once it ended,
    its first message («⏳ …», shown while it runs) left out; a refusal or a wrong scope is said
    at once."""
    replies = await person.send(f"/thongke {args}".rstrip())
    if STARTED not in replies:
        return replies
    return [reply for reply in await person.settle() if reply != STARTED]


EXPECTED = """📊 Thống kê đợt «Dân vận khéo 2026–2027»
• Đơn vị: 3, trong đó 2 đơn vị có đăng ký
• 1/3 đơn vị đã tổ chức hội nghị tuyên dương, khen thưởng
• Đăng ký: 3 tập thể và 4 cá nhân
• Đã gửi, chờ duyệt: 1 · Không duyệt: 1 · Đang thực hiện: 3 · Đã đánh giá: 3
• Theo lĩnh vực:
  – An sinh xã hội: 4 (3 tập thể, 1 cá nhân)
  – Cải cách hành chính: 3 (3 cá nhân)
• Đơn vị có nhiều đăng ký nhất so với số thành viên:
  – Đơn vị 0: 3 mô hình/2 thành viên
• Đơn vị có ít đăng ký nhất so với số thành viên:
  – Đơn vị 1: 4 mô hình/5 thành viên
  (không xếp hạng 1 đơn vị chưa có thành viên hoặc chưa có đăng ký)
• Báo cáo tiến độ: 6 (nộp muộn 2)
• Đánh giá: Hoàn thành xuất sắc: 2 · Hoàn thành: 1; đề xuất khen thưởng 2
• Khen thưởng:
  – Cơ sở: đã khen 1 tập thể, 1 cá nhân; đang đề nghị 0
  – Đảng ủy Khối: đã khen 0; đang đề nghị 1 tập thể
• Kết quả đạt được:
  – Nhà đại đoàn kết: 326/400 căn (82%)
  – tiền vận động: 130 tỷ/150 tỷ đồng (87%)"""
# The year 2026: the registration of December 2025 (an individual in unit 1) is left out;
# reports, evaluations and commendations of 2026 are all in.
EXPECTED_2026 = (
    EXPECTED.replace("📊 Thống kê đợt «Dân vận khéo 2026–2027»", "📊 Thống kê năm 2026")
    .replace("3 tập thể và 4 cá nhân", "3 tập thể và 3 cá nhân")
    .replace("Đang thực hiện: 3", "Đang thực hiện: 2")
    .replace("An sinh xã hội: 4 (3 tập thể, 1 cá nhân)", "An sinh xã hội: 3 (3 tập thể)")
    .replace("Đơn vị 1: 4 mô hình", "Đơn vị 1: 3 mô hình")
)


@pytest.fixture
async def data(db, clock):
    """7 counted models (3 collective, 4 individual) in 2 of 3 units, and one rejected."""
    now = clock()
    async with db.session() as session:
        units = [
            await add_unit(session, code=f"U{i}", name=f"Đơn vị {i}", parent_id=None, now=now)
            for i in range(3)
        ]
        campaign = await add_campaign(
            session,
            code="DVK26",
            name="Dân vận khéo 2026–2027",
            starts_on=date(2026, 1, 1),
            ends_on=date(2027, 12, 31),
            now=now,
        )
        fields = {f.name: f.id for f in (await session.scalars(select(Field))).all()}
        owner = Member(full_name="Chủ mô hình", created_at=now)
        session.add(owner)
        await session.flush()
        plan = [
            # unit, kind, status, field, (houses target, achieved), (money target, achieved)
            (0, "collective", "in_progress", "An sinh xã hội", (100, 90), None),
            (
                0,
                "collective",
                "evaluated",
                "An sinh xã hội",
                (200, 136),
                (100_000_000_000, 90_000_000_000),
            ),
            (0, "individual", "evaluated", "Cải cách hành chính", None, None),
            (
                1,
                "collective",
                "evaluated",
                "An sinh xã hội",
                (100, 100),
                (50_000_000_000, 40_000_000_000),
            ),
            (1, "individual", "in_progress", "Cải cách hành chính", None, None),
            (1, "individual", "in_progress", "An sinh xã hội", None, None),
            (1, "individual", "submitted", "Cải cách hành chính", None, None),
            (1, "individual", "rejected", "An sinh xã hội", (999, 999), None),
        ]
        models: list[Model] = []
        for n, (unit, kind, status, field, houses, money) in enumerate(plan):
            model = Model(
                campaign_id=campaign.id,
                owner_id=owner.id,
                unit_id=units[unit].id,
                kind=kind,
                title=f"Mô hình {n}",
                title_key=f"mô hình {n}",
                field_id=fields[field],
                approach="Cách làm",
                objectives="Mục tiêu",
                starts_on=date(2026, 1, 1),
                ends_on=date(2027, 12, 31),
                status=status,
                extra={},
                created_at=now,
                updated_at=now,
                submitted_at=now,
                # One registration from the year before: /thongke 2026 leaves it out.
                registered_on=date(2025, 12, 20) if n == 5 else date(2026, 3, 1),
            )
            session.add(model)
            await session.flush()
            models.append(model)
            targets = []
            if houses:
                targets.append(("Nhà đại đoàn kết ", "căn", *houses))
            if money:
                targets.append(("tiền vận động", "đồng", *money))
            for position, (name, measure, target, achieved) in enumerate(targets, 1):
                row = Target(
                    model_id=model.id,
                    position=position,
                    indicator=name,
                    unit_of_measure=measure,
                    target_value=Decimal(target),
                )
                session.add(row)
                await session.flush()
                report = await session.scalar(select(Report).where(Report.model_id == model.id))
                if report is None:
                    report = Report(
                        model_id=model.id,
                        member_id=owner.id,
                        period_start=date(2026, 10, 1),
                        period_end=date(2026, 10, 31),
                        due_on=date(2026, 10, 25),
                        done_text="Đã làm",
                        late=n % 2 == 1,
                        completed=False,
                        replaced=0,
                        extra={},
                        submitted_at=now,
                    )
                    session.add(report)
                    await session.flush()
                session.add(
                    ReportValue(report_id=report.id, target_id=row.id, value=Decimal(achieved))
                )
            if status in ("in_progress", "evaluated") and not targets:
                session.add(
                    Report(
                        model_id=model.id,
                        member_id=owner.id,
                        period_start=date(2026, 10, 1),
                        period_end=date(2026, 10, 31),
                        due_on=date(2026, 10, 25),
                        done_text="Đã làm",
                        late=False,
                        completed=False,
                        replaced=0,
                        extra={},
                        submitted_at=now,
                    )
                )
            if status == "evaluated":
                session.add(
                    Evaluation(
                        model_id=model.id,
                        level="done" if n == 2 else "excellent",
                        comment=None,
                        proposed=n != 2,
                        evaluator_id=owner.id,
                        evaluated_at=now,
                    )
                )
        # Members per unit: 3 registrations/2 members, 4/5, and a unit of one who registered
        # nothing; unit 0 held its conference; commendations at two levels.
        for unit, count in ((0, 2), (1, 5), (2, 1)):
            for i in range(count):
                person = Member(full_name=f"Thành viên {unit}.{i}", created_at=now)
                session.add(person)
                await session.flush()
                await add_membership(
                    session, member_id=person.id, unit_id=units[unit].id, role="member", now=now
                )
        # Values were written directly: their running totals are refreshed as a report does.
        await refresh_achieved(session, target_ids=(await session.scalars(select(Target.id))).all())
        session.add(
            Conference(
                unit_id=units[0].id,
                campaign_id=campaign.id,
                held_on=date(2026, 11, 20),
                recorded_at=now,
            )
        )
        for n, level, status in (
            (1, "co_so", "decided"),
            (2, "co_so", "decided"),
            (3, "dang_uy_khoi", "proposed"),
        ):
            session.add(
                Commendation(
                    model_id=models[n].id,
                    level=level,
                    status=status,
                    decision_number="12/QĐ" if status == "decided" else None,
                    decided_on=date(2026, 11, 21) if status == "decided" else None,
                    recorded_by=owner.id,
                    recorded_at=now,
                )
            )
    return campaign


async def test_known_numbers_through_the_bot(data, chat):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await thongke(admin, "DVK26") == [EXPECTED]
    assert await thongke(admin) == [EXPECTED]  # the campaign open today
    assert await thongke(admin, "KHONGCO") == [
        "Không có đợt phát động mã KHONGCO.",
        "Cách dùng: /thongke [MÃ ĐỢT | NĂM | NĂM-NĂM], ví dụ /thongke DVK2026, /thongke 2026 "
        "hoặc /thongke 2021-2025.",
    ]


async def test_a_range_of_years(data, chat):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await thongke(admin, "2026") == [EXPECTED_2026]
    assert await thongke(admin, "2026 - 2026") == [EXPECTED_2026]
    earlier = (await thongke(admin, "2024-2025"))[0]
    assert earlier.startswith("📊 Thống kê năm 2024–2025\n")
    assert "• Đăng ký: 0 tập thể và 1 cá nhân" in earlier
    assert "• 0/3 đơn vị đã tổ chức" in earlier and "Khen thưởng" not in earlier
    nothing = (await thongke(admin, "2019"))[0]
    # Nothing registered: no ranking of units by nothing.
    assert "Đăng ký: 0 tập thể và 0 cá nhân" in nothing and "Đơn vị có" not in nothing


async def test_the_chart_comes_with_the_figures(data, chat, api):
    admin = chat(ADMIN_ID, "Quản trị")
    await thongke(admin)
    methods = [call.method for call in api.calls if call.method in ("sendMessage", "sendPhoto")]
    assert methods[-2:] == ["sendMessage", "sendPhoto"]
    photo = next(c for c in reversed(api.calls) if c.method == "sendPhoto")
    (_, content), *_ = photo.params["_files"].values()
    assert content.startswith(b"\x89PNG")


async def test_known_numbers_on_the_command_line(data, database_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["stats", "--campaign", "DVK26"]) == 0
    assert capsys.readouterr().out.strip() == EXPECTED
    chart = tmp_path / "thongke.png"
    assert await asyncio.to_thread(main, ["stats", "--years", "2026", "--chart", str(chart)]) == 0
    assert capsys.readouterr().out.strip() == EXPECTED_2026
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert await asyncio.to_thread(main, ["stats", "--years", "năm ngoái"]) == 1
    assert "Cách dùng" in capsys.readouterr().err
    # A campaign code that looks like a year is still a campaign code.
    assert await asyncio.to_thread(main, ["stats", "--campaign", "2026"]) == 1
    assert "Không có đợt phát động mã 2026." in capsys.readouterr().err


async def test_statistics_are_for_admins_only(data, chat, db, clock):
    async with db.session() as session:
        unit = await unit_by_code(session, code="U0")
    await make_coordinator(db, unit_id=unit.id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    assert await thongke(coordinator) == ["Bạn không có quyền thực hiện việc này."]


async def test_the_figures_are_a_background_job_with_progress(data, chat, api, db, monkeypatch):
    """Figures for a whole country take a while: /thongke answers at once, the figures are
    gathered in the background (other people's messages, and the admin's, handled meanwhile),
    and a second /thongke while they are is refused."""
    admin, guest = chat(ADMIN_ID, "Quản trị"), chat(9002, "Khách")
    entered, release = asyncio.Event(), asyncio.Event()
    real = statistics.organisation_stats

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(statistics, "organisation_stats", held)
    try:
        assert await admin.send("/thongke DVK26") == [STARTED]
        first = admin.last_message()
        await entered.wait()
        assert (await guest.send("/help"))[-1].startswith("Bạn chưa tham gia đơn vị nào.")
        assert await admin.send("/thongke") == [BUSY]
    finally:
        release.set()
    # What was said since that refusal: the figures.
    assert await admin.settle() == [BUSY, EXPECTED]
    edits = [c.params for c in api.calls if c.method == "editMessageText"]
    assert [e["text"] for e in edits] == ["⏳ Đã tổng hợp số liệu, đang vẽ biểu đồ…"]
    assert int(edits[0]["message_id"]) == first["message_id"]
    async with db.session() as session:
        rows = (await session.execute(select(BackgroundJob.kind, BackgroundJob.status))).all()
    assert [tuple(row) for row in rows] == [("stats", "done")]


async def test_the_figures_are_for_whoever_is_an_admin_when_the_job_runs(
    data, chat, db, monkeypatch
):
    admin = chat(ADMIN_ID, "Quản trị")
    entered, release = asyncio.Event(), asyncio.Event()
    real = statistics.StatsJob.run

    async def held(self, io):  # type: ignore[no-untyped-def]
        entered.set()
        await release.wait()
        await real(self, io)

    monkeypatch.setattr(statistics.StatsJob, "run", held)
    try:
        assert await admin.send("/thongke") == [STARTED]
        await entered.wait()
        # Taken away after asking, before the figures are gathered.
        async with db.session() as session:
            await session.execute(update(Member).values(is_admin=False))
    finally:
        release.set()
    assert await admin.settle() == [STARTED, "Bạn không có quyền thực hiện việc này."]
