"""Invites that several roles revoke: a coordinator one by one, an admin all of a unit's or all
of a removed coordinator's at once."""

from __future__ import annotations

from handlers.core.context import Ctx
from storage.models import Invite
from storage.records.audit import add_audit_entry


async def audit_revoked(ctx: Ctx, revoked: list[Invite], *, reason: str) -> None:
    for invite in revoked:
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="invite.revoked",
            object_type="invite",
            object_id=invite.id,
            details={"code": invite.code, "unit_id": invite.unit_id, "reason": reason},
        )
