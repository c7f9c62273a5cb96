"""Units: the tree of collectives, looked up by code or id, and what lies below a unit.
Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Membership, Unit


async def all_units(session: AsyncSession, *, active_only: bool = True) -> Sequence[Unit]:
    query = select(Unit).order_by(Unit.name)
    if active_only:
        query = query.where(Unit.active.is_(True))
    return (await session.scalars(query)).all()


async def unit_tree(session: AsyncSession) -> Sequence[Any]:
    """Every unit as a plain row (id, parent_id, name, active): enough to walk the tree."""
    return (
        await session.execute(
            select(Unit.id, Unit.parent_id, Unit.name, Unit.active).order_by(Unit.name)
        )
    ).all()


async def unit_by_code(session: AsyncSession, *, code: str) -> Unit | None:
    return await session.scalar(select(Unit).where(func.upper(Unit.code) == code.upper()))


async def units_by_ids(session: AsyncSession, *, ids: Iterable[int]) -> dict[int, Unit]:
    ids = list(ids)
    if not ids:
        return {}
    result = await session.scalars(select(Unit).where(Unit.id.in_(ids)))
    return {unit.id: unit for unit in result}


async def add_unit(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    parent_id: int | None,
    now: datetime,
    active_from: date | None = None,
    active_until: date | None = None,
) -> Unit:
    """A new active unit; `active_from` is the day it began (today for a unit created in the
    chat; an imported unit's from its sheet, else not known)."""
    unit = Unit(
        code=code,
        name=name,
        parent_id=parent_id,
        active=True,
        active_from=active_from,
        active_until=active_until,
        created_at=now,
    )
    session.add(unit)
    await session.flush()
    return unit


def with_descendants(units: Sequence[Unit], roots: Iterable[int]) -> set[int]:
    """The given units and every unit below them."""
    children: dict[int | None, list[int]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit.id)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        unit_id = stack.pop()
        if unit_id in found:
            continue
        found.add(unit_id)
        stack.extend(children.get(unit_id, ()))
    return found


def _below(roots: Select[Any]) -> Select[Any]:
    """The ids of `roots` (a query of unit ids) and of every unit below them, in one recursive
    query (SQLite and PostgreSQL alike) rather than the whole tree read for a few branches."""
    tree = roots.cte("tree", recursive=True)
    below = select(Unit.id).join(tree, Unit.parent_id == tree.c.id)
    tree = tree.union(below)  # UNION, not UNION ALL: a cycle (never made) would end
    return select(tree.c.id)


async def descendant_ids(session: AsyncSession, *, roots: Iterable[int]) -> set[int]:
    """The given units and every unit below them."""
    roots = list(roots)
    if not roots:
        return set()
    return set(await session.scalars(_below(select(Unit.id).where(Unit.id.in_(roots)))))


async def coordinated_unit_ids(session: AsyncSession, *, member_id: int) -> set[int]:
    """The units a person coordinates and every unit below them (one query)."""
    roots = select(Membership.unit_id.label("id")).where(
        Membership.member_id == member_id, Membership.role == rules.ROLE_COORDINATOR
    )
    return set(await session.scalars(_below(roots)))


async def root_units_of(session: AsyncSession, *, member_id: int) -> Sequence[Unit]:
    """The units a person coordinates directly (their sub-units come with them)."""
    result = await session.scalars(
        select(Unit)
        .join(Membership, Membership.unit_id == Unit.id)
        .where(Membership.member_id == member_id, Membership.role == rules.ROLE_COORDINATOR)
        .order_by(Unit.name)
    )
    return result.all()


async def lock_units(session: AsyncSession) -> Sequence[Unit]:
    """Every unit, its row locked until the end of the unit of work and read afresh: changes to
    the tree are checked against the tree as it is, one admin at a time."""
    result = await session.scalars(
        select(Unit)
        .order_by(Unit.id)
        # FOR NO KEY UPDATE: a unit's id does not change, so rows that refer to units (models,
        # memberships) can still be inserted meanwhile.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return result.all()


async def active_children(session: AsyncSession, *, unit_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Unit)
            .where(Unit.parent_id == unit_id, Unit.active.is_(True))
        )
        or 0
    )
