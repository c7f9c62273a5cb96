"""The answer to the personal-data notice (handlers/core/consent.py). Agreeing is recorded with
its time and the notice's version; a newcomer then goes on joining. Declining stops: a newcomer
is forgotten altogether, someone with a profile keeps it and is asked again at their next
message (deleting it is for an admin until /xoadulieu exists)."""

from __future__ import annotations

from handlers.core import buttons, consent, conversation, numbered
from handlers.core.buttons import ConsentAnswer
from handlers.core.commands import Button, Role
from handlers.core.context import Ctx
from handlers.core.drafts import still_open
from handlers.member.onboarding import start_command
from language.vn import format_datetime
from storage.models import Conversation
from storage.records.consents import record_consent
from storage.records.people import forget_stranger


async def answer(ctx: Ctx, conv: Conversation | None, value: ConsentAnswer) -> None:
    newcomer = ctx.member.full_name is None
    if value.version != consent.NOTICE_VERSION:
        # A button under an older notice: what was agreed to must be what is shown now.
        ctx.result.notice = ctx.t("button-stale")
        consent.show_notice(ctx, code=value.code, again=not newcomer)
        return
    if await consent.agreed(ctx):
        ctx.result.notice = ctx.t("consent-already")
        if not newcomer:
            ctx.say("consent-already")
        return
    if value.answer == "n":
        if newcomer:
            await forget_stranger(ctx.session, member=ctx.member)
            ctx.say("consent-declined-newcomer")
        else:
            ctx.say("consent-declined")
        return
    await record_consent(
        ctx.session,
        member_id=ctx.member.id,
        version=consent.NOTICE_VERSION,
        channel=ctx.inbound.channel,
        now=ctx.now,
    )
    ctx.remember("agreed", True)
    ctx.result.notice = ctx.t("consent-recorded")
    if newcomer:
        await start_command(ctx, value.code)
        return
    when = format_datetime(ctx.now, ctx.config.timezone)
    ctx.say("consent-agreed", version=consent.NOTICE_VERSION, at=when)
    if conv is not None and not conv.paused:
        # Back where they were: the form's question again, its options the ones a number picks.
        await conversation.render(ctx, conv)
        return
    still_open(ctx, conv)
    if ctx.inbound.numbered:
        await numbered.forget(ctx)


BUTTONS = (Button(buttons.CONSENT, Role.ANYONE, answer, before_consent=True),)
