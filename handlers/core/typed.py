"""A button's label typed instead of pressed, where the channel shows buttons (Telegram, the
terminal looking like it): "xong" at "Bạn có muốn thêm nữa không?", "gửi đăng ký" at the
summary. Channels without buttons read labels against their numbered menu (`numbered`); this
reads them against the buttons the form's current step shows, case and diacritics ignored."""

from __future__ import annotations

from handlers.core import buttons, conversation
from handlers.core.context import Ctx
from handlers.core.numbered import plain
from handlers.core.types import Result
from handlers.forms import engine
from storage.models import Conversation

# The types of question whose step shows buttons of its own besides the way back and out (the
# others take typed text: `free_text` in conversation.render).
BUTTONED = ("choice", "photos")


async def shown_buttons(ctx: Ctx, conv: Conversation) -> list[tuple[str, str]] | None:
    """The (label, data) of the buttons the current step shows; None when the step takes typed
    text as its answer (a name, a number), where a label is an answer like any other."""
    step = engine.current_step(conversation.flow_of(conv).form_for(conv), conv.state)
    if step.kind == "ask" and step.spec is not None and step.spec.type not in BUTTONED:
        return None  # known without drawing the step (and reading its options)
    said, ctx.result = ctx.result, Result()
    try:
        await conversation.render(ctx, conv)
        shown = [message for message in ctx.result.messages if message.choices]
    finally:
        ctx.result = said
    if not shown or shown[-1].free_text:
        return None
    return [(choice.label, choice.data) for row in shown[-1].choices for choice in row]


async def press(ctx: Ctx, conv: Conversation, text: str) -> bool:
    """True when `text` is the label of exactly one of the step's buttons, then pressed."""
    choices = await shown_buttons(ctx, conv)
    key = plain(text)
    found = [data for label, data in choices or [] if key and plain(label) == key]
    step = buttons.FORM.decode(found[0]) if len(found) == 1 else None
    if step is None:
        return False
    await conversation.on_button(ctx, conv, step.action)
    return True
