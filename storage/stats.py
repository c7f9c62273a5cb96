"""Figures about a set of units, computed in the database: registrations by status and kind,
reports for the current period, who is overdue, and per indicator what was achieved."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Campaign, Member, Model, Report, ReportValue, Target
from storage.periods import Period, is_paused, period_containing, reporting_periods

REPORTING = (rules.APPROVED, rules.IN_PROGRESS)


@dataclass
class Overdue:
    member_id: int
    name: str
    model_id: int
    title: str
    period: Period
    paused_until: date | None = None


@dataclass
class Indicator:
    name: str
    unit: str
    target: Decimal = Decimal(0)
    achieved: Decimal = Decimal(0)


@dataclass
class UnitState:
    by_status: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    expected: int = 0  # models whose current period is reportable
    received: int = 0  # ... of which the report is in
    overdue: list[Overdue] = field(default_factory=list)
    paused: list[Overdue] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)


async def unit_state(session: AsyncSession, *, unit_ids: set[int], today: date) -> UnitState:
    state = UnitState()
    if not unit_ids:
        return state
    in_units = Model.unit_id.in_(unit_ids)
    for status, kind, count in await session.execute(
        select(Model.status, Model.kind, func.count())
        .where(in_units)
        .group_by(Model.status, Model.kind)
    ):
        state.by_status[status] += count
        state.by_kind[kind] += count
    rows = (
        await session.execute(
            select(Model.id, Model.title, Model.starts_on, Model.ends_on, Campaign, Member)
            .join(Campaign, Campaign.id == Model.campaign_id)
            .join(Member, Member.id == Model.owner_id)
            .where(in_units, Model.status.in_(REPORTING))
            .order_by(Member.full_name, Model.id)
        )
    ).all()
    current: dict[int, Period] = {}
    periods: dict[int, list[Period]] = {}
    for model_id, _, starts_on, ends_on, campaign, _ in rows:
        current[model_id] = period_containing(
            today, cadence=campaign.cadence, due_day=campaign.due_day
        )
        periods[model_id] = reporting_periods(
            today,
            cadence=campaign.cadence,
            due_day=campaign.due_day,
            starts_on=max(starts_on, campaign.starts_on),
            ends_on=min(ends_on, campaign.ends_on),
        )
    starts = {p.start for found in periods.values() for p in found}
    reported = set()
    if starts:
        # By period and unit, not by a list of ids: a country has more models than a
        # statement may carry parameters.
        found = await session.execute(
            select(Report.model_id, Report.period_start)
            .join(Model, Model.id == Report.model_id)
            .where(in_units, Report.period_start.in_(starts))
        )
        reported = set(found.all())
    for model_id, title, _, _, _, member in rows:
        if current[model_id] in periods[model_id]:
            state.expected += 1
            state.received += (model_id, current[model_id].start) in reported
        # Overdue: the oldest period still open to a report whose due date has passed.
        missing = [
            p for p in periods[model_id] if (model_id, p.start) not in reported and today > p.due
        ]
        if missing:
            late = Overdue(member.id, member.full_name or "", model_id, title, missing[0])
            if is_paused(member.paused_until, today):
                late.paused_until = member.paused_until
                state.paused.append(late)
            else:
                state.overdue.append(late)
    state.indicators = await _indicators(session, in_units)
    return state


def indicator_key(name: str, unit: str) -> tuple[str, str]:
    """Indicators are grouped case- and space-insensitively ("Nhà đại đoàn kết " and "nhà
    đại đoàn kết"), in Python: SQLite's lower() folds only ASCII letters."""

    def fold(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return fold(name), fold(unit)


async def _indicators(session: AsyncSession, in_units) -> list[Indicator]:  # type: ignore[no-untyped-def]
    """Targets and what reports achieved, per indicator and unit of measure."""
    active = Model.status.notin_((rules.REJECTED, rules.DRAFT))
    grouped: dict[tuple[str, str], Indicator] = {}
    for name, unit, total in await session.execute(
        select(Target.indicator, Target.unit_of_measure, func.sum(Target.target_value))
        .join(Model, Model.id == Target.model_id)
        .where(in_units, active)
        .group_by(Target.indicator, Target.unit_of_measure)
    ):
        item = grouped.setdefault(indicator_key(name, unit), Indicator(name.strip(), unit.strip()))
        item.target += Decimal(total or 0)
    for name, unit, total in await session.execute(
        select(Target.indicator, Target.unit_of_measure, func.sum(ReportValue.value))
        .join(Target, Target.id == ReportValue.target_id)
        .join(Model, Model.id == Target.model_id)
        .where(in_units, active)
        .group_by(Target.indicator, Target.unit_of_measure)
    ):
        item = grouped.setdefault(indicator_key(name, unit), Indicator(name.strip(), unit.strip()))
        item.achieved += Decimal(total or 0)
    return sorted(grouped.values(), key=lambda i: (i.name.casefold(), i.unit.casefold()))


@dataclass
class OrganisationStats:
    units: int = 0
    units_registering: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_field: list[tuple[str, int]] = field(default_factory=list)
    reports: int = 0
    late_reports: int = 0
    evaluations: Counter[str] = field(default_factory=Counter)
    proposed: int = 0
    # level -> {"proposed": n, "decided": n}
    commendations: dict[str, Counter[str]] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)


async def organisation_stats(
    session: AsyncSession, *, campaign_id: int | None = None
) -> OrganisationStats:
    """The end-of-period figures of the movement, for one campaign or all, in a few queries."""
    from storage.models import Evaluation, Field, Unit

    stats = OrganisationStats()
    counted = Model.status.notin_((rules.REJECTED, rules.DRAFT))
    scope = [counted] + ([Model.campaign_id == campaign_id] if campaign_id else [])
    stats.units = (
        await session.scalar(select(func.count()).select_from(Unit).where(Unit.active.is_(True)))
        or 0
    )
    stats.units_registering = (
        await session.scalar(select(func.count(func.distinct(Model.unit_id))).where(*scope)) or 0
    )
    for status, kind, count in await session.execute(
        select(Model.status, Model.kind, func.count())
        .where(*([Model.campaign_id == campaign_id] if campaign_id else []))
        .group_by(Model.status, Model.kind)
    ):
        stats.by_status[status] += count
        if status not in (rules.REJECTED, rules.DRAFT):
            stats.by_kind[kind] += count
    stats.by_field = [
        (name, count)
        for name, count in await session.execute(
            select(Field.name, func.count(Model.id))
            .join(Model, Model.field_id == Field.id)
            .where(*scope)
            .group_by(Field.name)
            .order_by(func.count(Model.id).desc(), Field.name)
        )
    ]
    report_scope = select(Report).join(Model, Model.id == Report.model_id).where(*scope)
    stats.reports = (
        await session.scalar(select(func.count()).select_from(report_scope.subquery())) or 0
    )
    stats.late_reports = (
        await session.scalar(
            select(func.count()).select_from(report_scope.where(Report.late.is_(True)).subquery())
        )
        or 0
    )
    for level, proposed, count in await session.execute(
        select(Evaluation.level, Evaluation.proposed, func.count())
        .join(Model, Model.id == Evaluation.model_id)
        .where(*scope)
        .group_by(Evaluation.level, Evaluation.proposed)
    ):
        stats.evaluations[level] += count
        stats.proposed += count if proposed else 0
    from storage.models import Commendation

    for level, status, count in await session.execute(
        select(Commendation.level, Commendation.status, func.count())
        .join(Model, Model.id == Commendation.model_id)
        .where(*scope)
        .group_by(Commendation.level, Commendation.status)
    ):
        stats.commendations.setdefault(level, Counter())[status] += count
    stats.indicators = await _indicators(
        session, Model.campaign_id == campaign_id if campaign_id else Model.id.is_not(None)
    )
    return stats
