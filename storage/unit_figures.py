"""Which units a statistics report counts (those active during its campaign or years) and how
they rank by registrations per member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import Membership, Unit


@dataclass
class UnitRank:
    code: str
    name: str
    registrations: int
    members: int

    @property
    def per_member(self) -> Decimal:
        return Decimal(self.registrations) / self.members if self.members else Decimal(0)


def units_active(window: tuple[date, date] | None) -> Any:
    """The ids of the units active at some time within `window`, or active now without one."""
    if window is None:
        return select(Unit.id).where(Unit.active.is_(True))
    first, last = window
    return select(Unit.id).where(
        or_(Unit.active_from.is_(None), Unit.active_from <= last),
        or_(Unit.active_until.is_(None), Unit.active_until >= first),
    )


async def unit_ranking(
    session: AsyncSession, per_unit: dict[int, int], units: Any
) -> tuple[list[UnitRank], int]:
    """Registrations (`per_unit`) per member of each active unit that has both, and how many
    active units were left out: a unit of imported records has registrations and no members, a
    unit whose people joined has members and maybe nothing registered, and neither ratio says
    anything (0 of 3 is not "the most")."""
    # (member, unit, role) is unique: count(*) needs no DISTINCT.
    members = dict(
        (
            await session.execute(
                select(Membership.unit_id, func.count())
                .where(Membership.role == rules.ROLE_MEMBER)
                .group_by(Membership.unit_id)
            )
        ).all()
    )
    active = (
        await session.execute(select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(units)))
    ).all()
    ranks = [
        UnitRank(code, name, per_unit[unit_id], members[unit_id])
        for unit_id, code, name in active
        if members.get(unit_id) and per_unit.get(unit_id)
    ]
    ranks.sort(key=lambda r: (-r.per_member, -r.registrations, r.code))
    return ranks, len(active) - len(ranks)
