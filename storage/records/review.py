"""Review and follow-up: registrations waiting for a decision, completed models to evaluate,
evaluated models proposed for commendation, and the commendations recorded. Keyword-only; never
commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import rules
from storage.models import Commendation, Evaluation, Model


async def review_queue(
    session: AsyncSession,
    *,
    unit_ids: set[int] | None,
    reviewer_id: int,
    after: Model | None = None,
) -> tuple[int, Model | None]:
    """Submitted registrations of the units, oldest first, but not the reviewer's own: how
    many, and the next one (after a given one, to skip ahead)."""
    # IS DISTINCT FROM, not !=: an imported model has no owner, and NULL != x is not true.
    waiting = select(Model).where(
        Model.status == rules.SUBMITTED, Model.owner_id.is_distinct_from(reviewer_id)
    )
    if unit_ids is not None:
        waiting = waiting.where(Model.unit_id.in_(unit_ids))
    count = await session.scalar(select(func.count()).select_from(waiting.subquery()))
    query = waiting.options(
        selectinload(Model.targets), selectinload(Model.field), selectinload(Model.campaign)
    ).order_by(Model.submitted_at, Model.id)
    if after is not None and after.submitted_at is not None:
        query = query.where(
            (Model.submitted_at > after.submitted_at)
            | ((Model.submitted_at == after.submitted_at) & (Model.id > after.id))
        )
    return count or 0, await session.scalar(query.limit(1))


async def decide_model(
    session: AsyncSession,
    *,
    model_id: int,
    status: str,
    reviewer_id: int,
    note: str | None,
    now: datetime,
) -> bool:
    """Apply a review decision unless someone decided first. False when too late."""
    rules.check_transition(rules.SUBMITTED, status)
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.status == rules.SUBMITTED)
        .values(
            status=status,
            reviewed_by=reviewer_id,
            reviewed_at=now,
            review_note=note,
            updated_at=now,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def submitted_since(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime
) -> tuple[int, int]:
    """Registrations waiting for review: (new since the moment, all)."""
    waiting = select(Model).where(Model.status == rules.SUBMITTED)
    if unit_ids is not None:
        waiting = waiting.where(Model.unit_id.in_(unit_ids))
    total = await session.scalar(select(func.count()).select_from(waiting.subquery()))
    new = await session.scalar(
        select(func.count()).select_from(waiting.where(Model.submitted_at > since).subquery())
    )
    return new or 0, total or 0


async def completed_models(
    session: AsyncSession, *, unit_ids: set[int] | None, evaluator_id: int, limit: int = 20
) -> Sequence[Model]:
    query = (
        select(Model)
        .where(
            Model.status == rules.COMPLETED,
            Model.owner_id.is_distinct_from(evaluator_id),
        )
        .order_by(Model.updated_at, Model.id)
        .limit(limit)
    )
    if unit_ids is not None:
        query = query.where(Model.unit_id.in_(unit_ids))
    return (await session.scalars(query)).all()


async def proposed_models(session: AsyncSession, *, limit: int = 20) -> Sequence[Model]:
    """Evaluated models a coordinator proposed for commendation, oldest evaluation first."""
    result = await session.scalars(
        select(Model)
        .join(Evaluation, Evaluation.model_id == Model.id)
        .where(Evaluation.proposed.is_(True))
        .order_by(Evaluation.evaluated_at, Model.id)
        .limit(limit)
    )
    return result.all()


async def commendation_of(
    session: AsyncSession, *, model_id: int, level: str
) -> Commendation | None:
    return await session.scalar(
        select(Commendation).where(Commendation.model_id == model_id, Commendation.level == level)
    )
