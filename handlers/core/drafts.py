"""A form left open when something else is asked: it is resumed or explicitly discarded, never
silently thrown away."""

from __future__ import annotations

from handlers.core import buttons, conversation
from handlers.core.context import Ctx
from handlers.core.types import Choice
from storage.models import Conversation


def draft_button(conv: Conversation, action: str, label: str) -> Choice:
    return Choice(label, buttons.DRAFT.encode(buttons.Step(conv.version, action)))


def paused_prompt(ctx: Ctx, conv: Conversation) -> None:
    title = ctx.label(conversation.flow_of(conv).form.title)
    ctx.result.say(
        ctx.t("draft-paused", title=title),
        [
            [
                draft_button(conv, "c", ctx.t("button-continue")),
                draft_button(conv, "x", ctx.t("button-discard")),
            ]
        ],
    )


def still_open(ctx: Ctx, conv: Conversation | None) -> None:
    if conv is not None:
        ctx.say("draft-open", title=ctx.label(conversation.flow_of(conv).form.title))


async def busy(ctx: Ctx, conv: Conversation | None, form: str, *, same: bool = True) -> bool:
    """Before a command starts a form: a form in progress is resumed or explicitly discarded,
    never silently thrown away. `same=False`: the open form has that name but is about
    something else (another invite), so it is not simply resumed."""
    if conv is None:
        return False
    if conv.form == form and same:
        await conversation.resume(ctx, conv, note=ctx.t("draft-resumed"))
        return True
    # What was asked (a command, or a pressed button) is done once the open form is discarded.
    conv.context = {
        **conv.context,
        "_next": ctx.inbound.text if ctx.inbound.choice is None else None,
        "_next_choice": ctx.inbound.choice,
    }
    await ctx.session.flush()
    title = ctx.label(conversation.flow_of(conv).form.title)
    ctx.result.say(
        ctx.t("draft-busy", title=title),
        [
            [draft_button(conv, "c", ctx.t("button-continue"))],
            [draft_button(conv, "n", ctx.t("button-discard-new"))],
        ],
    )
    return True
