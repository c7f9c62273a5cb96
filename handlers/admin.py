"""What admins (and, for their own units, coordinators) set up: units, invite links, campaigns,
and the decision on join requests. Every action checks the role in the database when applied."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from handlers import vn
from handlers.context import Ctx
from handlers.flow import Flow, register
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.notify import decision_buttons, payload, queue
from handlers.options import unit_options
from storage import queries, rules
from storage.models import Conversation, JoinRequest, Member

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def _code(value: str) -> None:
    if not CODE_RE.match(value):
        raise vn.InputError("error-code")


class AdminFlow(Flow):
    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin()


class UnitFlow(AdminFlow):
    form = FormSpec(
        "unit",
        "form-unit",
        (
            FieldSpec("code", "text", "label-unit-code", "ask-unit-code", max_length=32),
            FieldSpec(
                "name", "text", "label-unit-name", "ask-unit-name", max_length=200, readable=True
            ),
            FieldSpec(
                "parent",
                "choice",
                "label-unit-parent",
                "ask-unit-parent",
                source="units",
                required=False,
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        units = await queries.all_units(ctx.session)
        return FormEnv(options={"units": unit_options(units)})

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "code":
            _code(value)
            if await queries.unit_by_code(ctx.session, code=value):
                raise vn.InputError("error-unit-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if await queries.unit_by_code(ctx.session, code=answers["code"]):
            raise vn.InputError("error-unit-code-taken", code=answers["code"])
        parent = int(answers["parent"]) if answers.get("parent") else None
        unit = await queries.add_unit(
            ctx.session, code=answers["code"], name=answers["name"], parent_id=parent, now=ctx.now
        )
        await queries.audit(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="unit.added",
            object_type="unit",
            object_id=unit.id,
            details={"code": unit.code},
        )
        ctx.say("unit-added", code=unit.code, name=unit.name)


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
            ),
        ),
        confirm_label="button-create-invite",
    )

    async def _unit_ids(self, ctx: Ctx) -> set[int] | None:
        """None means all units (admin)."""
        if await ctx.is_admin():
            return None
        return await queries.coordinated_unit_ids(ctx.session, member_id=ctx.member.id)

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        ids = await self._unit_ids(ctx)
        return ids is None or bool(ids)

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        ids = await self._unit_ids(ctx)
        every = await queries.all_units(ctx.session)
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
        days = int(answers["days"] or 30)
        uses = int(answers["uses"] or 50)
        invite = await queries.create_invite(
            ctx.session,
            unit_id=int(answers["unit"]),
            role=answers["role"],
            expires_at=ctx.now + timedelta(days=days),
            max_uses=uses,
            created_by=ctx.member.id,
            now=ctx.now,
        )
        await queries.audit(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="invite.created",
            object_type="invite",
            object_id=invite.id,
            details={"unit_id": invite.unit_id, "role": invite.role, "days": days, "uses": uses},
        )
        unit = (await queries.units_by_ids(ctx.session, ids=[invite.unit_id]))[invite.unit_id]
        ctx.say(
            "invite-created",
            unit=unit.name,
            role=ctx.t(f"role-{invite.role}"),
            link=ctx.config.invite_link(ctx.inbound.channel, invite.code),
            expires=vn.format_datetime(invite.expires_at, ctx.config.timezone),
            uses=vn.format_number(uses),
        )


def campaign_values(answers: dict[str, Any]) -> dict[str, Any]:
    """The campaign form's answers as the campaign's columns (/taodot and /suadot), checked to
    hold together: it ends after it starts, and registrations open and close within it (a
    window left open takes the campaign's own dates). Checked at confirmation, since a date
    changed from the summary may leave another one outside."""

    def day(name: str) -> date | None:
        return date.fromisoformat(answers[name]) if answers.get(name) else None

    values = {
        "code": answers["code"],
        "name": answers["name"],
        "starts_on": day("starts_on"),
        "ends_on": day("ends_on"),
        "cadence": answers["cadence"],
        "due_day": int(answers["due_day"]) if answers.get("due_day") else 25,
        "registration_opens_on": day("registration_opens_on"),
        "registration_closes_on": day("registration_closes_on"),
    }
    starts_on, ends_on = values["starts_on"], values["ends_on"]
    opens = values["registration_opens_on"] or starts_on
    closes = values["registration_closes_on"] or ends_on
    if not starts_on <= ends_on:
        raise vn.InputError("error-date-before", min=vn.format_date(starts_on))
    if not starts_on <= opens <= closes <= ends_on:
        raise vn.InputError(
            "campaign-window-outside",
            opens=vn.format_date(opens),
            closes=vn.format_date(closes),
            start=vn.format_date(starts_on),
            end=vn.format_date(ends_on),
        )
    return values


class CampaignFlow(AdminFlow):
    form = FormSpec(
        "campaign",
        "form-campaign",
        (
            FieldSpec("code", "text", "label-campaign-code", "ask-campaign-code", max_length=32),
            FieldSpec("name", "text", "label-campaign-name", "ask-campaign-name", max_length=200),
            FieldSpec("starts_on", "date", "label-starts-on", "ask-campaign-start"),
            FieldSpec(
                "ends_on", "date", "label-ends-on", "ask-campaign-end", not_before="starts_on"
            ),
            FieldSpec(
                "cadence",
                "choice",
                "label-cadence",
                "ask-cadence",
                options=(
                    Option("monthly", "cadence-monthly"),
                    Option("quarterly", "cadence-quarterly"),
                ),
            ),
            FieldSpec(
                "due_day",
                "number",
                "label-due-day",
                "ask-due-day",
                required=False,
                integer=True,
                minimum=Decimal(1),
                maximum=Decimal(31),
            ),
            FieldSpec(
                "registration_opens_on",
                "date",
                "label-registration-opens",
                "ask-registration-opens",
                required=False,
                not_before="starts_on",
                not_after="ends_on",
            ),
            FieldSpec(
                "registration_closes_on",
                "date",
                "label-registration-closes",
                "ask-registration-closes",
                required=False,
                not_before="registration_opens_on",
                not_after="ends_on",
            ),
        ),
    )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "code":
            _code(value)
            if await queries.campaign_by_code(ctx.session, code=value):
                raise vn.InputError("error-campaign-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if await queries.campaign_by_code(ctx.session, code=answers["code"]):
            raise vn.InputError("error-campaign-code-taken", code=answers["code"])
        values = campaign_values(answers)
        campaign = await queries.add_campaign(
            ctx.session,
            code=values["code"],
            name=values["name"],
            starts_on=values["starts_on"],
            ends_on=values["ends_on"],
            now=ctx.now,
        )
        for name in ("cadence", "due_day", "registration_opens_on", "registration_closes_on"):
            setattr(campaign, name, values[name])
        await queries.audit(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="campaign.created",
            object_type="campaign",
            object_id=campaign.id,
            details={"code": campaign.code},
        )
        ctx.say(
            "campaign-created",
            name=campaign.name,
            code=campaign.code,
            start=vn.format_date(campaign.starts_on),
            end=vn.format_date(campaign.ends_on),
        )
        ctx.say(
            "campaign-created-details",
            cadence=ctx.t(f"cadence-{campaign.cadence}"),
            due_day=campaign.due_day,
            opens=vn.format_date(campaign.registration_opens_on or campaign.starts_on),
            closes=vn.format_date(campaign.registration_closes_on or campaign.ends_on),
        )


register(UnitFlow())
register(InviteFlow())
register(CampaignFlow())


async def reviewable_units(ctx: Ctx) -> set[int] | None:
    """Units whose join requests this person may decide; None for all (admin)."""
    if await ctx.is_admin():
        return None
    return await queries.coordinated_unit_ids(ctx.session, member_id=ctx.member.id)


async def list_join_requests(ctx: Ctx) -> None:
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    rows = await queries.pending_join_requests(ctx.session, unit_ids=units)
    if not rows:
        ctx.say("join-none-pending")
        return
    for request, member, unit in rows:
        ctx.result.say(
            _request_text(ctx, request, member, unit.name), decision_buttons(ctx, request.id)
        )


def _request_text(ctx: Ctx, request: JoinRequest, member: Member, unit_name: str) -> str:
    return ctx.t(
        "join-request-item",
        id=request.id,
        name=member.full_name or "",
        category=ctx.t(f"category-{member.category}") if member.category else "",
        unit=unit_name,
        phone=member.phone or ctx.t("form-skipped"),
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
    target = (await queries.units_by_ids(ctx.session, ids=[request.unit_id]))[request.unit_id]
    if accept and not target.active:
        # A deactivated unit takes nobody new; the request can still be refused.
        ctx.say("join-unit-inactive", unit=target.name)
        return
    status = rules.JOIN_ACCEPTED if accept else rules.JOIN_REFUSED
    if not await queries.decide_join_request(
        ctx.session, request_id=request_id, status=status, decided_by=ctx.member.id, now=ctx.now
    ):
        ctx.say("join-already-decided")
        return
    await queries.audit(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action=f"join.{status}",
        object_type="join_request",
        object_id=request_id,
        details={"unit_id": request.unit_id},
    )
    member = await ctx.session.get(Member, request.member_id)
    unit = (await queries.units_by_ids(ctx.session, ids=[request.unit_id]))[request.unit_id]
    if accept:
        await queries.add_membership(
            ctx.session,
            member_id=request.member_id,
            unit_id=request.unit_id,
            role=rules.ROLE_MEMBER,
            now=ctx.now,
        )
        text = ctx.t("join-accepted-notice", unit=unit.name) + "\n\n" + ctx.t("help-member")
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


async def list_units(ctx: Ctx) -> None:
    units = await queries.all_units(ctx.session, active_only=False)
    if not units:
        ctx.say("units-none")
        return
    by_id = {u.id: u for u in units}
    lines = [ctx.t("units-head", count=vn.format_number(len(units)))]
    for unit in units[:200]:
        parent = by_id.get(unit.parent_id) if unit.parent_id else None
        line = f"• {unit.code} — {unit.name}" + (f" ({parent.code})" if parent else "")
        lines.append(line if unit.active else f"{line} {ctx.t('unit-inactive-mark')}")
    if len(units) > 200:
        lines.append(ctx.t("units-more", count=vn.format_number(len(units) - 200)))
    ctx.result.say("\n".join(lines))
