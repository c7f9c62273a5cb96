"""Queries behind the admins' management commands: people to choose from (thousands of them),
coordinators' assignments, the admins, and the fields of activity. Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Field, Identity, Member, Membership, Model, Unit


async def named_people(
    session: AsyncSession, *, ids: Iterable[int] | None = None, admins: bool | None = None
) -> list[tuple[int, str, list[str]]]:
    """People who gave their name, by name: (member id, full name, names of their units).
    `ids` narrows to those people; `admins` to admins (True) or to everyone else (False).
    Two queries however many people there are."""
    query = (
        select(Member.id, Member.full_name)
        .where(Member.full_name.is_not(None))
        .order_by(Member.full_name, Member.id)
    )
    if ids is not None:
        query = query.where(Member.id.in_(list(ids)))
    if admins is not None:
        query = query.where(Member.is_admin.is_(admins))
    people = [(member_id, name) for member_id, name in (await session.execute(query)).all()]
    units: dict[int, list[str]] = {member_id: [] for member_id, _ in people}
    if people:
        rows = select(Membership.member_id, Unit.name).join(Unit, Unit.id == Membership.unit_id)
        if ids is not None:
            rows = rows.where(Membership.member_id.in_(list(units)))
        for member_id, unit_name in (await session.execute(rows.order_by(Membership.id))).all():
            if member_id in units and unit_name not in units[member_id]:
                units[member_id].append(unit_name)
    return [(member_id, name, units[member_id]) for member_id, name in people]


async def coordinator_assignments(
    session: AsyncSession, *, member_id: int | None = None
) -> Sequence[tuple[Membership, Member, Unit]]:
    """Who coordinates which unit, by person then unit."""
    query = (
        select(Membership, Member, Unit)
        .join(Member, Member.id == Membership.member_id)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.role == rules.ROLE_COORDINATOR)
        .order_by(Member.full_name, Member.id, Unit.name)
    )
    if member_id is not None:
        query = query.where(Membership.member_id == member_id)
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def remove_coordinator(session: AsyncSession, *, membership_id: int) -> bool:
    """False when the assignment is gone already (another admin removed it a moment ago)."""
    result = await session.execute(
        delete(Membership).where(
            Membership.id == membership_id, Membership.role == rules.ROLE_COORDINATOR
        )
    )
    return result.rowcount == 1


async def lock_admins(session: AsyncSession) -> list[int]:
    """The admins' ids, their rows locked until the end of the unit of work (PostgreSQL), so two
    admins removing each other at once cannot leave nobody in charge."""
    result = await session.scalars(
        select(Member.id).where(Member.is_admin.is_(True)).order_by(Member.id).with_for_update()
    )
    return list(result.all())


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


async def identities_of(session: AsyncSession, *, member_id: int) -> Sequence[Identity]:
    result = await session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
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


async def active_children(session: AsyncSession, *, unit_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Unit)
            .where(Unit.parent_id == unit_id, Unit.active.is_(True))
        )
        or 0
    )
