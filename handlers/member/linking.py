"""/lienket: one person on two channels. On one channel it gives a 6-digit code (10 minutes,
5 tries, /huy drops it); the code sent from the other channel, bare or as `/lienket CODE`, makes
that identity the same person's, when it has no records of its own. See docs/zalo.md."""

from __future__ import annotations

from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from storage.models import Conversation
from storage.records import linking
from storage.records.audit import add_audit_entry


async def lienket(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    code = args.replace(" ", "")
    if not code:
        await _issue(ctx)
    elif linking.looks_like_link_code(code):
        await _redeem(ctx, code)
    else:
        ctx.say("link-usage")


async def _issue(ctx: Ctx) -> None:
    code = await linking.issue_code(
        ctx.session,
        member_id=ctx.member.id,
        channel=ctx.inbound.channel,
        pepper=ctx.config.link_pepper,
        now=ctx.now,
    )
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="link.code",
        details={"channel": ctx.inbound.channel},
    )
    minutes = int(linking.CODE_TTL.total_seconds() // 60)
    ctx.say("link-code", code=code, minutes=minutes, attempts=linking.MAX_ATTEMPTS)


async def _redeem(ctx: Ctx, code: str) -> None:
    outcome, owner = await linking.redeem(
        ctx.session,
        identity=ctx.identity,
        code=code,
        pepper=ctx.config.link_pepper,
        now=ctx.now,
    )
    if outcome is linking.Outcome.LINKED:
        assert owner is not None
        # The person's roles come with them: their command menu changes on this channel.
        ctx.result.roles_changed.append((ctx.inbound.channel, ctx.inbound.external_id))
        # This identity is now the owner's: what the update read of the person is theirs no more.
        ctx.person_changed()
        if owner.full_name:
            ctx.say("link-done", name=owner.full_name)
        else:
            ctx.say("link-done-unnamed")
        return
    if outcome is not linking.Outcome.WRONG:
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="link.refused",
            details={"reason": outcome.value, "channel": ctx.inbound.channel},
        )
    ctx.say(f"link-{outcome.value.replace('_', '-')}")


COMMANDS = (Command(("lienket",), Role.ANYONE, lienket),)
