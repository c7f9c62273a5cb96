"""/dangky registers a model in the open campaign; a returned registration is corrected and sent
again from its page (`handlers/member/models.py`, /mohinh)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.core import buttons, conversation
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.options import unit_options
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared import questions
from language import vn
from storage import rules
from storage.models import Campaign, Conversation, Field, Model, Target, Unit
from storage.records.audit import add_audit_entry
from storage.records.campaigns import open_campaign, registration_campaign
from storage.records.fields import visible_fields
from storage.records.models import (
    assign_model_code,
    model_code,
    model_details,
    title_taken,
)

COLLECTIVE = (("kind", rules.KIND_COLLECTIVE),)
# What its owner may correct and send again: a returned registration, or one that never reached
# the coordinators and was put back among the drafts (`dvk doctor`).
CORRECTABLE = (rules.RETURNED, rules.DRAFT)

REGISTRATION = FormSpec(
    "register",
    "form-register",
    (
        FieldSpec("unit", "choice", "label-model-unit", "ask-model-unit", source="my_units"),
        FieldSpec(
            "kind",
            "choice",
            "label-kind",
            "ask-kind",
            options=tuple(Option(kind, f"kind-{kind}") for kind in rules.KINDS),
        ),
        FieldSpec(
            "collective_name",
            "name",
            "label-collective-name",
            "ask-collective-name",
            max_length=200,
            when=COLLECTIVE,
        ),
        FieldSpec(
            "headcount",
            "number",
            "label-headcount",
            "ask-headcount",
            integer=True,
            minimum=Decimal(2),
            maximum=Decimal(1_000_000),
            when=COLLECTIVE,
            units=("unit-people",),
            example="15",
        ),
        FieldSpec(
            "title",
            "text",
            "label-title",
            "ask-title",
            min_length=5,
            max_length=200,
            check="title",
        ),
        FieldSpec("field", "choice", "label-field", "ask-field", source="fields"),
        FieldSpec(
            "approach",
            "text",
            "label-approach",
            "ask-approach",
            min_length=10,
            max_length=2000,
            multiline=True,
        ),
        FieldSpec(
            "objectives",
            "text",
            "label-objectives",
            "ask-objectives",
            min_length=10,
            max_length=2000,
            multiline=True,
        ),
        FieldSpec(
            "targets",
            "group",
            "label-targets",
            "ask-targets",
            fields=(
                FieldSpec("indicator", "text", "label-indicator", "ask-indicator", max_length=200),
                FieldSpec("unit", "text", "label-measure", "ask-measure", max_length=50),
                FieldSpec(
                    "value",
                    "number",
                    "label-target-value",
                    "ask-target-value",
                    minimum=Decimal("0.001"),
                    unit_from="unit",
                ),
            ),
            max_items=10,
        ),
        FieldSpec(
            "starts_on",
            "date",
            "label-starts-on",
            "ask-model-start",
            not_before="@campaign_starts_on",
            not_after="@campaign_ends_on",
        ),
        FieldSpec(
            "ends_on",
            "date",
            "label-ends-on",
            "ask-model-end",
            not_before="starts_on",
            not_after="@campaign_ends_on",
        ),
    ),
    confirm_label="button-submit",
)


class RegistrationFlow(Flow):
    form = REGISTRATION

    def form_for(self, conv: Conversation) -> FormSpec:
        # The campaign's own questions come last, before the summary.
        extra = questions.fields(conv.context.get("questions", []))
        if not extra:
            return REGISTRATION
        return dataclasses.replace(REGISTRATION, fields=REGISTRATION.fields + extra)

    async def refresh(self, ctx: Ctx, conv: Conversation) -> bool:
        return await questions.refresh(
            ctx, conv, campaign_id=conv.context["campaign_id"], form=questions.REGISTRATION
        )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_member()

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        fields = list(await ctx.once("visible_fields", lambda: visible_fields(ctx.session)))
        kept = await _corrected(ctx, conv)
        own = await ctx.session.get(Field, kept.field_id) if kept is not None else None
        if own is not None and own.hidden:
            # A hidden field is not offered, but a model being corrected keeps its own.
            fields.append(own)
        return FormEnv(
            options={
                "fields": [Option(str(f.id), f.name) for f in fields],
                "my_units": await my_units(ctx, keep=kept.unit_id if kept else None),
            },
            context=dict(conv.context),
        )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.check == "title" and await title_taken(
            ctx.session,
            campaign_id=conv.context["campaign_id"],
            owner_id=ctx.member.id,
            title_key=vn.title_key(value),
            except_model=conv.context.get("model_id"),
        ):
            raise vn.InputError("error-title-taken", title=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        campaign = await ctx.session.get(Campaign, conv.context["campaign_id"])
        if campaign is None or not campaign.starts_on <= ctx.today <= campaign.ends_on:
            # A draft kept for weeks must not land in a campaign that has closed meanwhile.
            raise vn.InputError(
                "register-campaign-closed", campaign=campaign.name if campaign else ""
            )
        if not conv.context.get("model_id") and not campaign.registration_open(ctx.today):
            # New registrations keep to the window; a returned one may still be corrected.
            raise vn.InputError("register-window-closed", **window(campaign))
        kept = await _corrected(ctx, conv)
        unit = await ctx.session.get(Unit, int(answers["unit"]))
        if unit is not None and not unit.active and (kept is None or kept.unit_id != unit.id):
            raise vn.InputError("error-unit-inactive", unit=unit.name)
        keep = kept.unit_id if kept else None
        if answers["unit"] not in {option.value for option in await my_units(ctx, keep=keep)}:
            raise vn.InputError("error-not-allowed")
        asked = conv.context.get("questions", [])
        extra_answers = questions.to_stored(asked, answers)
        if conv.context.get("model_id"):
            await self.check(ctx, conv, REGISTRATION.field("title"), answers["title"])
            await resubmit(ctx, conv.context["model_id"], answers, asked, extra_answers)
            return
        # A title taken since it was typed: the unique constraint below says so, in the same
        # words, without a query of its own.
        model = Model(
            campaign_id=conv.context["campaign_id"],
            owner_id=ctx.member.id,
            status=rules.SUBMITTED,
            extra={"questions": extra_answers} if asked else {},
            submitted_at=ctx.now,
            registered_on=ctx.today,
            created_at=ctx.now,
            updated_at=ctx.now,
            targets=_targets(answers),
        )
        _apply_answers(model, answers)
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(model)
                await ctx.session.flush()
        except IntegrityError:
            # The unique constraint: they have a model of that name in this campaign already.
            await self.check(ctx, conv, REGISTRATION.field("title"), answers["title"])
            raise
        await assign_model_code(ctx.session, model=model)
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="model.submitted",
            object_type="model",
            object_id=model.id,
            details={"title": model.title},
        )
        ctx.result.say(
            ctx.t("register-done", title=model.title, code=model_code(model)),
            [[Choice(ctx.t("button-view-model"), buttons.MODEL(model.id))]],
        )


register(RegistrationFlow())


def _apply_answers(model: Model, answers: dict[str, Any]) -> None:
    model.unit_id = int(answers["unit"])
    model.kind = answers["kind"]
    model.collective_name = answers.get("collective_name")
    model.headcount = int(answers["headcount"]) if answers.get("headcount") else None
    model.title = answers["title"]
    model.title_key = vn.title_key(answers["title"])
    model.field_id = int(answers["field"])
    model.approach = answers["approach"]
    model.objectives = answers["objectives"]
    model.starts_on = date.fromisoformat(answers["starts_on"])
    model.ends_on = date.fromisoformat(answers["ends_on"])


def _targets(answers: dict[str, Any]) -> list[Target]:
    return [
        Target(
            position=i,
            indicator=item["indicator"],
            unit_of_measure=item["unit"],
            target_value=Decimal(item["value"]),
        )
        for i, item in enumerate(answers["targets"], 1)
    ]


def answers_of(model: Model) -> dict[str, Any]:
    """A stored model as form answers, to correct it after a return."""
    answers: dict[str, Any] = {
        "unit": str(model.unit_id),
        "kind": model.kind,
        "title": model.title,
        "field": str(model.field_id),
        "approach": model.approach,
        "objectives": model.objectives,
        "targets": {
            "items": [
                {
                    "indicator": t.indicator,
                    "unit": t.unit_of_measure,
                    "value": format(Decimal(t.target_value).normalize(), "f"),
                }
                for t in model.targets
            ],
            "current": {},
            "open": False,
            "more": False,
        },
        "starts_on": model.starts_on.isoformat(),
        "ends_on": model.ends_on.isoformat(),
    }
    if model.kind == rules.KIND_COLLECTIVE:
        answers["collective_name"] = model.collective_name
        answers["headcount"] = str(model.headcount)
    return answers


async def start_resubmit(ctx: Ctx, model_id: int) -> None:
    """A returned registration opens at its summary, corrected there and sent again."""
    model = await model_details(ctx.session, model_id=model_id)
    if model is None or model.owner_id != ctx.member.id:
        ctx.say("model-not-found")
        return
    if model.status not in CORRECTABLE:
        ctx.say("resubmit-not-returned", status=ctx.t(f"status-{model.status}"))
        return
    if model.status == rules.DRAFT:
        ctx.say("resubmit-draft-intro", title=model.title)
    else:
        ctx.say("resubmit-intro", title=model.title, note=model.review_note or "")
    asked = questions.snapshot(ctx, model.campaign.questions, questions.REGISTRATION)
    stored = (model.extra or {}).get("questions")
    await conversation.start(
        ctx,
        "register",
        {
            "campaign_id": model.campaign_id,
            "campaign_starts_on": model.campaign.starts_on.isoformat(),
            "campaign_ends_on": model.campaign.ends_on.isoformat(),
            "model_id": model.id,
            "questions": asked,
        },
        answers={**answers_of(model), **questions.to_answers(asked, stored)},
    )


async def resubmit(
    ctx: Ctx,
    model_id: int,
    answers: dict[str, Any],
    asked: list[dict[str, Any]],
    extra_answers: dict[str, str],
) -> None:
    model = await model_details(ctx.session, model_id=model_id)
    if model is None or model.owner_id != ctx.member.id or model.status not in CORRECTABLE:
        raise vn.InputError(
            "resubmit-not-returned", status=ctx.t(f"status-{model.status}") if model else ""
        )
    _apply_answers(model, answers)
    old = (model.extra or {}).get("questions")
    if asked or old:
        extra = questions.merged(old, asked, extra_answers)
        model.extra = {**(model.extra or {}), "questions": extra}
    model.targets.clear()
    await ctx.session.flush()
    model.targets.extend(_targets(answers))
    rules.check_transition(model.status, rules.SUBMITTED)
    model.status = rules.SUBMITTED
    model.submitted_at = ctx.now
    model.updated_at = ctx.now
    await ctx.session.flush()
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="model.resubmitted",
        object_type="model",
        object_id=model.id,
        details={"title": model.title},
    )
    ctx.result.say(
        ctx.t("resubmit-done", title=model.title),
        [[Choice(ctx.t("button-view-model"), buttons.MODEL(model.id))]],
    )


async def start_registration(ctx: Ctx) -> None:
    memberships = await ctx.memberships()
    if not memberships:
        ctx.say("error-not-member")
        return
    campaign: Campaign | None = await registration_campaign(ctx.session, today=ctx.today)
    if campaign is None:
        running = await open_campaign(ctx.session, today=ctx.today)
        if running is not None:
            ctx.say("register-window-closed", **window(running))
        else:
            ctx.say("register-no-campaign")
        return
    units = await my_units(ctx)
    if not units:
        ctx.say("register-no-active-unit")
        return
    ctx.say("register-intro", campaign=campaign.name)
    await conversation.start(
        ctx,
        "register",
        {
            "campaign_id": campaign.id,
            "campaign_starts_on": campaign.starts_on.isoformat(),
            "campaign_ends_on": campaign.ends_on.isoformat(),
        },
        # One unit: nothing to ask. Several: the person says which one the model belongs to.
        answers={"unit": units[0].value} if len(units) == 1 else None,
    )


def window(campaign: Campaign) -> dict[str, str]:
    return {
        "campaign": campaign.name,
        "opens": vn.format_date(campaign.registration_opens_on or campaign.starts_on),
        "closes": vn.format_date(campaign.registration_closes_on or campaign.ends_on),
    }


async def my_units(ctx: Ctx, keep: int | None = None) -> list[Option]:
    """The active units a person belongs to, member roles first (a coordinator of A who is a
    member of B registers in B by default); `keep`: a deactivated unit still shown (the unit of
    a returned model being corrected)."""
    memberships = sorted(await ctx.memberships(), key=lambda m: (m.role != rules.ROLE_MEMBER, m.id))
    ids = list(dict.fromkeys(m.unit_id for m in memberships))
    units = await ctx.membership_units()
    return unit_options([units[i] for i in ids if units[i].active or i == keep])


async def _corrected(ctx: Ctx, conv: Conversation) -> Model | None:
    """The returned model this form corrects, if it does."""
    model_id = conv.context.get("model_id")
    return await ctx.session.get(Model, model_id) if model_id else None


COMMANDS = (
    Command(
        ("dangky",), Role.MEMBER, lambda ctx, conv, a: start_registration(ctx), opens="register"
    ),
)
BUTTONS = (Button(buttons.RESUBMIT, Role.ANYONE, command=lambda ref: f"/suadangky {ref.id}"),)
