"""Progress reports on models and the running totals of their targets.
Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Member, Model, Report, ReportPhoto, ReportValue, Target, Unit
from storage.records.people import shown_name


async def report_for(session: AsyncSession, *, model_id: int, period_start: date) -> Report | None:
    return await session.scalar(
        select(Report)
        .options(selectinload(Report.values), selectinload(Report.photos))
        .where(Report.model_id == model_id, Report.period_start == period_start)
    )


async def reports_of(session: AsyncSession, *, model_id: int) -> Sequence[Report]:
    result = await session.scalars(
        select(Report)
        .options(selectinload(Report.photos))
        .where(Report.model_id == model_id)
        .order_by(Report.period_start)
    )
    return result.all()


async def target_totals(session: AsyncSession, *, model_id: int) -> dict[int, Decimal]:
    """What all reports of a model achieved so far, per target."""
    rows = await session.execute(
        select(ReportValue.target_id, func.sum(ReportValue.value))
        .join(Target, Target.id == ReportValue.target_id)
        .where(Target.model_id == model_id)
        .group_by(ReportValue.target_id)
    )
    return {target_id: Decimal(total or 0) for target_id, total in rows.all()}


async def refresh_achieved(session: AsyncSession, *, target_ids: Iterable[int]) -> None:
    """Recompute the running totals (Target.achieved) of these targets from their report values.
    Call after writing report values. The targets' rows are locked first, so two reports of the
    same target written at once do not each sum without the other."""
    ids = sorted(set(target_ids))
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        await session.flush()
        await session.execute(
            select(Target.id).where(Target.id.in_(chunk)).with_for_update().order_by(Target.id)
        )
        total = (
            select(func.coalesce(func.sum(ReportValue.value), 0))
            .where(ReportValue.target_id == Target.id)
            .scalar_subquery()
        )
        await session.execute(
            update(Target)
            .where(Target.id.in_(chunk))
            .values(achieved=total)
            .execution_options(synchronize_session=False)
        )
    # Loaded targets would otherwise keep the old total.
    refreshed = set(ids)
    for thing in list(session.sync_session.identity_map.values()):
        if isinstance(thing, Target) and thing.id in refreshed:
            session.expire(thing, ["achieved"])


async def reports_since(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime
) -> int:
    query = select(func.count()).select_from(Report).join(Model, Model.id == Report.model_id)
    query = query.where(Report.submitted_at > since)
    if unit_ids is not None:
        query = query.where(Model.unit_id.in_(unit_ids))
    return await session.scalar(query) or 0


async def flagged_since(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime, limit: int = 10
) -> tuple[int, list[tuple[int, str, str]]]:
    """Reports sent since `since` that state difficulties or proposals: how many, and the first
    `limit` as (report id, author's name, model title), oldest first."""
    stated = or_(
        func.length(func.coalesce(Report.difficulties, "")) > 0,
        func.length(func.coalesce(Report.proposals, "")) > 0,
    )
    where = [Report.submitted_at > since, stated]
    if unit_ids is not None:
        where.append(Model.unit_id.in_(unit_ids))
    count = await session.scalar(
        select(func.count())
        .select_from(Report)
        .join(Model, Model.id == Report.model_id)
        .where(*where)
    )
    rows = await session.execute(
        select(Report.id, shown_name(), Model.title)
        .join(Model, Model.id == Report.model_id)
        .outerjoin(Member, Member.id == func.coalesce(Report.member_id, Model.owner_id))
        .where(*where)
        .order_by(Report.submitted_at, Report.id)
        .limit(limit)
    )
    return count or 0, [(report_id, name or "", title) for report_id, name, title in rows]


async def reports_in_campaign(session: AsyncSession, *, campaign_id: int) -> int:
    """How many reports were filed on the campaign's models."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Report)
            .join(Model, Model.id == Report.model_id)
            .where(Model.campaign_id == campaign_id)
        )
        or 0
    )


async def report_page(
    session: AsyncSession, *, model_id: int, offset: int, limit: int
) -> tuple[int, Sequence[Report]]:
    """A model's reports, newest period first: how many there are, and `limit` of them from
    `offset`, with their values and photos."""
    total = await session.scalar(
        select(func.count()).select_from(Report).where(Report.model_id == model_id)
    )
    result = await session.scalars(
        select(Report)
        .options(selectinload(Report.values), selectinload(Report.photos))
        .where(Report.model_id == model_id)
        .order_by(Report.period_start.desc(), Report.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total or 0, result.all()


async def report_by_id(session: AsyncSession, *, report_id: int) -> Report | None:
    return await session.scalar(
        select(Report)
        .options(selectinload(Report.values), selectinload(Report.photos))
        .where(Report.id == report_id)
    )


@dataclass(frozen=True)
class ReportLine:
    """One report in a list: enough to name it and open it."""

    id: int
    model_id: int
    code: str
    title: str
    name: str
    period_start: date
    submitted_at: datetime
    late: bool
    photos: int
    unit: str


def _line_query(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    photos = (
        select(func.count())
        .select_from(ReportPhoto)
        .where(ReportPhoto.report_id == Report.id)
        .scalar_subquery()
    )
    return (
        select(
            Report.id,
            Model.id,
            Model.code,
            Model.title,
            shown_name(),
            Report.period_start,
            Report.submitted_at,
            Report.late,
            photos,
            Unit.name,
        )
        .join(Model, Model.id == Report.model_id)
        .join(Unit, Unit.id == Model.unit_id)
        .outerjoin(Member, Member.id == func.coalesce(Report.member_id, Model.owner_id))
        .where(*where)
    )


def _lines(rows: Iterable[Any]) -> list[ReportLine]:
    return [
        # A model from before codes were given goes by "MH<id>" (storage/records/models.py).
        ReportLine(
            rid,
            mid,
            code or f"MH{mid}",
            title,
            name or "",
            start,
            at,
            bool(late),
            photos or 0,
            unit,
        )
        for rid, mid, code, title, name, start, at, late, photos, unit in rows
    ]


async def new_reports(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime, limit: int
) -> list[ReportLine]:
    """The first `limit` reports sent since `since`, oldest first (a digest's list)."""
    where: list[ColumnElement[bool]] = [Report.submitted_at > since]
    if unit_ids is not None:
        where.append(Model.unit_id.in_(unit_ids))
    query = _line_query(where).order_by(Report.submitted_at, Report.id).limit(limit)
    return _lines((await session.execute(query)).all())


async def period_reports(
    session: AsyncSession,
    *,
    unit_ids: set[int],
    periods: dict[int, date],
    offset: int,
    limit: int,
) -> tuple[int, list[ReportLine]]:
    """Reports for the current period of each campaign (`periods`: campaign id -> the period's
    first day) of the models of these units, newest first: how many, and one page of them."""
    if not periods or not unit_ids:
        return 0, []
    current = or_(
        *(
            and_(Model.campaign_id == campaign_id, Report.period_start == start)
            for campaign_id, start in periods.items()
        )
    )
    where = [Model.unit_id.in_(unit_ids), current]
    total = await session.scalar(
        select(func.count())
        .select_from(Report)
        .join(Model, Model.id == Report.model_id)
        .where(*where)
    )
    if not total or not limit:
        return total or 0, []
    query = (
        _line_query(where)
        .order_by(Report.submitted_at.desc(), Report.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total or 0, _lines((await session.execute(query)).all())
