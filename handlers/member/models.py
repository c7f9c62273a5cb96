"""/mohinh: a member's own models, each with its page (details, progress, reports) and what may
be done with it now (correct and send again, report)."""

from __future__ import annotations

from handlers.core import buttons
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.types import Choice
from handlers.member.registration import CORRECTABLE
from handlers.shared.views import answer_lines, model_lines, period_label, progress_text
from language import vn
from storage import rules
from storage.periods import Period
from storage.records.models import model_code, model_details, models_of
from storage.records.reports import reports_of


async def list_models(ctx: Ctx) -> None:
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    models = await models_of(ctx.session, owner_id=ctx.member.id)
    if not models:
        ctx.say("models-none")
        return
    lines = [ctx.t("models-head", count=len(models))]
    rows = []
    # Each by its code, the number it goes by everywhere (not its place in this list).
    for model in models:
        code = model_code(model)
        lines.append(f"{code} · {model.title} — {ctx.t(f'status-{model.status}')}")
        rows.append([Choice(f"{code} · {model.title}"[:60], buttons.MODEL(model.id))])
    ctx.result.say("\n".join(lines), rows)


async def show_model(ctx: Ctx, model_id: int) -> None:
    model = await model_details(ctx.session, model_id=model_id)
    # Only the owner sees the page here; coordinators get theirs in the review screens.
    if model is None or model.owner_id != ctx.member.id:
        ctx.say("model-not-found")
        return
    t = ctx.t
    lines = model_lines(ctx, model)
    if model.status == rules.RETURNED and model.review_note:
        lines.append(f"• {t('label-review-note')}: {model.review_note}")
    choices = []
    if model.status in CORRECTABLE:
        choices.append([Choice(t("button-edit-resubmit"), buttons.RESUBMIT(model.id))])
    if model.status not in (rules.SUBMITTED, rules.RETURNED, rules.REJECTED, rules.DRAFT):
        lines.append("")
        lines.append(await progress_text(ctx, model))
        lines.append(t("label-reports") + ":")
        done = await reports_of(ctx.session, model_id=model.id)
        lines += [
            "\n".join(
                [
                    t(
                        "report-line",
                        period=period_label(
                            ctx.t,
                            Period(r.period_start, r.period_end, r.due_on),
                            model.campaign.cadence,
                        ),
                        at=vn.format_datetime(r.submitted_at, ctx.config.timezone),
                        late=t("report-line-late") if r.late else "",
                    ),
                    *answer_lines(model, r, indent="   "),
                ]
            )
            for r in done
        ] or [t("reports-none")]
        if model.status in (rules.APPROVED, rules.IN_PROGRESS):
            choices.append([Choice(t("menu-baocao"), buttons.REPORT(model.id))])
    ctx.result.say("\n".join(lines), choices)


COMMANDS = (Command(("mohinh",), Role.MEMBER, lambda ctx, conv, a: list_models(ctx), shows=True),)
BUTTONS = (Button(buttons.MODEL, Role.ANYONE, lambda ctx, conv, ref: show_model(ctx, ref.id)),)
