"""What a year-end report lists by name: the commended collectives and individuals per level,
and the most notable models. The same scope as `storage.stats.organisation_stats` (a campaign,
or calendar years), so the lists and the figures above them agree. Keyword-only; never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Commendation, Evaluation, Member, Model, Target, Unit
from storage.periods import DEFAULT_TZ
from storage.records.people import shown_name

# The span helpers of the statistics: the same bounds for the same years.
from storage.stats import Scope, _moments, _within

EXCELLENT = "excellent"  # the evaluation "hoàn thành xuất sắc"


@dataclass(frozen=True)
class Honoured:
    level: str
    status: str  # proposed | decided
    kind: str
    name: str  # the collective's name, or the owner's
    title: str
    unit: str
    decision_number: str | None
    decided_on: date | None


@dataclass(frozen=True)
class Notable:
    title: str
    kind: str
    owner: str
    unit: str
    evaluation: str | None
    # Mean of achieved/target over the model's targets (None: no target to measure against).
    ratio: Decimal | None


def _owner_name(*, decided: bool = False) -> ColumnElement[str]:
    """The collective's name for a collective, the owner's for an individual: «thành viên đã
    rời» once erased, but for a `decided` commendation, which kept the name (an official
    record)."""
    owner = func.coalesce(shown_name(), "")
    if decided:
        owner = func.coalesce(Commendation.person_name, owner)
    return case(
        (Model.kind == rules.KIND_COLLECTIVE, func.coalesce(Model.collective_name, "")),
        else_=owner,
    )


def _counted(campaign_id: int | None, unit_ids: set[int] | None) -> list[ColumnElement[bool]]:
    counted: list[ColumnElement[bool]] = [Model.status.notin_((rules.REJECTED, rules.DRAFT))]
    if campaign_id is not None:
        counted.append(Model.campaign_id == campaign_id)
    if unit_ids is not None:
        counted.append(Model.unit_id.in_(unit_ids))
    return counted


async def commended(
    session: AsyncSession,
    *,
    campaign_id: int | None = None,
    years: tuple[int, int] | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
    unit_ids: set[int] | None = None,
) -> list[Honoured]:
    """Every commendation of the scope, by level (lowest first), decided before proposed, then
    by unit and name. Counted in the years as the statistics count them: a decision in the year
    it was made, a proposal in the year it was recorded."""
    where = _counted(campaign_id, unit_ids)
    span = Scope(campaign_id, years).dates()
    if span is not None:
        where.append(
            or_(
                Commendation.decided_on.between(*span),
                and_(
                    Commendation.decided_on.is_(None),
                    _within(Commendation.recorded_at, _moments(span, tz)),
                ),
            )
        )
    rows = await session.execute(
        select(
            Commendation.level,
            Commendation.status,
            Model.kind,
            _owner_name(decided=True),
            Model.title,
            Unit.name,
            Commendation.decision_number,
            Commendation.decided_on,
        )
        .join(Model, Model.id == Commendation.model_id)
        .join(Unit, Unit.id == Model.unit_id)
        .outerjoin(Member, Member.id == Model.owner_id)
        .where(*where)
    )
    found = [Honoured(*row) for row in rows]
    order = {level: n for n, level in enumerate(rules.COMMENDATION_LEVELS)}
    found.sort(
        key=lambda h: (
            order.get(h.level, len(order)),
            h.status != rules.DECIDED,
            h.unit.casefold(),
            h.name.casefold(),
            h.title.casefold(),
        )
    )
    return found


async def notable_models(
    session: AsyncSession,
    *,
    campaign_id: int | None = None,
    years: tuple[int, int] | None = None,
    limit: int = 10,
    unit_ids: set[int] | None = None,
) -> list[Notable]:
    """The models to name first: evaluated "hoàn thành xuất sắc", then by how far their results
    went against their targets (the mean of achieved/target), then by title. The models are
    those the statistics count as registered in the scope."""
    where = _counted(campaign_id, unit_ids)
    span = Scope(campaign_id, years).dates()
    if span is not None:
        where.append(Model.registered_on.between(*span))
    ratios = (
        select(
            Target.model_id.label("model_id"),
            func.avg(Target.achieved / Target.target_value).label("ratio"),
        )
        .where(Target.target_value > 0)
        .group_by(Target.model_id)
        .subquery()
    )
    excellent = case((Evaluation.level == EXCELLENT, 0), else_=1)
    rows = await session.execute(
        select(
            Model.title,
            Model.kind,
            _owner_name(),
            Unit.name,
            Evaluation.level,
            ratios.c.ratio,
        )
        .join(Unit, Unit.id == Model.unit_id)
        .outerjoin(Member, Member.id == Model.owner_id)
        .outerjoin(Evaluation, Evaluation.model_id == Model.id)
        .outerjoin(ratios, ratios.c.model_id == Model.id)
        .where(*where)
        .order_by(
            excellent,
            func.coalesce(ratios.c.ratio, -1).desc(),
            Model.title,
            Model.id,
        )
        .limit(limit)
    )
    return [
        Notable(
            title,
            kind,
            owner,
            unit,
            level,
            None if ratio is None else Decimal(str(ratio)),
        )
        for title, kind, owner, unit, level, ratio in rows
    ]
