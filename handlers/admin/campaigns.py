"""/taodot and /suadot: an admin creates a campaign (đợt phát động), and changes one — its code,
name, dates, reporting rhythm and registration window — through the same form, opened at its
summary with the campaign's current values."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.core import buttons
from handlers.core.commands import Button, Command, Role, form
from handlers.core.context import Ctx
from handlers.core.conversation import start
from handlers.core.flow import AdminFlow, register
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared.codes import check_code
from language import vn
from storage.models import Campaign, Conversation
from storage.records.audit import add_audit_entry
from storage.records.campaigns import (
    add_campaign,
    campaign_by_code,
    campaign_for_update,
    recent_campaigns,
)
from storage.records.reports import reports_in_campaign

DUE_DAY = 25  # reports are due on this day of a period's last month, unless the admin says


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
        "due_day": int(answers["due_day"]) if answers.get("due_day") else DUE_DAY,
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
                example="25",
                default=str(DUE_DAY),
            ),
            FieldSpec(
                "registration_opens_on",
                "date",
                "label-registration-opens",
                "ask-registration-opens",
                required=False,
                not_before="starts_on",
                not_after="ends_on",
                default_from="starts_on",
            ),
            FieldSpec(
                "registration_closes_on",
                "date",
                "label-registration-closes",
                "ask-registration-closes",
                required=False,
                not_before="registration_opens_on",
                not_after="ends_on",
                default_from="ends_on",
            ),
        ),
    )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "code":
            check_code(value)
            if await campaign_by_code(ctx.session, code=value):
                raise vn.InputError("error-campaign-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if await campaign_by_code(ctx.session, code=answers["code"]):
            raise vn.InputError("error-campaign-code-taken", code=answers["code"])
        values = campaign_values(answers)
        campaign = await add_campaign(
            ctx.session,
            code=values["code"],
            name=values["name"],
            starts_on=values["starts_on"],
            ends_on=values["ends_on"],
            now=ctx.now,
        )
        for name in ("cadence", "due_day", "registration_opens_on", "registration_closes_on"):
            setattr(campaign, name, values[name])
        await add_audit_entry(
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


register(CampaignFlow())


FIELDS = (
    "code",
    "name",
    "starts_on",
    "ends_on",
    "cadence",
    "due_day",
    "registration_opens_on",
    "registration_closes_on",
)


class EditCampaignFlow(CampaignFlow):
    form = dataclasses.replace(CampaignFlow.form, name="campaign_edit", title="form-campaign-edit")

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "code":
            check_code(value)
            other = await campaign_by_code(ctx.session, code=value)
            if other is not None and other.id != conv.context["campaign_id"]:
                raise vn.InputError("error-campaign-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        campaign = await campaign_for_update(ctx.session, campaign_id=conv.context["campaign_id"])
        if campaign is None:
            raise vn.InputError("campaign-not-found")
        spec = self.form.field("code")
        await self.check(ctx, conv, spec, answers["code"])
        new = campaign_values(answers)
        if new["cadence"] != campaign.cadence or new["due_day"] != campaign.due_day:
            # Reports already filed by periods of the old rhythm would no longer match them.
            reported = await reports_in_campaign(ctx.session, campaign_id=campaign.id)
            if reported:
                raise vn.InputError("campaign-rhythm-locked", reports=vn.format_number(reported))
        changed = {
            name: [_shown(getattr(campaign, name)), _shown(value)]
            for name, value in new.items()
            if getattr(campaign, name) != value
        }
        try:
            async with ctx.session.begin_nested():
                for name, value in new.items():
                    setattr(campaign, name, value)
        except IntegrityError as error:
            # Another admin gave that code to another campaign a moment ago.
            raise vn.InputError("error-campaign-code-taken", code=new["code"]) from error
        if changed:
            await add_audit_entry(
                ctx.session,
                at=ctx.now,
                actor_id=ctx.member.id,
                action="campaign.updated",
                object_type="campaign",
                object_id=campaign.id,
                details={"code": campaign.code, "changed": changed},
            )
        ctx.say(
            "campaign-updated" if changed else "campaign-unchanged",
            name=campaign.name,
            code=campaign.code,
        )


register(EditCampaignFlow())


def _shown(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def answers_of(campaign: Campaign) -> dict[str, Any]:
    """The form's answers for a stored campaign (as the engine keeps them)."""
    values: dict[str, Any] = {name: getattr(campaign, name) for name in FIELDS}
    for name, value in values.items():
        if isinstance(value, date):
            values[name] = value.isoformat()
    values["due_day"] = str(campaign.due_day)
    # An empty window is an answered (skipped) question, not one still to ask.
    return values


async def edit(ctx: Ctx, campaign_id: int) -> None:
    """Open the campaign form at its summary with the campaign's values (admins only)."""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    campaign = await ctx.session.get(Campaign, campaign_id)
    if campaign is None:
        ctx.say("campaign-not-found")
        return
    await start(ctx, "campaign_edit", {"campaign_id": campaign.id}, answers_of(campaign))


async def choose(ctx: Ctx, code: str) -> int | None:
    """The campaign /suadot is about: by code, the only one, or None after offering a list."""
    if code:
        campaign = await campaign_by_code(ctx.session, code=code[:32])
        if campaign is None:
            ctx.say("stats-no-campaign", code=code[:32])
            return None
        return campaign.id
    campaigns = await recent_campaigns(ctx.session, limit=20)
    if not campaigns:
        ctx.say("conference-no-campaign")
        return None
    if len(campaigns) == 1:
        return campaigns[0].id
    ctx.result.say(
        ctx.t("campaign-choose-edit"),
        [[Choice(f"{c.name} ({c.code})", buttons.CAMPAIGN_EDIT(c.id))] for c in campaigns],
    )
    return None


COMMANDS = (
    form("taodot", Role.ADMIN, "campaign"),
    Command(
        ("suadot",),
        Role.ADMIN,
        lambda ctx, conv, campaign_id: edit(ctx, campaign_id),
        read=choose,
        opens="campaign_edit",
        same=lambda conv, campaign_id: conv.context.get("campaign_id") == campaign_id,
    ),
)
BUTTONS = (
    Button(
        buttons.CAMPAIGN_EDIT,
        Role.ADMIN,
        lambda ctx, conv, ref: edit(ctx, ref.id),
        opens="campaign_edit",
        same=lambda conv, ref: conv.context.get("campaign_id") == ref.id,
    ),
)
