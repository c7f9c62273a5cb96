"""/yeucau, /chapnhan, /tuchoi: coordinators (for their units) and admins decide join requests."""

from __future__ import annotations

from handlers.core import buttons, menu
from handlers.core.commands import Button, Command, Role, id_or
from handlers.core.context import Ctx
from handlers.core.notify import decision_buttons, payload, queue
from handlers.shared.permissions import reviewable_units
from language import vn
from storage import rules
from storage.models import JoinRequest, Member
from storage.records.audit import add_audit_entry
from storage.records.invites import decide_pending_join_request, pending_join_requests
from storage.records.people import add_membership
from storage.records.units import units_by_ids


async def list_join_requests(ctx: Ctx) -> None:
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    rows = await pending_join_requests(ctx.session, unit_ids=units)
    if not rows:
        ctx.say("join-none-pending")
        return
    for request, member, unit in rows:
        ctx.result.say(
            _request_text(ctx, request, member, unit.name), decision_buttons(ctx, request.id)
        )
        if member.phone:
            # Who saw whose phone number is on record (docs/du-lieu-ca-nhan.md).
            await add_audit_entry(
                ctx.session,
                at=ctx.now,
                actor_id=ctx.member.id,
                action="personal.viewed",
                object_type="member",
                object_id=member.id,
                details={"fields": ["phone"], "join_request_id": request.id},
            )


def _request_text(ctx: Ctx, request: JoinRequest, member: Member, unit_name: str) -> str:
    return ctx.t(
        "join-request-item",
        id=request.id,
        name=member.full_name or "",
        category=ctx.t(f"category-{member.category}") if member.category else "",
        unit=unit_name,
        phone=vn.format_phone(member.phone) if member.phone else ctx.t("form-skipped"),
        date=vn.format_datetime(request.created_at, ctx.config.timezone),
    )


async def decide_join_request(ctx: Ctx, request_id: int, accept: bool) -> None:
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    request = await ctx.session.get(JoinRequest, request_id)
    if request is None:
        ctx.say("join-not-found")
        return
    if units is not None and request.unit_id not in units:
        ctx.say("error-not-allowed")
        return
    target = (await units_by_ids(ctx.session, ids=[request.unit_id]))[request.unit_id]
    if accept and not target.active:
        # A deactivated unit takes nobody new; the request can still be refused.
        ctx.say("join-unit-inactive", unit=target.name)
        return
    status = rules.JOIN_ACCEPTED if accept else rules.JOIN_REFUSED
    if not await decide_pending_join_request(
        ctx.session, request_id=request_id, status=status, decided_by=ctx.member.id, now=ctx.now
    ):
        ctx.say("join-already-decided")
        return
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action=f"join.{status}",
        object_type="join_request",
        object_id=request_id,
        details={"unit_id": request.unit_id},
    )
    member = await ctx.session.get(Member, request.member_id)
    unit = (await units_by_ids(ctx.session, ids=[request.unit_id]))[request.unit_id]
    if accept:
        await add_membership(
            ctx.session,
            member_id=request.member_id,
            unit_id=request.unit_id,
            role=rules.ROLE_MEMBER,
            now=ctx.now,
        )
        text = (
            ctx.t("join-accepted-notice", unit=unit.name)
            + "\n\n"
            + menu.help_section(ctx.t, Role.MEMBER)
        )
    else:
        text = ctx.t("join-refused-notice", unit=unit.name)
    await queue(
        ctx, key=f"join-decided:{request_id}", member_id=request.member_id, payload=payload(text)
    )
    ctx.say(
        "join-accepted" if accept else "join-refused",
        name=member.full_name if member else "",
        unit=unit.name,
    )
    ctx.result.accepted_choice = True


COMMANDS = (
    Command(("yeucau",), Role.STAFF, lambda ctx, conv, a: list_join_requests(ctx), shows=True),
    # Typed forms of the buttons on a request (the /yeucau line of an admin's /help names them).
    Command(
        ("chapnhan",),
        Role.STAFF,
        lambda ctx, conv, request_id: decide_join_request(ctx, request_id, True),
        read=id_or("join-usage"),
        menu=False,
    ),
    Command(
        ("tuchoi",),
        Role.STAFF,
        lambda ctx, conv, request_id: decide_join_request(ctx, request_id, False),
        read=id_or("join-usage"),
        menu=False,
    ),
)
BUTTONS = (
    Button(
        buttons.JOIN_REQUEST,
        Role.STAFF,
        lambda ctx, conv, act: decide_join_request(ctx, act.id, act.action == "a"),
        typed=lambda act: f"/{'chapnhan' if act.action == 'a' else 'tuchoi'} {act.id}",
    ),
)
