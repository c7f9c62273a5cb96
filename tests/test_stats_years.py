"""A year of statistics is Việt Nam's calendar year: what happened in the first hours of
1 January there counts in the new year, although it was still 31 December in UTC."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from storage.models import Commendation, Evaluation, Field, Member, Model
from storage.records.campaigns import add_campaign
from storage.records.units import add_unit
from tests.conftest import ADMIN_ID
from tests.test_digest import HANOI
from tests.test_statistics import thongke

BEFORE = datetime(2025, 12, 31, 23, 30, tzinfo=HANOI)  # 16:30 UTC
AFTER = datetime(2026, 1, 1, 0, 30, tzinfo=HANOI)  # 17:30 UTC on 31/12/2025


async def test_new_year_in_hanoi_starts_the_new_year(db, clock, chat):
    now = clock()
    async with db.session() as session:
        unit = await add_unit(session, code="U", name="Đơn vị", parent_id=None, now=now)
        campaign = await add_campaign(
            session,
            code="DVK",
            name="Dân vận khéo",
            starts_on=date(2025, 1, 1),
            ends_on=date(2026, 12, 31),
            now=now,
        )
        field_id = await session.scalar(select(Field.id).limit(1))
        owner = Member(full_name="Chủ mô hình", created_at=now)
        session.add(owner)
        await session.flush()
        # Per moment: one evaluation (excellent before midnight, done after) and one proposal
        # for commendation (a collective before, an individual after).
        for n, (moment, level, kind) in enumerate(
            ((BEFORE, "excellent", "collective"), (AFTER, "done", "individual"))
        ):
            model = Model(
                campaign_id=campaign.id,
                owner_id=owner.id,
                unit_id=unit.id,
                kind=kind,
                title=f"Mô hình {n}",
                title_key=f"mô hình {n}",
                field_id=field_id,
                approach="Cách làm",
                objectives="Mục tiêu",
                starts_on=date(2025, 1, 1),
                ends_on=date(2026, 12, 31),
                status="evaluated",
                extra={},
                created_at=now,
                updated_at=now,
                submitted_at=now,
                registered_on=date(2025, 3, 1),
            )
            session.add(model)
            await session.flush()
            session.add(
                Evaluation(
                    model_id=model.id,
                    level=level,
                    comment=None,
                    proposed=True,
                    evaluator_id=owner.id,
                    evaluated_at=moment,
                )
            )
            session.add(
                Commendation(
                    model_id=model.id,
                    level="dang_uy_khoi",
                    status="proposed",
                    recorded_by=owner.id,
                    recorded_at=moment,
                )
            )
    admin = chat(ADMIN_ID, "Quản trị")
    lines = (await thongke(admin, "2025"))[0].splitlines()
    assert "• Đánh giá: Hoàn thành xuất sắc: 1; đề xuất khen thưởng 1" in lines
    assert "  – Đảng ủy Khối: đã khen 0; đang đề nghị 1 tập thể" in lines
    lines = (await thongke(admin, "2026"))[0].splitlines()
    assert "• Đánh giá: Hoàn thành: 1; đề xuất khen thưởng 1" in lines
    assert "  – Đảng ủy Khối: đã khen 0; đang đề nghị 1 cá nhân" in lines
    lines = (await thongke(admin, "2025-2026"))[0].splitlines()
    assert "• Đánh giá: Hoàn thành xuất sắc: 1 · Hoàn thành: 1; đề xuất khen thưởng 2" in lines
