"""Joining: through an invite link (placed in its unit with its role), or by asking to join a unit
chosen from the list (a join request an admin or a coordinator of that unit decides)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers.core import consent, conversation, menu, notify
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.drafts import busy
from handlers.core.flow import Flow, register
from handlers.core.options import unit_options
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from language import vn
from storage import rules
from storage.models import Conversation, Invite, Unit
from storage.records.audit import add_audit_entry
from storage.records.invites import (
    WRONG_CODE,
    add_join_request,
    code_key,
    consume_invite,
    invite_by_code,
    invite_unusable_reason,
    pending_join_request,
    wrong_codes_since,
)
from storage.records.people import add_membership
from storage.records.units import all_units, units_by_ids

# Wrong invite codes a person may send in an hour before codes are refused unread.
WRONG_CODES = 5
WINDOW = timedelta(hours=1)

NAME = FieldSpec("full_name", "name", "label-full-name", "ask-full-name", max_length=100)
CATEGORY = FieldSpec(
    "category",
    "choice",
    "label-category",
    "ask-category",
    options=tuple(Option(code, f"category-{code}") for code in rules.CATEGORIES),
)
PHONE = FieldSpec("phone", "phone", "label-phone", "ask-phone", required=False)


def _apply_profile(ctx: Ctx, answers: dict[str, Any]) -> None:
    ctx.member.full_name = answers["full_name"]
    ctx.member.category = answers["category"]
    ctx.member.phone = answers.get("phone")


async def join_unit(ctx: Ctx, *, unit_id: int, role: str, invite_id: int | None) -> None:
    await add_membership(
        ctx.session,
        member_id=ctx.member.id,
        unit_id=unit_id,
        role=role,
        invite_id=invite_id,
        now=ctx.now,
    )
    ctx.person_changed()
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="member.joined",
        object_type="unit",
        object_id=unit_id,
        details={"role": role, "invite_id": invite_id},
    )
    if role == rules.ROLE_COORDINATOR:
        ctx.result.roles_changed.append((ctx.inbound.channel, ctx.inbound.external_id))


async def welcome(ctx: Ctx, unit_id: int, role: str) -> None:
    unit = (await units_by_ids(ctx.session, ids=[unit_id]))[unit_id]
    ctx.say(
        "welcome-joined",
        name=ctx.member.full_name or "",
        unit=unit.name,
        role=ctx.t(f"role-{role}"),
    )
    ctx.result.say(menu.help_section(ctx.t, Role.MEMBER))
    if role == rules.ROLE_COORDINATOR:
        ctx.result.say(menu.help_section(ctx.t, Role.STAFF))


async def _unit_of(ctx: Ctx, invite: Invite) -> Unit | None:
    """The invite's unit, read once in the update (`invite_problem` looks at it first)."""
    return await ctx.once(f"unit:{invite.unit_id}", lambda: ctx.session.get(Unit, invite.unit_id))


async def _unit(ctx: Ctx, invite: Invite) -> Unit:
    unit = await _unit_of(ctx, invite)
    assert unit is not None  # the invite's foreign key
    return unit


async def invite_problem(ctx: Ctx, invite: Invite | None) -> str | None:
    """Why an invite cannot be used now, if it cannot: also when its unit was deactivated
    (which revokes its invites too; the unit is the better reason to give)."""
    if invite is not None:
        unit = await _unit_of(ctx, invite)
        if unit is None or not unit.active:
            return "unit_inactive"
    return invite_unusable_reason(invite, now=ctx.now)


class ProfileFlow(Flow):
    """After an invite link: who are you? The invite is checked again when the form completes."""

    form = FormSpec("profile", "form-profile", (NAME, CATEGORY, PHONE), summary=False)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        invite = await invite_by_code(ctx.session, code=conv.context["invite"])
        problem = await invite_problem(ctx, invite)
        if (
            problem is None
            and invite is not None
            and not await consume_invite(ctx.session, invite_id=invite.id)
        ):
            problem = "used_up"
        if problem is not None or invite is None:
            raise vn.InputError(f"invite-{problem}")
        _apply_profile(ctx, answers)
        await join_unit(ctx, unit_id=invite.unit_id, role=invite.role, invite_id=invite.id)
        await welcome(ctx, invite.unit_id, invite.role)


