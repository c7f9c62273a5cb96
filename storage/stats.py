"""Figures about a set of units, computed in the database: registrations by status and kind,
reports for the current period, who is overdue, and per indicator what was achieved."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Campaign, Member, Model, Report, ReportValue, Target
from storage.periods import Period, is_paused, period_containing

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
            select(Model.id, Model.title, Model.starts_on, Campaign, Member)
            .join(Campaign, Campaign.id == Model.campaign_id)
            .join(Member, Member.id == Model.owner_id)
            .where(in_units, Model.status.in_(REPORTING))
            .order_by(Member.full_name, Model.id)
        )
    ).all()
    periods = {
        model_id: period_containing(today, cadence=campaign.cadence, due_day=campaign.due_day)
        for model_id, _, _, campaign, _ in rows
    }
    reported = set()
    if rows:
        found = await session.execute(
            select(Report.model_id, Report.period_start).where(Report.model_id.in_(list(periods)))
        )
        reported = {(m, start) for m, start in found.all() if periods[m].start == start}
    for model_id, title, starts_on, _, member in rows:
        period = periods[model_id]
        if starts_on > period.end:
            continue  # not started yet: nothing expected this period
        state.expected += 1
        if (model_id, period.start) in reported:
            state.received += 1
        elif today > period.due:
            late = Overdue(member.id, member.full_name or "", model_id, title, period)
            if is_paused(member.paused_until, today):
                late.paused_until = member.paused_until
                state.paused.append(late)
            else:
                state.overdue.append(late)
    state.indicators = await _indicators(session, in_units)
    return state


async def _indicators(session: AsyncSession, in_units) -> list[Indicator]:  # type: ignore[no-untyped-def]
    """Targets grouped by indicator and unit of measure, case and spacing ignored."""
    active = Model.status.notin_((rules.REJECTED, rules.DRAFT))
    key = (func.lower(func.trim(Target.indicator)), func.lower(func.trim(Target.unit_of_measure)))
    targets = await session.execute(
        select(
            *key,
            func.min(Target.indicator),
            func.min(Target.unit_of_measure),
            func.sum(Target.target_value),
        )
        .join(Model, Model.id == Target.model_id)
        .where(in_units, active)
        .group_by(*key)
    )
    achieved = dict(
        ((name, unit), total)
        for name, unit, total in await session.execute(
            select(*key, func.sum(ReportValue.value))
            .join(Target, Target.id == ReportValue.target_id)
            .join(Model, Model.id == Target.model_id)
            .where(in_units, active)
            .group_by(*key)
        )
    )
    result = [
        Indicator(shown, unit_shown, Decimal(total or 0), Decimal(achieved.get((name, unit)) or 0))
        for name, unit, shown, unit_shown, total in targets
    ]
    return sorted(result, key=lambda i: (i.name.casefold(), i.unit.casefold()))
