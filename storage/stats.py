"""Figures about a set of units, computed in the database: registrations by status and kind,
reports for the current period, who is overdue, and per indicator what was achieved."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import (
    Campaign,
    Commendation,
    Conference,
    Evaluation,
    Field,
    Member,
    Model,
    Report,
    ReportValue,
    Target,
    Unit,
)
from storage.periods import (
    DEFAULT_TZ,
    Period,
    accountable_since,
    is_paused,
    period_containing,
    reporting_periods,
)
from storage.records.people import shown_name
from storage.unit_figures import UnitRank, unit_ranking, units_active

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
    # unit id -> [expected, received] this period, to sum over a part of the tree
    per_unit: dict[int, list[int]] = field(default_factory=dict)

    def reports_of(self, unit_ids: set[int]) -> tuple[int, int]:
        """(expected, received) this period in those units."""
        expected = sum(self.per_unit.get(u, (0, 0))[0] for u in unit_ids)
        return expected, sum(self.per_unit.get(u, (0, 0))[1] for u in unit_ids)


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
    # Plain columns, not entities: a large unit has thousands of reporting models.
    rows = (
        await session.execute(
            select(
                Model.id,
                Model.title,
                Model.unit_id,
                Model.campaign_id,
                Model.starts_on,
                Model.ends_on,
                Model.reviewed_at,
                Model.registered_on,
                Member.id,
                shown_name(),
                Member.paused_until,
            )
            .join(Member, Member.id == Model.owner_id)
            .where(in_units, Model.status.in_(REPORTING))
            .order_by(Member.full_name, Model.id)
        )
    ).all()
    campaigns = {
        c.id: c
        for c in await session.scalars(
            select(Campaign).where(Campaign.id.in_({row[3] for row in rows}))
        )
    }
    # Periods depend on the campaign and the model's dates only: computed once per combination.
    current = {
        c.id: period_containing(today, cadence=c.cadence, due_day=c.due_day)
        for c in campaigns.values()
    }
    known: dict[tuple[int, date, date, date | None], list[Period]] = {}

    def periods_of(
        campaign_id: int, starts_on: date, ends_on: date, since: date | None
    ) -> list[Period]:
        key = (campaign_id, starts_on, ends_on, since)
        if key not in known:
            c = campaigns[campaign_id]
            known[key] = reporting_periods(
                today,
                cadence=c.cadence,
                due_day=c.due_day,
                starts_on=max(starts_on, c.starts_on),
                ends_on=min(ends_on, c.ends_on),
                since=since,
            )
        return known[key]

    # Nobody is expected or overdue for a period that was due before their model was approved.
    since_of = {row[0]: accountable_since(row[6], row[7]) for row in rows}
    starts = {
        p.start
        for c, s, e, since in {(r[3], r[4], r[5], since_of[r[0]]) for r in rows}
        for p in periods_of(c, s, e, since)
    }
    reported = set()
    if starts:
        # By period and unit, not by a list of ids: a country has more models than a
        # statement may carry parameters.
        found = await session.execute(
            select(Report.model_id, Report.period_start)
            .join(Model, Model.id == Report.model_id)
            .where(in_units, Report.period_start.in_(starts))
        )
        reported = {(model_id, start) for model_id, start in found}
    for (
        model_id,
        title,
        unit_id,
        campaign_id,
        starts_on,
        ends_on,
        *_,
        member_id,
        name,
        paused,
    ) in rows:
        periods = periods_of(campaign_id, starts_on, ends_on, since_of[model_id])
        now = current[campaign_id]
        if now in periods:
            done = (model_id, now.start) in reported
            state.expected += 1
            state.received += done
            figures = state.per_unit.setdefault(unit_id, [0, 0])
            figures[0] += 1
            figures[1] += done
        # Overdue: the oldest period still open to a report whose due date has passed.
        missing = next(
            (p for p in periods if today > p.due and (model_id, p.start) not in reported), None
        )
        if missing is not None:
            late = Overdue(member_id, name or "", model_id, title, missing)
            if is_paused(paused, today):
                late.paused_until = paused
                state.paused.append(late)
            else:
                state.overdue.append(late)
    state.indicators = await _indicators(session, in_units)
    return state


async def campaign_cadences(session: AsyncSession, *, unit_ids: set[int]) -> dict[int, str]:
    """Each reporting model's campaign cadence in the units, in one query."""
    found = await session.execute(
        select(Model.id, Campaign.cadence)
        .join(Campaign, Campaign.id == Model.campaign_id)
        .where(Model.unit_id.in_(unit_ids), Model.status.in_(REPORTING))
    )
    return {model_id: cadence for model_id, cadence in found}


