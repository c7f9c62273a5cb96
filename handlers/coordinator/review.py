"""/duyet: a coordinator's queue of submitted registrations for their units (sub-units
included), one at a time, oldest first: approve, return for changes, or reject with a reason.
The role is checked against the database when each decision is applied; of two reviewers acting
at once, one wins and the other is told."""

from __future__ import annotations

from typing import Any

from handlers.core import buttons, conversation
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.notify import payload, queue
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec
from handlers.shared.permissions import may_decide_on, reviewable_units
from handlers.shared.views import model_lines
from language import vn
from storage import rules
from storage.models import Conversation, Member, Model, Unit
from storage.records.audit import add_audit_entry
from storage.records.invites import pending_join_requests
from storage.records.models import model_details
from storage.records.review import decide_model, review_queue

DECISIONS = {"a": rules.APPROVED, "r": rules.RETURNED, "x": rules.REJECTED}


async def show_queue(ctx: Ctx, after: Model | None = None) -> None:
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    count, model = await review_queue(
        ctx.session, unit_ids=units, after=after, reviewer_id=ctx.member.id
    )
    if model is None:
        ctx.say("review-empty" if count == 0 else "review-end", count=count)
        pending = await pending_join_requests(ctx.session, unit_ids=units, limit=1)
        if pending:
            ctx.say("review-join-requests-hint")
        return
    owner = await ctx.session.get(Member, model.owner_id) if model.owner_id else None
    unit = await ctx.session.get(Unit, model.unit_id)
    head = ctx.t(
        "review-head",
        count=vn.format_number(count),
        owner=(owner.full_name or ctx.t("member-left")) if owner else "",
        unit=unit.name if unit else "",
    )
    ctx.result.say(
        "\n".join([head, "", *model_lines(ctx, model)]),
        [
            [
                Choice(ctx.t("button-approve"), buttons.REVIEW("a", model.id)),
                Choice(ctx.t("button-return"), buttons.REVIEW("r", model.id)),
            ],
            [
                Choice(ctx.t("button-reject"), buttons.REVIEW("x", model.id)),
                Choice(ctx.t("button-review-next"), buttons.REVIEW("n", model.id)),
            ],
        ],
    )


async def on_button(ctx: Ctx, action: str, model_id: int) -> None:
    model = await model_details(ctx.session, model_id=model_id)
    if model is None:  # forged, or deleted since the message was sent
        ctx.say("model-not-found")
        return
    # One outside this person's units is refused: they learn only that it exists.
    if not await may_decide_on(ctx, model):
        ctx.say("error-not-allowed")
        return
    if action == "n":
        await show_queue(ctx, after=model)
        return
    if model.status != rules.SUBMITTED:
        await _already(ctx, model)
        return
    ctx.result.accepted_choice = True
    if action == "a":
        if await decide(ctx, model, rules.APPROVED, None):
            await show_queue(ctx)
        return
    await conversation.start(ctx, "review-note", {"model_id": model.id, "decision": action})


async def _already(ctx: Ctx, model: Model) -> None:
    reviewer = await ctx.session.get(Member, model.reviewed_by) if model.reviewed_by else None
    status = ctx.t(f"status-{model.status}")
    if reviewer is not None and reviewer.full_name:
        ctx.say("review-already-by", title=model.title, status=status, who=reviewer.full_name)
    else:  # decided by someone since erased, or by an import
        ctx.say("review-already", title=model.title, status=status)


async def decide(ctx: Ctx, model: Model, status: str, note: str | None) -> bool:
    """Apply a decision; False (and the person told who decided) when someone was faster."""
    if not await decide_model(
        ctx.session,
        model_id=model.id,
        status=status,
        reviewer_id=ctx.member.id,
        note=note,
        now=ctx.now,
    ):
        await ctx.session.refresh(model)
        await _already(ctx, model)
        return False
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action=f"model.{status}",
        object_type="model",
        object_id=model.id,
        details={"note": note},
    )
    key = f"model-{status}"
    text = ctx.t(f"{key}-notice", title=model.title, note=note or "")
    choices = []
    if status == rules.RETURNED:
        choices = [[Choice(ctx.t("button-edit-resubmit"), buttons.RESUBMIT(model.id))]]
    elif status == rules.APPROVED:
        choices = [[Choice(ctx.t("menu-baocao"), buttons.REPORT(model.id))]]
    await queue(
        ctx,
        key=f"review:{model.id}:{status}:{ctx.now.isoformat()}",
        member_id=model.owner_id,
        payload=payload(text, choices),
        priority=3,
    )
    ctx.say(f"{key}-done", title=model.title)
    return True


class ReviewNoteFlow(Flow):
    """The reason for a return or a rejection, typed by the coordinator."""

    form = FormSpec(
        "review-note",
        "form-review-note",
        (
            FieldSpec(
                "note",
                "text",
                "label-review-note",
                "ask-review-note",
                min_length=5,
                max_length=1000,
                multiline=True,
            ),
        ),
        summary=False,
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await may_decide_on(ctx, await ctx.session.get(Model, conv.context["model_id"]))

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        model = await model_details(ctx.session, model_id=conv.context["model_id"])
        assert model is not None
        if await decide(ctx, model, DECISIONS[conv.context["decision"]], answers["note"]):
            await show_queue(ctx)


register(ReviewNoteFlow())


COMMANDS = (Command(("duyet",), Role.STAFF, lambda ctx, conv, a: show_queue(ctx), shows=True),)
BUTTONS = (
    Button(
        buttons.REVIEW,
        Role.STAFF,
        lambda ctx, conv, act: on_button(ctx, act.action, act.id),
        # Returning or rejecting asks for a note: a form of its own.
        opens="review-note",
        when=lambda act: act.action in ("r", "x"),
        same=lambda conv, act: (
            conv.context.get("model_id") == act.id and conv.context.get("decision") == act.action
        ),
    ),
)