class JoinFlow(Flow):
    form = FormSpec(
        "join",
        "form-join",
        (
            NAME,
            CATEGORY,
            FieldSpec("unit", "choice", "label-unit", "ask-unit", source="units", page_size=8),
            PHONE,
        ),
        confirm_label="button-send-request",
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        units = await all_units(ctx.session)
        return FormEnv(options={"units": unit_options(units)})

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if await pending_join_request(ctx.session, member_id=ctx.member.id):
            raise vn.InputError("join-already-pending")
        unit_id = int(answers["unit"])
        chosen = await ctx.session.get(Unit, unit_id)
        if chosen is None or not chosen.active:
            # Deactivated while the form was open.
            raise vn.InputError("error-unit-inactive", unit=chosen.name if chosen else "")
        _apply_profile(ctx, answers)
        request = await add_join_request(
            ctx.session, member_id=ctx.member.id, unit_id=unit_id, now=ctx.now
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="join.requested",
            object_type="join_request",
            object_id=request.id,
            details={"unit_id": unit_id},
        )
        unit = (await units_by_ids(ctx.session, ids=[unit_id]))[unit_id]
        ctx.say("join-sent", unit=unit.name)
        await notify.join_request_to_reviewers(ctx, request.id, unit)


register(ProfileFlow())
register(JoinFlow())


async def start_command(ctx: Ctx, code: str | None) -> None:
    """/start, with or without an invite code."""
    if code:
        wrong = await wrong_codes_since(
            ctx.session, member_id=ctx.member.id, since=ctx.now - WINDOW
        )
        if wrong >= WRONG_CODES:
            # Someone trying codes: even a right one is not looked at until the hour has passed.
            ctx.say("invite-too-many-wrong")
            return
        if ctx.member.full_name is None and not await consent.agreed(ctx):
            # The notice first, before the code is even looked at: someone who declines leaves
            # nothing behind (a wrong code would be on record).
            key = code_key(code)
            if key is not None:
                consent.show_notice(ctx, code=key)
                return
        invite = await invite_by_code(ctx.session, code=code)
        if invite is None:
            await add_audit_entry(
                ctx.session,
                at=ctx.now,
                actor_id=ctx.member.id,
                action=WRONG_CODE,
                details={"code": code[:40]},
            )
        problem = await invite_problem(ctx, invite)
        if problem is not None or invite is None:
            ctx.say(f"invite-{problem}")
            return
        memberships = await ctx.memberships()
        if any(m.unit_id == invite.unit_id and m.role == invite.role for m in memberships):
            unit = await _unit(ctx, invite)
            ctx.say("invite-already-member", unit=unit.name)
            return
        if ctx.member.full_name and ctx.member.category:
            # Known already (joined another unit before): no need to ask again.
            if not await consume_invite(ctx.session, invite_id=invite.id):
                ctx.say("invite-used_up")
                return
            await join_unit(ctx, unit_id=invite.unit_id, role=invite.role, invite_id=invite.id)
            await welcome(ctx, invite.unit_id, invite.role)
            return
        unit = await _unit(ctx, invite)
        ctx.say("invite-hello", unit=unit.name, role=ctx.t(f"role-{invite.role}"))
        await conversation.start(ctx, "profile", {"invite": invite.code})
        return
    if await ctx.is_member():
        ctx.say("welcome-back", name=ctx.member.full_name or "")
        return
    if await pending_join_request(ctx.session, member_id=ctx.member.id):
        ctx.say("join-already-pending")
        return
    if await ctx.is_admin():
        ctx.say("welcome-admin")
        return
    agreed = await consent.agreed(ctx)
    if agreed:
        ctx.say("start-no-invite")
    else:
        consent.show_notice(ctx)
    channel, external_id = ctx.inbound.channel, ctx.inbound.external_id
    if ctx.config.bootstrap_admins.get(channel) == set():
        # This channel has no admin named yet: whoever sets the bot up needs their id here.
        ctx.say("start-your-id", entry=f"{channel}:{external_id}")
    if agreed:
        await conversation.start(ctx, "join")


async def _start(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    # The whole argument is the code: typed, it may be split by a space ("abcd efgh").
    code = args.strip() or None
    if conv is not None:
        if code is None:
            await conversation.resume(ctx, conv, note=ctx.t("draft-resumed"))
            return
        key = code_key(code)
        same = key is not None and code_key(conv.context.get("invite", "")) == key
        if await busy(ctx, conv, "profile", same=same):
            return
    await start_command(ctx, code)


COMMANDS = (Command(("start",), Role.ANYONE, _start, help=False),)
