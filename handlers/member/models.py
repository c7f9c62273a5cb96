"""/mohinh: a member's own models, each with its page (details, progress, reports) and what may
be done with it now (correct and send again, report); /suadangky: a returned one corrected."""

from __future__ import annotations

from handlers.core import buttons
from handlers.core.commands import ID_RE, Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.types import Choice
from handlers.member.registration import CORRECTABLE, start_resubmit
from handlers.shared.views import answer_lines, model_lines, period_label, progress_text
from language import vn
from storage import rules
from storage.periods import Period
from storage.records.models import model_by_code, model_code, model_details, models_of
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


async def to_correct(ctx: Ctx, args: str) -> int | None:
    """/suadangky MH12 (any case, "MH-12"; the button's own command carries the id). Typed alone:
    the person's one registration to correct, or theirs to choose from."""
    if args:
        found = int(args) if ID_RE.fullmatch(args) else await model_by_code(ctx.session, text=args)
        if found is None:
            ctx.say("model-not-found")
        return found
    models = await models_of(ctx.session, owner_id=ctx.member.id)
    returned = [model for model in models if model.status in CORRECTABLE]
    if len(returned) == 1:
        return returned[0].id
    if not returned:
        ctx.say("resubmit-none")
        return None
    rows = [
        [Choice(f"{model_code(model)} · {model.title}"[:60], buttons.RESUBMIT(model.id))]
        for model in returned
    ]
    ctx.result.say(ctx.t("resubmit-which", count=len(returned)), rows)
    return None


COMMANDS = (
    Command(("mohinh",), Role.MEMBER, lambda ctx, conv, a: list_models(ctx), shows=True),
    Command(
        ("suadangky",),
        Role.MEMBER,
        lambda ctx, conv, model_id: start_resubmit(ctx, model_id),
        read=to_correct,
        opens="register",
        # Another registration open (a new one, or another being corrected) is not this one.
        same=lambda conv, model_id: conv.context.get("model_id") == model_id,
        menu=False,  # pressed (a returned registration's button), seldom typed
    ),
)
BUTTONS = (Button(buttons.MODEL, Role.ANYONE, lambda ctx, conv, ref: show_model(ctx, ref.id)),)
