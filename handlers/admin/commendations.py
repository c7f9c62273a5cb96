"""/khenthuong: admins record commendations of proposed models at a level (cơ sở, Đảng ủy
Khối, BCĐ tỉnh, bằng khen UBND tỉnh), first proposed, then decided with the decision's number
and date. The owner is told when a commendation is decided."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.core import buttons, conversation
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.notify import payload, queue
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared.views import model_lines
from language import vn
from storage import rules
from storage.models import Commendation, Conversation, Model
from storage.records.audit import add_audit_entry
from storage.records.models import model_details
from storage.records.review import commendation_of, proposed_models

DECIDED = (("status", rules.DECIDED),)


class CommendationFlow(Flow):
    form = FormSpec(
        "commendation",
        "form-commendation",
        (
            FieldSpec(
                "level",
                "choice",
                "label-commendation-level",
                "ask-commendation-level",
                options=tuple(
                    Option(level, f"commendation-{level}") for level in rules.COMMENDATION_LEVELS
                ),
            ),
            FieldSpec(
                "status",
                "choice",
                "label-commendation-status",
                "ask-commendation-status",
                options=(
                    Option(rules.PROPOSED, "commendation-proposed"),
                    Option(rules.DECIDED, "commendation-decided"),
                ),
            ),
            FieldSpec(
                "number",
                "text",
                "label-decision-number",
                "ask-decision-number",
                max_length=64,
                when=DECIDED,
            ),
            FieldSpec(
                "decided_on", "date", "label-decision-date", "ask-decision-date", when=DECIDED
            ),
        ),
        confirm_label="button-save-commendation",
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin()

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        model = await ctx.session.get(Model, conv.context["model_id"])
        if model is None:
            raise vn.InputError("model-not-found")
        record = await commendation_of(ctx.session, model_id=model.id, level=answers["level"])
        if record is None:
            record = Commendation(model_id=model.id, level=answers["level"])
            ctx.session.add(record)
        elif record.status == rules.DECIDED:
            raise vn.InputError("commendation-already-decided")
        decided = answers["status"] == rules.DECIDED
        record.status = answers["status"]
        record.decision_number = answers.get("number") if decided else None
        record.decided_on = date.fromisoformat(answers["decided_on"]) if decided else None
        record.recorded_by = ctx.member.id
        record.recorded_at = ctx.now
        await ctx.session.flush()
        level = ctx.t(f"commendation-{record.level}")
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action=f"commendation.{record.status}",
            object_type="model",
            object_id=model.id,
            details={"level": record.level, "number": record.decision_number},
        )
        if decided:
            await queue(
                ctx,
                key=f"commended:{model.id}:{record.level}",
                member_id=model.owner_id,
                payload=payload(
                    ctx.t(
                        "commendation-notice",
                        title=model.title,
                        level=level,
                        number=record.decision_number or "",
                        date=vn.format_date(record.decided_on),
                    )
                ),
                priority=3,
            )
        ctx.say(
            "commendation-saved",
            title=model.title,
            level=level,
            status=ctx.t(f"commendation-{record.status}"),
        )


register(CommendationFlow())


async def list_proposed(ctx: Ctx) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    models = await proposed_models(ctx.session)
    if not models:
        ctx.say("commendation-none")
        return
    ctx.result.say(
        ctx.t("commendation-choose"),
        [[Choice(model.title[:60], buttons.COMMEND(model.id))] for model in models],
    )


async def start(ctx: Ctx, model_id: int) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    model = await model_details(ctx.session, model_id=model_id)
    if model is None:
        ctx.say("model-not-found")
        return
    ctx.result.say("\n".join(model_lines(ctx, model)))
    await conversation.start(ctx, "commendation", {"model_id": model.id})


COMMANDS = (
    Command(("khenthuong",), Role.ADMIN, lambda ctx, conv, a: list_proposed(ctx), shows=True),
)
BUTTONS = (
    Button(
        buttons.COMMEND,
        Role.ADMIN,
        lambda ctx, conv, ref: start(ctx, ref.id),
        opens="commendation",
        same=lambda conv, ref: False,  # another model's commendation is not resumed as this one
    ),
)
