"""Recording that a unit held its commendation conference (hội nghị tuyên dương, khen thưởng)
for a campaign, on a date: what statistics count as "67/89 đơn vị đã tổ chức"."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.core.commands import Role, form
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.options import unit_options
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from language import vn
from storage.models import Campaign, Conference, Conversation, Unit
from storage.records.audit import add_audit_entry
from storage.records.campaigns import all_campaigns, campaigns_exist, conference_of
from storage.records.units import all_units


class ConferenceFlow(AdminFlow):
    form = FormSpec(
        "conference",
        "form-conference",
        (
            FieldSpec(
                "campaign",
                "choice",
                "label-campaign",
                "ask-conference-campaign",
                source="campaigns",
            ),
            FieldSpec("unit", "choice", "label-unit", "ask-conference-unit", source="units"),
            FieldSpec(
                "held_on",
                "date",
                "label-conference-date",
                "ask-conference-date",
                not_after="@today",
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        campaigns = await all_campaigns(ctx.session)
        return FormEnv(
            options={
                "campaigns": [Option(str(c.id), f"{c.name} ({c.code})") for c in campaigns],
                "units": unit_options(await all_units(ctx.session)),
            },
            context={"today": ctx.today.isoformat()},
        )

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        unit = await ctx.session.get(Unit, int(answers["unit"]))
        campaign = await ctx.session.get(Campaign, int(answers["campaign"]))
        if unit is None or not unit.active or campaign is None:
            raise vn.InputError("error-not-allowed")
        held_on = date.fromisoformat(answers["held_on"])
        conference = await conference_of(ctx.session, unit_id=unit.id, campaign_id=campaign.id)
        before = conference.held_on if conference is not None else None
        if conference is None:
            conference = Conference(
                unit_id=unit.id,
                campaign_id=campaign.id,
                held_on=held_on,
                recorded_by=ctx.member.id,
                recorded_at=ctx.now,
            )
            try:
                async with ctx.session.begin_nested():
                    ctx.session.add(conference)
            except IntegrityError:
                # Another admin recorded it at the same moment: theirs is corrected instead.
                conference = await conference_of(
                    ctx.session, unit_id=unit.id, campaign_id=campaign.id, fresh=True
                )
                if conference is None:  # pragma: no cover - the constraint says it exists
                    raise
                before = conference.held_on
        conference.held_on = held_on
        conference.recorded_by = ctx.member.id
        conference.recorded_at = ctx.now
        await ctx.session.flush()
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="conference.recorded",
            object_type="unit",
            object_id=unit.id,
            details={
                "campaign": campaign.code,
                "held_on": held_on.isoformat(),
                **({"before": before.isoformat()} if before else {}),
            },
        )
        ctx.say(
            "conference-updated" if before else "conference-recorded",
            unit=unit.name,
            campaign=campaign.name,
            date=vn.format_date(held_on),
            before=vn.format_date(before) if before else "",
        )


register(ConferenceFlow())


async def any_campaign(ctx: Ctx) -> bool:
    return await campaigns_exist(ctx.session)


async def _any_campaign(ctx: Ctx, args: str) -> str | None:
    if not await any_campaign(ctx):
        ctx.say("conference-no-campaign")
        return None
    return args


COMMANDS = (form("hoinghi", Role.ADMIN, "conference", read=_any_campaign),)
