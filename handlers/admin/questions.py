"""/cauhoi: an admin adds questions of their own to a campaign's registration or report form, or
hides one. Campaign → form → its questions, with «➕ Thêm câu hỏi» (a form like the other admin
forms, confirmed from its summary) and «🗑 Ẩn» per question. Every screen and every button
checks the admin role in the database when it acts."""

from __future__ import annotations

import dataclasses
from typing import Any

from handlers.core import buttons, conversation
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared import questions
from language import vn
from storage.models import Campaign, Conversation
from storage.records.audit import add_audit_entry
from storage.records.campaigns import campaign_by_code, campaign_for_update, recent_campaigns


def _form_name(ctx: Ctx, form: str) -> str:
    return ctx.t(f"question-form-{form}")


def _kind_name(ctx: Ctx, kind: str) -> str:
    return ctx.t(f"question-kind-{kind}")


def _required_name(ctx: Ctx, required: bool) -> str:
    return ctx.t("question-required-yes" if required else "question-required-no")


class QuestionFlow(Flow):
    form = FormSpec(
        "question",
        "form-question",
        (
            FieldSpec(
                "label",
                "text",
                "label-question-label",
                "ask-question-label",
                max_length=questions.MAX_LABEL,
                check="label",
            ),
            FieldSpec(
                "kind",
                "choice",
                "label-question-kind",
                "ask-question-kind",
                options=tuple(Option(kind, f"question-kind-{kind}") for kind in questions.KINDS),
            ),
            FieldSpec(
                "options",
                "text",
                "label-question-options",
                "ask-question-options",
                max_length=1000,
                multiline=True,
                when=(("kind", "choice"),),
                check="options",
            ),
            FieldSpec(
                "required",
                "choice",
                "label-question-required",
                "ask-question-required",
                options=(
                    Option("yes", "question-must-yes"),
                    Option("no", "question-must-no"),
                ),
            ),
        ),
        confirm_label="button-save-question",
    )

    def form_for(self, conv: Conversation) -> FormSpec:
        # The summary says which campaign and form the question goes to.
        title = conv.context.get("title")
        return dataclasses.replace(self.form, title=title) if title else self.form

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin()

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.check == "label":
            questions.check_label(ctx, value)
        elif spec.check == "options":
            for option in questions.parse_options(value):
                questions.check_label(ctx, option)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        campaign = await campaign_for_update(ctx.session, campaign_id=conv.context["campaign_id"])
        if campaign is None:
            raise vn.InputError("campaign-not-found")
        form = conv.context["form"]
        question = questions.new_question(
            ctx,
            campaign.questions,
            form=form,
            kind=answers["kind"],
            label=answers["label"],
            required=answers["required"] == "yes",
            options_text=answers.get("options"),
        )
        campaign.questions = [*(campaign.questions or []), question]
        await ctx.session.flush()
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="campaign.question_added",
            object_type="campaign",
            object_id=campaign.id,
            details={k: question[k] for k in ("id", "form", "kind", "label", "required")},
        )
        ctx.say(
            "question-added",
            label=question["label"],
            kind=_kind_name(ctx, question["kind"]),
            required=_required_name(ctx, question["required"]),
            form=_form_name(ctx, form),
            campaign=campaign.name,
        )
        await show_list(ctx, campaign, form)


register(QuestionFlow())


async def command(ctx: Ctx, args: str) -> None:
    """/cauhoi [CAMPAIGN CODE]"""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    code = args.split()[0] if args.split() else ""
    if code:
        campaign = await campaign_by_code(ctx.session, code=code[:32])
        if campaign is None:
            ctx.say("question-campaign-unknown", code=code[:32])
            return
        show_forms(ctx, campaign)
        return
    campaigns = await recent_campaigns(ctx.session)
    if not campaigns:
        ctx.say("question-no-campaigns")
        return
    if len(campaigns) == 1:
        show_forms(ctx, campaigns[0])
        return
    ctx.result.say(
        ctx.t("question-choose-campaign"),
        [[Choice(f"{c.name} ({c.code})"[:60], buttons.QUESTIONS(c.id))] for c in campaigns],
    )


async def on_press(
    ctx: Ctx, campaign_id: int, form: str | None, action: str | None, question_id: str | None
) -> None:
    """A /cauhoi button. Its data is untrusted: the role, the campaign and the question are all
    looked up again."""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    campaign = await ctx.session.get(Campaign, campaign_id)
    if campaign is None:
        ctx.say("campaign-not-found")
        return
    if form is None:
        show_forms(ctx, campaign)
    elif action is None:
        await show_list(ctx, campaign, form)
    elif action == "a" and question_id is None:
        await start_add(ctx, campaign, form)
    elif action == "h" and question_id is not None:
        ask_hide(ctx, campaign, form, question_id)
    elif action == "hy" and question_id is not None:
        await hide(ctx, campaign_id, form, question_id)
    else:
        ctx.result.notice = ctx.t("button-stale")


