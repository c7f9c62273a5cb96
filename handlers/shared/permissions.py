"""Who may act on which units: checked in the database at the moment of the action."""

from __future__ import annotations

from handlers.core.context import Ctx
from storage.records.units import coordinated_unit_ids


async def reviewable_units(ctx: Ctx) -> set[int] | None:
    """Units whose join requests this person may decide; None for all (admin)."""
    if await ctx.is_admin():
        return None
    return await coordinated_unit_ids(ctx.session, member_id=ctx.member.id)
