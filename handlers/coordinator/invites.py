"""/moi creates an invite link for a unit and role, and lists the links that still admit people,
each with a button to revoke it (after a confirmation). A coordinator revokes those of their
units, an admin any; the right is checked in the database when the button is pressed, since
button data is untrusted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from handlers.core import buttons, conversation
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.options import unit_options
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.invites import audit_revoked
from handlers.shared.permissions import reviewable_units
from language import vn
from storage import rules
from storage.conversation_state import Answers
from storage.models import Conversation, Invite, Unit
from storage.records.audit import add_audit_entry
from storage.records.invites import create_invite, revoke_invite, usable_invites
from storage.records.units import all_units, units_by_ids


class InviteFlow(Flow):
    form = FormSpec(
        "invite",
        "form-invite",
        (
            FieldSpec("unit", "choice", "label-unit", "ask-invite-unit", source="units"),
            FieldSpec("role", "choice", "label-role", "ask-invite-role", source="roles"),
            FieldSpec(
                "days",
                "number",
                "label-invite-days",
                "ask-invite-days",
                required=False,
                integer=True,
                minimum=Decimal(1),
                maximum=Decimal(365),
                units=("unit-days",),
                example="30",
                default="30",
            ),
            FieldSpec(
                "uses",
                "number",
                "label-invite-uses",
                "ask-invite-uses",
                required=False,
                integer=True,
                minimum=Decimal(1),
                maximum=Decimal(100_000),
                units=("unit-uses",),
                example="50",
                default="50",
            ),
        ),
        confirm_label="button-create-invite",
    )

    async def _unit_ids(self, ctx: Ctx) -> set[int] | None:
        """None means all units (admin)."""
        if await ctx.is_admin():
            return None
        return await ctx.coordinated_units()

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        ids = await self._unit_ids(ctx)
        return ids is None or bool(ids)

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        return await self.choices(ctx)

    async def choices(self, ctx: Ctx) -> FormEnv:
        ids = await self._unit_ids(ctx)
        every = await all_units(ctx.session)
        units = [u for u in every if ids is None or u.id in ids]
        roles = [Option(rules.ROLE_MEMBER, "role-member")]
        if ids is None:
            roles.append(Option(rules.ROLE_COORDINATOR, "role-coordinator"))
        return FormEnv(options={"units": unit_options(units, every), "roles": roles})

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        env = await self.env(ctx, conv)
        if answers["unit"] not in {o.value for o in env.options["units"]} or answers[
            "role"
        ] not in {o.value for o in env.options["roles"]}:
            raise vn.InputError("error-not-allowed")
        days = int(answers["days"] or self.form.field("days").default or 0)
        uses = int(answers["uses"] or self.form.field("uses").default or 0)
        invite = await create_invite(
            ctx.session,
            unit_id=int(answers["unit"]),
            role=answers["role"],
            expires_at=ctx.now + timedelta(days=days),
            max_uses=uses,
            created_by=ctx.member.id,
            now=ctx.now,
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="invite.created",
            object_type="invite",
            object_id=invite.id,
            details={"unit_id": invite.unit_id, "role": invite.role, "days": days, "uses": uses},
        )
        unit = (await units_by_ids(ctx.session, ids=[invite.unit_id]))[invite.unit_id]
        ctx.say(
            "invite-created",
            unit=unit.name,
            role=ctx.t(f"role-{invite.role}"),
            link=how_to_join(ctx, invite.code),
            expires=vn.format_datetime(invite.expires_at, ctx.config.timezone),
            uses=vn.format_number(uses),
        )


FLOW = InviteFlow()
register(FLOW)


def how_to_join(ctx: Ctx, code: str) -> str:
    """The one place that says how to join with a code: a line per channel people are invited
    on here (Telegram's link opens the invite; on Zalo, which carries no payload, the bot's link
    and the code to send), or, where none is (the terminal), how this channel redeems it."""
    ways = ctx.config.channels.join_links(code)
    if not ways:
        return ctx.config.invite_link(ctx.inbound.channel, code)
    return "\n".join(
        ctx.t(
            key if ctx.t.has(key := f"invite-join-{channel}") else "invite-join-other",
            link=link,
            code=code,
            channel=channel,
        )
        for channel, link in ways
    )


# Joiners named under each invite; the rest are counted.
NAMES = 20
ASK, YES, NO = "r", "y", "n"


async def show(ctx: Ctx) -> None:
    units = await reviewable_units(ctx)
    rows, total = await usable_invites(ctx.session, unit_ids=units, now=ctx.now)
    if not rows:
        return
    lines = [ctx.t("invites-head")]
    buttons = []
    for invite, unit, names in rows:
        lines.append(_line(ctx, invite, unit))
        shown = ", ".join(names[:NAMES]) if names else ctx.t("invites-nobody")
        if len(names) > NAMES:
            more = vn.format_number(len(names) - NAMES)
            shown = ctx.t("invites-names-more", names=shown, count=more)
        lines.append("   " + shown)
        label = ctx.t("button-revoke-invite", code=invite.code)
        buttons.append([Choice(label, _data(ASK, invite))])
    if total > len(rows):
        lines.append(ctx.t("invites-more", count=vn.format_number(total - len(rows))))
    ctx.result.say("\n".join(lines), buttons)


def _data(action: str, invite: Invite) -> str:
    return buttons.INVITE(action, invite.id)


def _line(ctx: Ctx, invite: Invite, unit: Unit) -> str:
    return ctx.t(
        "invites-line",
        code=invite.code,
        unit=unit.name,
        role=ctx.t(f"role-{invite.role}"),
        uses=vn.format_number(invite.uses),
        max=vn.format_number(invite.max_uses),
        expires=vn.format_date(invite.expires_at.astimezone(ctx.config.timezone).date()),
    )


async def on_press(ctx: Ctx, action: str, invite_id: int) -> None:
    """Ask, revoke or keep. Forged data changes nothing: an invite that does not exist is not
    found; another unit's is refused (its coordinator learns only that it exists)."""
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    invite = await ctx.session.get(Invite, invite_id)
    if invite is None:
        ctx.say("invite-not-found")
        return
    if units is not None and invite.unit_id not in units:
        ctx.say("error-not-allowed")
        return
    unit = await ctx.session.get(Unit, invite.unit_id)
    assert unit is not None
    if invite.revoked:
        ctx.say("invite-revoke-already", code=invite.code)
        ctx.result.accepted_choice = action != ASK
        return
    if action == ASK:
        ctx.result.say(
            ctx.t("invite-revoke-confirm", line=_line(ctx, invite, unit)),
            [
                [
                    Choice(ctx.t("button-revoke-yes"), _data(YES, invite)),
                    Choice(ctx.t("button-revoke-no"), _data(NO, invite)),
                ]
            ],
        )
        return
    ctx.result.accepted_choice = True
    if action == NO:
        ctx.say("invite-revoke-kept", code=invite.code)
        return
    if not await revoke_invite(ctx.session, invite_id=invite.id):
        ctx.say("invite-revoke-already", code=invite.code)
        return
    await audit_revoked(ctx, [invite], reason="revoked")
    ctx.say("invite-revoked-done", code=invite.code, unit=unit.name)


async def _invite(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await show(ctx)
    # The only unit a coordinator has, and the only role they may invite to, are not asked.
    env = await FLOW.choices(ctx)
    only: Answers = {
        name: options[0].value
        for name, options in (("unit", env.options["units"]), ("role", env.options["roles"]))
        if len(options) == 1
    }
    await conversation.start(ctx, "invite", answers=only, fixed=tuple(only))


COMMANDS = (Command(("moi",), Role.STAFF, _invite, opens="invite"),)
BUTTONS = (
    Button(buttons.INVITE, Role.STAFF, lambda ctx, conv, act: on_press(ctx, act.action, act.id)),
)
