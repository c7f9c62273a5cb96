"""/baocao: a progress report for the current period of one of the member's models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from handlers.core import buttons, conversation
from handlers.core.commands import ID_RE, Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.types import Choice
from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared import questions
from handlers.shared.views import answer_lines, period_label, progress_text
from language import vn
from storage import rules
from storage.conversation_state import ReportTarget
from storage.models import Conversation, Model, Report, ReportPhoto, ReportValue
from storage.periods import (
    Period,
    accountable_since,
    answers_for,
    period_containing,
    reporting_periods,
)
from storage.records.audit import add_audit_entry
from storage.records.campaigns import campaign_for_reporting
from storage.records.models import model_details, reportable_models
from storage.records.reports import refresh_achieved, report_for

YES_NO = (Option("yes", "answer-yes"), Option("no", "answer-no"))
REPORT = FormSpec("report", "form-report", (), confirm_label="button-send-report")


def model_periods(today: date, model: Model) -> list[Period]:
    """The periods a model can be reported for today, within its dates and its campaign's."""
    campaign = model.campaign
    return reporting_periods(
        today,
        cadence=campaign.cadence,
        due_day=campaign.due_day,
        starts_on=max(model.starts_on, campaign.starts_on),
        ends_on=min(model.ends_on, campaign.ends_on),
    )


async def period_to_report(ctx: Ctx, model: Model) -> Period | None:
    """The previous period while its report is missing (a late report), else the current one;
    None outside the model's dates."""
    periods = model_periods(ctx.today, model)
    for period in periods:
        if await report_for(ctx.session, model_id=model.id, period_start=period.start) is None:
            return period
    return periods[-1] if periods else None


class ReportFlow(Flow):
    form = REPORT

    def form_for(self, conv: Conversation) -> FormSpec:
        values = tuple(
            FieldSpec(
                f"v{target['id']}",
                "number",
                target["label"],
                target["prompt"],
                minimum=Decimal(0),
                # Reports begun before targets carried their unit have none to accept.
                units=(target["unit"],) if target.get("unit") else (),
            )
            for target in conv.context["targets"]
        )
        return FormSpec(
            REPORT.name,
            REPORT.title,
            (
                FieldSpec(
                    "done",
                    "text",
                    "label-report-done",
                    "ask-report-done",
                    min_length=10,
                    max_length=3000,
                    multiline=True,
                ),
                *values,
                FieldSpec(
                    "photos",
                    "photos",
                    "label-report-photos",
                    "ask-report-photos",
                    required=False,
                    max_items=10,
                ),
                FieldSpec(
                    "difficulties",
                    "text",
                    "label-difficulties",
                    "ask-difficulties",
                    required=False,
                    max_length=2000,
                    multiline=True,
                ),
                FieldSpec(
                    "proposals",
                    "text",
                    "label-proposals",
                    "ask-proposals",
                    required=False,
                    max_length=2000,
                    multiline=True,
                ),
                FieldSpec(
                    "completed", "choice", "label-completed", "ask-completed", options=YES_NO
                ),
                # The campaign's own questions come last, before the summary.
                *questions.fields(conv.context.get("questions", [])),
            ),
            confirm_label=REPORT.confirm_label,
        )

    async def refresh(self, ctx: Ctx, conv: Conversation) -> bool:
        campaign_id = conv.context.get("campaign_id")
        if campaign_id is None:  # a draft begun before the campaign was kept in its context
            model = await ctx.session.get(Model, conv.context["model_id"])
            if model is None:
                return False
            campaign_id = model.campaign_id
        return await questions.refresh(ctx, conv, campaign_id=campaign_id, form=questions.REPORT)

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        model = await ctx.session.get(Model, conv.context["model_id"])
        return (
            model is not None
            and model.owner_id == ctx.member.id
            and model.status in (rules.APPROVED, rules.IN_PROGRESS)
        )

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        model = await model_details(ctx.session, model_id=conv.context["model_id"])
        assert model is not None
        start = date.fromisoformat(conv.context["period_start"])
        period = Period(
            start,
            date.fromisoformat(conv.context["period_end"]),
            date.fromisoformat(conv.context["due_on"]),
        )
        # The campaign's rhythm may have been changed (/suadot) since the form began: a report
        # is filed only under a period of the rhythm as it is now.
        # (A shared lock: reports do not wait for each other, only for a change of rhythm.)
        campaign = await campaign_for_reporting(ctx.session, campaign_id=model.campaign_id)
        if campaign is not None and (
            period_containing(start, cadence=campaign.cadence, due_day=campaign.due_day) != period
        ):
            raise vn.InputError("report-period-changed")
        report = await report_for(ctx.session, model_id=model.id, period_start=start)
        if report is not None and not conv.context.get("replace"):
            raise vn.InputError("report-exists-now")
        if report is None:
            report = Report(model_id=model.id, period_start=start, replaced=0, extra={})
            ctx.session.add(report)
        else:
            report.replaced += 1
            report.values.clear()
            report.photos.clear()
            await ctx.session.flush()
        report.member_id = ctx.member.id
        report.period_end = period.end
        report.due_on = period.due
        report.done_text = answers["done"]
        report.difficulties = answers.get("difficulties")
        report.proposals = answers.get("proposals")
        report.completed = answers["completed"] == "yes"
        # Not late for a period that was due before the model was approved.
        since = accountable_since(model.reviewed_at, model.registered_on)
        report.late = ctx.today > period.due and answers_for(period, since)
        report.submitted_at = ctx.now
        asked = conv.context.get("questions", [])
        if asked or (report.extra or {}).get("questions"):
            # A replacing report replaces the answers too.
            extra_answers = questions.to_stored(asked, answers)
            report.extra = {**(report.extra or {}), "questions": extra_answers}
        report.values.extend(
            ReportValue(target_id=target.id, value=Decimal(answers[f"v{target.id}"]))
            for target in model.targets
        )
        media = engine.photo_media(conv.state, "photos")
        report.photos.extend(
            ReportPhoto(position=i, file_id=file_id, media_key=key)
            for i, (file_id, key) in enumerate(
                zip(answers.get("photos") or [], media, strict=True), 1
            )
        )
        await refresh_achieved(ctx.session, target_ids=[t.id for t in model.targets])
        if model.status == rules.APPROVED:
            rules.check_transition(model.status, rules.IN_PROGRESS)
            model.status = rules.IN_PROGRESS
        if report.completed:
            rules.check_transition(model.status, rules.COMPLETED)
            model.status = rules.COMPLETED
        model.updated_at = ctx.now
        await ctx.session.flush()
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="report.replaced" if report.replaced else "report.submitted",
            object_type="report",
            object_id=report.id,
            details={"model_id": model.id, "period": period.key(), "late": report.late},
        )
        label = period_label(ctx.t, period, model.campaign.cadence)
        lines = [ctx.t("report-done", period=label, title=model.title)]
        lines += answer_lines(model, report)
        if report.late:
            lines.append(ctx.t("report-late", due=vn.format_date(period.due)))
        if report.completed:
            lines.append(ctx.t("report-model-completed"))
        lines.append(await progress_text(ctx, model))
        ctx.result.say("\n".join(lines))