def show_forms(ctx: Ctx, campaign: Campaign) -> None:
    rows = []
    for form in questions.FORMS:
        count = len(questions.of_form(campaign.questions, form))
        label = ctx.t("button-question-form", form=_form_name(ctx, form), count=count)
        rows.append([Choice(label, buttons.QUESTIONS(campaign.id, form))])
    ctx.result.say(ctx.t("question-choose-form", campaign=campaign.name), rows)


async def show_list(ctx: Ctx, campaign: Campaign, form: str) -> None:
    shown = questions.of_form(campaign.questions, form)
    lines = [ctx.t("question-list-head", form=_form_name(ctx, form), campaign=campaign.name)]
    for n, q in enumerate(shown, 1):
        lines.append(
            ctx.t(
                "question-list-line",
                n=n,
                label=q["label"],
                kind=_kind_name(ctx, q["kind"]),
                required=_required_name(ctx, bool(q.get("required"))),
            )
        )
        if q.get("options"):
            lines.append("   " + " · ".join(q["options"]))
    if not shown:
        lines.append(ctx.t("question-list-none"))
    hidden = [q for q in campaign.questions or [] if q.get("form") == form and q.get("hidden")]
    if hidden:
        lines.append(ctx.t("question-list-hidden", count=len(hidden)))
    rows = [[Choice(ctx.t("button-question-add"), buttons.QUESTIONS(campaign.id, form, "a"))]]
    hide_buttons = [
        Choice(
            ctx.t("button-question-hide", n=n), buttons.QUESTIONS(campaign.id, form, "h", q["id"])
        )
        for n, q in enumerate(shown, 1)
    ]
    rows += [hide_buttons[i : i + 3] for i in range(0, len(hide_buttons), 3)]
    rows.append([Choice(ctx.t("button-question-forms"), buttons.QUESTIONS(campaign.id))])
    ctx.result.say("\n".join(lines), rows)


async def start_add(ctx: Ctx, campaign: Campaign, form: str) -> None:
    if len(questions.of_form(campaign.questions, form)) >= questions.MAX_VISIBLE:
        ctx.say("error-question-too-many", max=questions.MAX_VISIBLE)
        return
    title = ctx.t("form-question-for", form=_form_name(ctx, form), campaign=campaign.name)
    await conversation.start(
        ctx, "question", {"campaign_id": campaign.id, "form": form, "title": title}
    )


def _find(campaign: Campaign, form: str, question_id: str) -> dict[str, Any] | None:
    for q in campaign.questions or []:
        if q.get("id") == question_id and q.get("form") == form:
            return q
    return None


def ask_hide(ctx: Ctx, campaign: Campaign, form: str, question_id: str) -> None:
    question = _find(campaign, form, question_id)
    if question is None:
        ctx.say("question-not-found")
        return
    if question.get("hidden"):
        ctx.say("question-already-hidden", label=question["label"])
        return
    ctx.result.say(
        ctx.t("question-hide-confirm", label=question["label"], form=_form_name(ctx, form)),
        [
            [
                Choice(
                    ctx.t("button-question-hide-yes"),
                    buttons.QUESTIONS(campaign.id, form, "hy", question_id),
                ),
                Choice(ctx.t("button-question-keep"), buttons.QUESTIONS(campaign.id, form)),
            ]
        ],
    )


async def hide(ctx: Ctx, campaign_id: int, form: str, question_id: str) -> None:
    campaign = await campaign_for_update(ctx.session, campaign_id=campaign_id)
    assert campaign is not None  # looked up a moment ago; campaigns are not deleted
    question = _find(campaign, form, question_id)
    if question is None:
        ctx.say("question-not-found")
        return
    if question.get("hidden"):
        ctx.say("question-already-hidden", label=question["label"])
        return
    campaign.questions = questions.hidden(campaign.questions, question_id)
    await ctx.session.flush()
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="campaign.question_removed",
        object_type="campaign",
        object_id=campaign.id,
        details={"id": question_id, "form": form, "label": question["label"]},
    )
    ctx.result.accepted_choice = True
    ctx.say("question-hidden", label=question["label"])
    await show_list(ctx, campaign, form)


COMMANDS = (
    Command(("cauhoi",), Role.ADMIN, lambda ctx, conv, args: command(ctx, args), shows=True),
)
BUTTONS = (
    Button(
        buttons.QUESTIONS,
        Role.ADMIN,
        lambda ctx, conv, ref: on_press(ctx, ref.campaign, ref.form, ref.action, ref.question),
        # Adding a question is a form; another campaign's or form's is not resumed as this one.
        opens="question",
        when=lambda ref: ref.action == "a",
        same=lambda conv, ref: False,
    ),
)
