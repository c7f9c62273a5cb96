"""Fields of activity a model belongs to. Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Field, Model


async def visible_fields(session: AsyncSession) -> Sequence[Field]:
    result = await session.scalars(
        select(Field).where(Field.hidden.is_(False)).order_by(Field.position, Field.id)
    )
    return result.all()


async def all_fields(session: AsyncSession) -> Sequence[Field]:
    return (await session.scalars(select(Field).order_by(Field.position, Field.id))).all()


async def models_per_field(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(Model.field_id, func.count()).group_by(Model.field_id))
    return {field_id: count for field_id, count in rows.all()}


async def add_field(session: AsyncSession, *, name: str) -> Field:
    last = await session.scalar(select(func.max(Field.position)))
    field = Field(name=name, position=(last or 0) + 1, hidden=False)
    session.add(field)
    await session.flush()
    return field
