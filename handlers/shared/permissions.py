"""Who may act on which units and models, for the coordinators' and the admins' screens alike:
checked in the database at the moment of the action."""

from __future__ import annotations

from handlers.core.context import Ctx
from storage.models import Model


async def reviewable_units(ctx: Ctx) -> set[int] | None:
    """Units whose registrations, join requests and invites this person may decide; None for all
    (admin)."""
    if await ctx.is_admin():
        return None
    return await ctx.coordinated_units()


async def may_decide_on(ctx: Ctx, model: Model | None) -> bool:
    """A reviewer of the model's unit, and not its owner: nobody approves, returns, rejects or
    evaluates their own model."""
    units = await reviewable_units(ctx)
    return (
        model is not None
        and model.owner_id != ctx.member.id
        and (units is None or model.unit_id in units)
    )