def indicator_key(name: str, unit: str) -> tuple[str, str]:
    """Indicators are grouped case- and space-insensitively ("Nhà đại đoàn kết " and "nhà
    đại đoàn kết"), in Python: SQLite's lower() folds only ASCII letters."""

    def fold(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return fold(name), fold(unit)


async def _indicators(
    session: AsyncSession, in_units: Any, *, values_where: Any = None
) -> list[Indicator]:
    """Targets and what reports achieved, per indicator and unit of measure: targets of the
    models `in_units` selects and their running totals, or, with `values_where`, the values of
    the reports it selects (a range of years: summed from the values themselves)."""
    active = Model.status.notin_((rules.REJECTED, rules.DRAFT))
    grouped: dict[tuple[str, str], Indicator] = {}
    for name, unit, target, achieved in await session.execute(
        select(
            Target.indicator,
            Target.unit_of_measure,
            func.sum(Target.target_value),
            func.sum(Target.achieved),
        )
        .join(Model, Model.id == Target.model_id)
        .where(in_units, active)
        .group_by(Target.indicator, Target.unit_of_measure)
    ):
        item = grouped.setdefault(indicator_key(name, unit), Indicator(name.strip(), unit.strip()))
        item.target += Decimal(target or 0)
        if values_where is None:
            item.achieved += Decimal(achieved or 0)
    if values_where is not None:
        for name, unit, total in await session.execute(
            select(Target.indicator, Target.unit_of_measure, func.sum(ReportValue.value))
            .join(Target, Target.id == ReportValue.target_id)
            .join(Model, Model.id == Target.model_id)
            .join(Report, Report.id == ReportValue.report_id)
            .where(active, values_where)
            .group_by(Target.indicator, Target.unit_of_measure)
        ):
            key = indicator_key(name, unit)
            item = grouped.setdefault(key, Indicator(name.strip(), unit.strip()))
            item.achieved += Decimal(total or 0)
    return sorted(grouped.values(), key=lambda i: (i.name.casefold(), i.unit.casefold()))


@dataclass(frozen=True)
class Scope:
    """What a statistics report covers: one campaign, or the calendar years first..last (what
    was registered, reported, evaluated, commended and held in those years), or everything."""

    campaign_id: int | None = None
    years: tuple[int, int] | None = None

    def dates(self) -> tuple[date, date] | None:
        if self.years is None:
            return None
        return date(self.years[0], 1, 1), date(self.years[1], 12, 31)


@dataclass
class OrganisationStats:
    units: int = 0
    units_registering: int = 0
    # Units (active) that held their commendation conference in the scope.
    units_conference: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    # (field name, collectives, individuals), most registrations first
    by_field: list[tuple[str, int, int]] = field(default_factory=list)
    # Active units with members and registrations, by registrations per member, highest first;
    # the active units left out for having no member or no registration.
    unit_ranking: list[UnitRank] = field(default_factory=list)
    units_unranked: int = 0
    reports: int = 0
    late_reports: int = 0
    evaluations: Counter[str] = field(default_factory=Counter)
    proposed: int = 0
    # level -> Counter of (status, kind): how many collectives and individuals
    commendations: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)


