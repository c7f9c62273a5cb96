"""What everyone has, whatever their role: /help, the keys of an open form (/huy, /tieptuc,
/quaylai, /boqua) and the buttons of forms themselves."""

from __future__ import annotations

import dataclasses

from handlers.core import buttons, conversation, menu, router
from handlers.core.buttons import Step
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.drafts import paused_prompt
from storage.models import Conversation
from storage.records import linking


async def show_help(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    is_admin = await ctx.is_admin()
    ctx.result.say(
        menu.help_text(
            ctx.t,
            member=await ctx.is_member(),
            staff=is_admin or await ctx.is_coordinator(),
            admin=is_admin,
        )
    )


async def cancel(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if conv is None:
        # Nothing open but a /lienket code waiting to be sent from the other channel: drop it.
        if await linking.cancel_code(ctx.session, member_id=ctx.member.id):
            ctx.say("link-cancelled")
        else:
            ctx.say("nothing-to-cancel")
        return
    await conversation.ask_cancel(ctx, conv)


async def resume(ctx: Ctx, conv: Conversation | None, args: object) -> None:
    """/tieptuc, and "continue where I stopped" (a nudge): shows the current step, applies
    nothing."""
    if conv is None:
        ctx.say("nothing-to-continue")
        return
    await conversation.resume(ctx, conv)


def form_key(action: str) -> Command[str]:
    """/quaylai and /boqua: the form's own buttons, typed."""

    async def run(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        if conv is None:
            ctx.say("nothing-to-continue")
            return
        if conv.paused:
            paused_prompt(ctx, conv)
            return
        await conversation.on_button(ctx, conv, action)

    return Command(("quaylai" if action == "b" else "boqua",), Role.ANYONE, run, menu=False)


def _current(conv: Conversation, version: int) -> bool:
    """A button of the step shown now. Asking whether to cancel changed only that: the step's
    buttons shown just before the question still apply to the same step."""
    asked = conv.context.get("_cancel_asked") == conv.version
    return version == conv.version or (asked and version == conv.version - 1)


async def press_form(ctx: Ctx, conv: Conversation | None, step: Step) -> None:
    if conv is None or not _current(conv, step.version) or conv.paused:
        ctx.result.notice = ctx.t("button-stale")
        return
    ctx.result.accepted_choice = True
    await conversation.on_button(ctx, conv, step.action)


async def press_draft(ctx: Ctx, conv: Conversation | None, step: Step) -> None:
    """The prompt about a form left open: continue it, discard it, or discard it and do what was
    asked meanwhile."""
    if conv is None or conv.version != step.version:
        ctx.result.notice = ctx.t("button-stale")
        return
    ctx.result.accepted_choice = True
    if step.action == "c":
        await conversation.resume(ctx, conv)
    elif step.action == "x":
        await conversation.cancel(ctx, conv, key="draft-discarded")
    elif step.action == "n" and (conv.context.get("_next") or conv.context.get("_next_choice")):
        text, choice = conv.context.get("_next"), conv.context.get("_next_choice")
        await conversation.cancel(ctx, conv, key="draft-discarded")
        ctx.inbound = dataclasses.replace(ctx.inbound, text=text, choice=choice)
        await router.route(ctx)
    else:
        ctx.result.notice = ctx.t("button-stale")


COMMANDS = (
    Command(("help", "trogiup"), Role.ANYONE, show_help, shows=True, before_consent=True),
    Command(("tieptuc",), Role.ANYONE, resume, help=False, last=True),
    Command(("huy",), Role.ANYONE, cancel, help=False, last=True),
    form_key("b"),
    form_key("s"),
)
BUTTONS = (
    Button(buttons.FORM, Role.ANYONE, press_form),
    Button(buttons.DRAFT, Role.ANYONE, press_draft),
    Button(
        buttons.RESUME,
        Role.ANYONE,
        lambda ctx, conv, bare: resume(ctx, conv, bare),
        typed=lambda bare: "/tieptuc",
    ),
    Button(buttons.GO, Role.ANYONE, command=lambda go: f"/{go.command}"),
)
