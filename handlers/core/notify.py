"""Messages the bot sends on its own go through the outbox, never straight to a channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.core import buttons
from handlers.core.context import Ctx
from handlers.core.types import Choice
from language import vn
from storage import outbox, rules
from storage.models import Unit
from storage.records.audit import add_audit_entry
from storage.records.people import all_admins, members_with_role
from storage.records.units import all_units


def payload(text: str, choices: list[list[Choice]] | None = None) -> dict[str, object]:
    return {
        "text": text,
        "choices": [[{"label": c.label, "data": c.data} for c in row] for row in choices or []],
    }


def delivery_time(ctx: Ctx) -> datetime:
    """Now, or the end of quiet hours: nothing the bot sends on its own goes out at night."""
    return ctx.config.quiet_hours.next_allowed(ctx.now.astimezone(ctx.config.timezone))


async def queue(
    ctx: Ctx, *, key: str, member_id: int | None, payload: dict[str, Any], priority: int = 5
) -> bool:
    """Put a message for someone else in the outbox, to go out outside quiet hours. Nobody is
    told about a model imported from paper records (it has no owner in the chat)."""
    if member_id is None:
        return False
    return await outbox.enqueue(
        ctx.session,
        key=key,
        member_id=member_id,
        payload=payload,
        now=ctx.now,
        not_before=delivery_time(ctx),
        priority=priority,
    )


def decision_buttons(ctx: Ctx, request_id: int) -> list[list[Choice]]:
    return [
        [
            Choice(ctx.t("button-accept"), buttons.JOIN_REQUEST("a", request_id)),
            Choice(ctx.t("button-refuse"), buttons.JOIN_REQUEST("r", request_id)),
        ]
    ]


async def join_request_to_reviewers(ctx: Ctx, request_id: int, unit: Unit) -> None:
    """Tell the admins and the coordinators of the unit (or of a unit above it)."""
    units = await all_units(ctx.session, active_only=False)
    parents = {u.id: u.parent_id for u in units}
    chain: list[int] = []
    current: int | None = unit.id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    reviewers = {m.id for m in await all_admins(ctx.session)}
    reviewers |= set(
        await members_with_role(ctx.session, unit_ids=chain, role=rules.ROLE_COORDINATOR)
    )
    reviewers.discard(ctx.member.id)
    text = ctx.t(
        "join-request-notice",
        name=ctx.member.full_name or "",
        category=ctx.t(f"category-{ctx.member.category}") if ctx.member.category else "",
        unit=unit.name,
        phone=vn.format_phone(ctx.member.phone) if ctx.member.phone else ctx.t("form-skipped"),
    )
    for member_id in sorted(reviewers):
        await queue(
            ctx,
            key=f"join-request:{request_id}:{member_id}",
            member_id=member_id,
            payload=payload(text, decision_buttons(ctx, request_id)),
        )
    if ctx.member.phone and reviewers:
        # The notice carries the phone number: who it was shown to is on record.
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="personal.shown",
            object_type="join_request",
            object_id=request_id,
            details={"fields": ["phone"], "to": sorted(reviewers)},
        )
