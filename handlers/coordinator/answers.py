"""/traloi N: a coordinator (of the report's unit, or above it) or an admin answers the
difficulties and proposals a member's report stated. The digest names each such report with the
command to type, on every channel (a digest carries no options of its own on Zalo). The answer
is kept with the report (`extra["answer"]`), audited, and the member told through the outbox."""

from __future__ import annotations

from typing import Any

from handlers.core import conversation
from handlers.core.commands import Command, Role, id_or
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.notify import payload, queue
from handlers.forms.spec import FieldSpec, FormSpec
from handlers.shared.permissions import reviewable_units
from handlers.shared.views import period_label
from storage.models import Conversation, Model, Report
from storage.periods import Period
from storage.records.audit import add_audit_entry

ANSWER_MAX = 1000


def period_of(ctx: Ctx, report: Report) -> str:
    """The period as reminders and reports name it: «tháng 11/2026», «quý 4/2026»."""
    months = (report.period_end.year - report.period_start.year) * 12 + (
        report.period_end.month - report.period_start.month
    )
    period = Period(report.period_start, report.period_end, report.due_on)
    return period_label(ctx.t, period, "quarterly" if months else "monthly")


async def answerable(ctx: Ctx, report_id: int | None) -> tuple[Report, Model] | None:
    """The report and its model, when this person may answer it: a coordinator of its unit
    (or above), or an admin; never its own author."""
    report = await ctx.session.get(Report, report_id) if report_id else None
    if report is None:
        return None
    model = await ctx.session.get(Model, report.model_id)
    units = await reviewable_units(ctx)
    if model is None or model.owner_id == ctx.member.id:
        return None
    if units is not None and model.unit_id not in units:
        return None
    return report, model


class ReportAnswerFlow(Flow):
    form = FormSpec(
        "report_answer",
        "form-report-answer",
        (
            FieldSpec(
                "answer",
                "text",
                "label-report-answer",
                "ask-report-answer",
                max_length=ANSWER_MAX,
                min_length=2,
                multiline=True,
            ),
        ),
        confirm_label="button-send-answer",
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await answerable(ctx, conv.context.get("report_id")) is not None

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        found = await answerable(ctx, conv.context.get("report_id"))
        if found is None:
            ctx.say("error-not-allowed")
            return
        report, model = found
        answer = {"text": answers["answer"], "by": ctx.member.id, "at": ctx.now.isoformat()}
        # A new dict: the JSON column is stored again only when it is replaced.
        report.extra = {**(report.extra or {}), "answer": answer}
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="report.answered",
            object_type="report",
            object_id=report.id,
        )
        told = ctx.t(
            "report-answer-notice",
            title=model.title,
            period=period_of(ctx, report),
            name=ctx.member.full_name or "",
            answer=answers["answer"],
        )
        await queue(
            ctx,
            key=f"report-answer:{report.id}:{ctx.now.isoformat()}",
            member_id=report.member_id or model.owner_id,
            payload=payload(told),
        )
        ctx.say("report-answer-sent", title=model.title)


register(ReportAnswerFlow())


async def start_answer(ctx: Ctx, report_id: int) -> None:
    if await ctx.session.get(Report, report_id) is None:
        ctx.say("report-not-found", id=report_id)
        return
    found = await answerable(ctx, report_id)
    if found is None:  # another unit's, or one's own: only its existence is learned
        ctx.say("error-not-allowed")
        return
    report, model = found
    lines = [
        ctx.t(
            "report-answer-head",
            title=model.title,
            period=period_of(ctx, report),
        )
    ]
    if report.difficulties:
        lines.append(ctx.t("report-answer-difficulties", text=report.difficulties))
    if report.proposals:
        lines.append(ctx.t("report-answer-proposals", text=report.proposals))
    earlier = (report.extra or {}).get("answer")
    if earlier:
        lines.append(ctx.t("report-answer-earlier", text=earlier["text"]))
    ctx.result.say("\n".join(lines))
    await conversation.start(ctx, "report_answer", {"report_id": report.id})


COMMANDS = (
    Command(
        ("traloi",),
        Role.STAFF,
        lambda ctx, conv, report_id: start_answer(ctx, report_id),
        read=id_or("report-answer-usage"),
        opens="report_answer",
        menu=False,  # typed from the digest, which names each report to answer
    ),
)
