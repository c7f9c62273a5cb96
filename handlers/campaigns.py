"""/suadot: an admin changes a campaign (đợt phát động) — its code, name, dates, reporting
rhythm and registration window — through the campaign form, opened at its summary with the
campaign's current values."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from handlers import vn
from handlers.admin import CampaignFlow, _code, campaign_values
from handlers.context import Ctx
from handlers.conversation import start
from handlers.flow import register
from handlers.forms.spec import FieldSpec
from handlers.types import Choice
from storage import queries
from storage.models import Campaign, Conversation, Model, Report

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
            _code(value)
            other = await queries.campaign_by_code(ctx.session, code=value)
            if other is not None and other.id != conv.context["campaign_id"]:
                raise vn.InputError("error-campaign-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        campaign = await queries.campaign_for_update(
            ctx.session, campaign_id=conv.context["campaign_id"]
        )
        if campaign is None:
            raise vn.InputError("campaign-gone")
        spec = self.form.field("code")
        await self.check(ctx, conv, spec, answers["code"])
        new = campaign_values(answers)
        if new["cadence"] != campaign.cadence or new["due_day"] != campaign.due_day:
            # Reports already filed by periods of the old rhythm would no longer match them.
            reported = await ctx.session.scalar(
                select(func.count())
                .select_from(Report)
                .join(Model, Model.id == Report.model_id)
                .where(Model.campaign_id == campaign.id)
            )
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
            await queries.audit(
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
        ctx.say("campaign-gone")
        return
    await start(ctx, "campaign_edit", {"campaign_id": campaign.id}, answers_of(campaign))


async def choose(ctx: Ctx, code: str) -> int | None:
    """The campaign /suadot is about: by code, the only one, or None after offering a list."""
    if code:
        campaign = await queries.campaign_by_code(ctx.session, code=code[:32])
        if campaign is None:
            ctx.say("stats-no-campaign", code=code[:32])
            return None
        return campaign.id
    campaigns = (
        await ctx.session.scalars(
            select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(20)
        )
    ).all()
    if not campaigns:
        ctx.say("conference-no-campaign")
        return None
    if len(campaigns) == 1:
        return campaigns[0].id
    ctx.result.say(
        ctx.t("campaign-choose-edit"),
        [[Choice(f"{c.name} ({c.code})", f"cd:{c.id}")] for c in campaigns],
    )
    return None