async def organisation_stats(
    session: AsyncSession,
    *,
    campaign_id: int | None = None,
    years: tuple[int, int] | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
    unit_ids: set[int] | None = None,
) -> OrganisationStats:
    """The end-of-period figures of the movement, in a handful of grouped queries (no query per
    unit or per model), so a country's data is summed in the database. Years are calendar years
    where the movement is (`tz`). `unit_ids`: only these units (a top-level unit's part of a
    country-wide installation, for its own year-end report); None: all."""
    span = Scope(campaign_id, years).dates()
    stats = OrganisationStats()
    campaign = [Model.campaign_id == campaign_id] if campaign_id is not None else []
    if unit_ids is not None:
        campaign.append(Model.unit_id.in_(unit_ids))
    # Models that count (not drafts, not rejected) ...
    counted = [Model.status.notin_((rules.REJECTED, rules.DRAFT)), *campaign]
    # ... and of those, the ones registered in the years asked for.
    registered = [*counted, *([Model.registered_on.between(*span)] if span else [])]
    # The units of the scope: those active at some time during the campaign or the years (a
    # unit made later, or closed before, is not one of its units); the active ones otherwise.
    window = span
    if campaign_id is not None:
        dates = (
            await session.execute(
                select(Campaign.starts_on, Campaign.ends_on).where(Campaign.id == campaign_id)
            )
        ).first()
        window = (dates[0], dates[1]) if dates else None
    active_units = units_active(window)
    if unit_ids is not None:
        active_units = active_units.where(Unit.id.in_(unit_ids))

    stats.units = (
        await session.scalar(select(func.count()).select_from(active_units.subquery())) or 0
    )
    held: list[ColumnElement[bool]] = [Conference.unit_id.in_(active_units)]
    if campaign_id is not None:
        held.append(Conference.campaign_id == campaign_id)
    if span is not None:
        held.append(Conference.held_on.between(*span))
    stats.units_conference = (
        await session.scalar(select(func.count(func.distinct(Conference.unit_id))).where(*held))
        or 0
    )
    # Statuses, kinds and fields in one pass over the models.
    fields = dict((await session.execute(select(Field.id, Field.name))).all())
    per_field: dict[str, Counter[str]] = {}
    for status, kind, field_id, count in await session.execute(
        select(Model.status, Model.kind, Model.field_id, func.count())
        .where(*campaign, *([Model.registered_on.between(*span)] if span else []))
        .group_by(Model.status, Model.kind, Model.field_id)
    ):
        stats.by_status[status] += count
        if status not in (rules.REJECTED, rules.DRAFT):
            stats.by_kind[kind] += count
            per_field.setdefault(fields.get(field_id, "?"), Counter())[kind] += count
    stats.by_field = sorted(
        (
            (name, kinds[rules.KIND_COLLECTIVE], kinds[rules.KIND_INDIVIDUAL])
            for name, kinds in per_field.items()
        ),
        key=lambda row: (-(row[1] + row[2]), row[0]),
    )
    per_unit = dict(
        (
            await session.execute(
                select(Model.unit_id, func.count())
                .where(*registered, Model.unit_id.in_(active_units))
                .group_by(Model.unit_id)
            )
        ).all()
    )
    stats.units_registering = len(per_unit)
    stats.unit_ranking, stats.units_unranked = await unit_ranking(session, per_unit, active_units)

    # What happened in the years asked for, whenever the model was registered.
    reported = [*counted, *([Report.period_start.between(*span)] if span else [])]
    stats.reports, stats.late_reports = (
        await session.execute(
            select(func.count(), func.count().filter(Report.late.is_(True)))
            .join(Model, Model.id == Report.model_id)
            .where(*reported)
        )
    ).one()
    evaluated = list(counted)
    if span is not None:
        evaluated.append(_within(Evaluation.evaluated_at, _moments(span, tz)))
    for level, proposed, count in await session.execute(
        select(Evaluation.level, Evaluation.proposed, func.count())
        .join(Model, Model.id == Evaluation.model_id)
        .where(*evaluated)
        .group_by(Evaluation.level, Evaluation.proposed)
    ):
        stats.evaluations[level] += count
        stats.proposed += count if proposed else 0
    commended = list(counted)
    if span is not None:
        # A decision counts in the year it was made; a proposal in the year it was recorded.
        commended.append(
            or_(
                Commendation.decided_on.between(*span),
                and_(
                    Commendation.decided_on.is_(None),
                    _within(Commendation.recorded_at, _moments(span, tz)),
                ),
            )
        )
    for level, status, kind, count in await session.execute(
        select(Commendation.level, Commendation.status, Model.kind, func.count())
        .join(Model, Model.id == Commendation.model_id)
        .where(*commended)
        .group_by(Commendation.level, Commendation.status, Model.kind)
    ):
        stats.commendations.setdefault(level, Counter())[(status, kind)] += count
    stats.indicators = await _indicators(
        session, and_(*registered), values_where=and_(*reported) if span else None
    )
    return stats


def _moments(span: tuple[date, date], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The span of local dates as UTC moments: from its first midnight in `tz`, up to (not
    including) the midnight after its last day. Stored times are UTC, so the column is compared
    with these bounds as it is, and its index serves."""
    first, last = span
    return (
        datetime.combine(first, time(), tzinfo=tz).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC),
    )


def _within(column: Any, moments: tuple[datetime, datetime]) -> Any:
    return and_(column >= moments[0], column < moments[1])
