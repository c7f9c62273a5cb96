"""The export's summary sheet: one row per unit with its own figures (its sub-units have rows of
their own), computed by a few GROUP BY queries whatever the number of units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Commendation, Conference, Membership, Model, Report

SUMMARY_HEADERS = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Số thành viên",
    "Tập thể",
    "Cá nhân",
    "Đăng ký / thành viên",
    "Báo cáo",
    "Hội nghị (ngày)",
    "Khen thưởng đã quyết định",
]
SUMMARY_TOTAL = "Tổng cộng"


@dataclass
class UnitFigures:
    members: int = 0
    collective: int = 0
    individual: int = 0
    reports: int = 0
    conference: date | None = None  # the latest, when several campaigns are exported
    decided: int = 0

    @property
    def per_member(self) -> Decimal | None:
        if not self.members:
            return None
        registrations = Decimal(self.collective + self.individual)
        return (registrations / self.members).quantize(Decimal("0.01"))

    def add(self, other: UnitFigures) -> None:
        self.members += other.members
        self.collective += other.collective
        self.individual += other.individual
        self.reports += other.reports
        self.decided += other.decided
        if other.conference is not None:
            self.conference = max(self.conference or other.conference, other.conference)


async def unit_figures(
    session: AsyncSession,
    *,
    models: list[Any],
    campaign_id: int | None,
    unit_ids: frozenset[int] | None,
) -> dict[int, UnitFigures]:
    """Per unit: members (the member role, as the statistics' ranking counts them),
    registrations by kind and their reports (rejected ones not counted, as in the statistics),
    the conference date and the decided commendations. `models` filters the models exported."""
    figures: dict[int, UnitFigures] = {}

    def of(unit_id: int) -> UnitFigures:
        return figures.setdefault(unit_id, UnitFigures())

    in_units = [] if unit_ids is None else [Membership.unit_id.in_(sorted(unit_ids))]
    for unit_id, count in await session.execute(
        select(Membership.unit_id, func.count(func.distinct(Membership.member_id)))
        .where(Membership.role == rules.ROLE_MEMBER, *in_units)
        .group_by(Membership.unit_id)
    ):
        of(unit_id).members = count
    counted = [*models, Model.status != rules.REJECTED]
    for unit_id, kind, count in await session.execute(
        select(Model.unit_id, Model.kind, func.count())
        .where(*counted)
        .group_by(Model.unit_id, Model.kind)
    ):
        if kind == rules.KIND_COLLECTIVE:
            of(unit_id).collective += count
        elif kind == rules.KIND_INDIVIDUAL:
            of(unit_id).individual += count
    for unit_id, count in await session.execute(
        select(Model.unit_id, func.count())
        .select_from(Report)
        .join(Model, Model.id == Report.model_id)
        .where(*counted)
        .group_by(Model.unit_id)
    ):
        of(unit_id).reports = count
    held: list[Any] = []
    if campaign_id is not None:
        held.append(Conference.campaign_id == campaign_id)
    if unit_ids is not None:
        held.append(Conference.unit_id.in_(sorted(unit_ids)))
    for unit_id, held_on in await session.execute(
        select(Conference.unit_id, func.max(Conference.held_on))
        .where(*held)
        .group_by(Conference.unit_id)
    ):
        of(unit_id).conference = held_on
    for unit_id, count in await session.execute(
        select(Model.unit_id, func.count())
        .select_from(Commendation)
        .join(Model, Model.id == Commendation.model_id)
        .where(*counted, Commendation.status == rules.DECIDED)
        .group_by(Model.unit_id)
    ):
        of(unit_id).decided = count
    return figures