register(ReportFlow())


async def choose_model(ctx: Ctx) -> None:
    """/baocao: straight to the form when there is one model, else a choice."""
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    models = await reportable_models(ctx.session, owner_id=ctx.member.id)
    if not models:
        ctx.say("report-no-models")
        return
    if len(models) == 1:
        await start_report(ctx, models[0].id)
        return
    ctx.result.say(
        ctx.t("report-choose-model"),
        [[Choice(model.title[:60], buttons.REPORT(model.id))] for model in models],
    )


async def start_report(ctx: Ctx, model_id: int, *, replace: bool = False) -> None:
    model = await model_details(ctx.session, model_id=model_id)
    if model is None or model.owner_id != ctx.member.id:
        ctx.say("model-not-found")
        return
    if model.status not in (rules.APPROVED, rules.IN_PROGRESS):
        ctx.say("report-not-open", status=ctx.t(f"status-{model.status}"))
        return
    period = await period_to_report(ctx, model)
    if period is None:
        ctx.say(
            "report-outside-dates",
            start=vn.format_date(model.starts_on),
            end=vn.format_date(model.ends_on),
        )
        return
    label = period_label(ctx.t, period, model.campaign.cadence)
    existing = await report_for(ctx.session, model_id=model.id, period_start=period.start)
    if existing is not None and not replace:
        ctx.result.say(
            ctx.t(
                "report-exists",
                period=label,
                at=vn.format_datetime(existing.submitted_at, ctx.config.timezone),
            ),
            [[Choice(ctx.t("button-replace-report"), buttons.REPORT(model.id, True))]],
        )
        return
    ctx.say("report-intro", title=model.title, period=label, due=vn.format_date(period.due))
    targets: list[ReportTarget] = [
        {
            "id": target.id,
            "label": target.indicator,
            "unit": target.unit_of_measure,
            "prompt": ctx.t(
                "ask-report-value",
                indicator=target.indicator,
                unit=target.unit_of_measure,
                target=vn.format_number(target.target_value),
            ),
        }
        for target in model.targets
    ]
    await conversation.start(
        ctx,
        "report",
        {
            "model_id": model.id,
            "campaign_id": model.campaign_id,
            "targets": targets,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "due_on": period.due.isoformat(),
            "replace": replace,
        },
    )


def _asked(args: str) -> int | None:
    """/baocao [MODEL ID [thaythe]]: the model asked for, if any."""
    first = args.split()[:1]
    return int(first[0]) if first and ID_RE.fullmatch(first[0]) else None


async def _report(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    model_id = _asked(args)
    if model_id is None:
        await choose_model(ctx)
    else:
        await start_report(ctx, model_id, replace=args.split()[1:2] == ["thaythe"])


COMMANDS = (
    Command(
        ("baocao",),
        Role.MEMBER,
        _report,
        opens="report",
        # Another model's report is not this one, but /baocao alone resumes whichever is open.
        same=lambda conv, args: _asked(args) in (None, conv.context.get("model_id")),
    ),
)
BUTTONS = (
    Button(
        buttons.REPORT,
        Role.ANYONE,
        command=lambda ref: f"/baocao {ref.id}" + (" thaythe" if ref.replace else ""),
    ),
)
