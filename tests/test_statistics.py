"""Statistics for a known data set give the known numbers, formatted the Vietnamese way."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.cli import main
from storage import queries
from storage.models import Evaluation, Field, Member, Model, Report, ReportValue, Target
from tests.conftest import ADMIN_ID, make_coordinator

EXPECTED = """📊 Thống kê đợt «Dân vận khéo 2026–2027»
• Đơn vị: 3, trong đó 2 đơn vị có đăng ký
• Đăng ký: 3 tập thể và 4 cá nhân
• Đã gửi, chờ duyệt: 1 · Không duyệt: 1 · Đang thực hiện: 3 · Đã đánh giá: 3
• Theo lĩnh vực:
  – An sinh xã hội: 4
  – Cải cách hành chính: 3
• Báo cáo tiến độ: 6 (nộp muộn 2)
• Đánh giá: Hoàn thành xuất sắc: 2 · Hoàn thành: 1; đề xuất khen thưởng 2
• Kết quả đạt được:
  – Nhà đại đoàn kết: 326/400 căn (82%)
  – tiền vận động: 130 tỷ/150 tỷ đồng (87%)"""


@pytest.fixture
async def data(db, clock):
    """7 counted models (3 collective, 4 individual) in 2 of 3 units, and one rejected."""
    now = clock()
    async with db.session() as session:
        units = [
            await queries.add_unit(
                session, code=f"U{i}", name=f"Đơn vị {i}", parent_id=None, now=now
            )
            for i in range(3)
        ]
        campaign = await queries.add_campaign(
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
            )
            session.add(model)
            await session.flush()
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
    return campaign


async def test_known_numbers_through_the_bot(data, chat):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/thongke DVK26") == [EXPECTED]
    assert await admin.send("/thongke") == [EXPECTED]  # the campaign open today
    assert await admin.send("/thongke KHONGCO") == ["Không có đợt phát động mã KHONGCO."]


async def test_known_numbers_on_the_command_line(data, database_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["stats", "--campaign", "DVK26"]) == 0
    assert capsys.readouterr().out.strip() == EXPECTED


async def test_statistics_are_for_admins_only(data, chat, db, clock):
    async with db.session() as session:
        unit = await queries.unit_by_code(session, code="U0")
    await make_coordinator(db, unit_id=unit.id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    assert await coordinator.send("/thongke") == ["Bạn không có quyền thực hiện việc này."]
