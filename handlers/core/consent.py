"""The personal-data notice (Decree 13/2023/NĐ-CP): what is kept, why, who sees it, for how long
and how to see, change or delete it, agreed to before the first personal question, and again
whenever it changes. Someone the bot keeps a profile of (a name) and who has not agreed to the
current version gets the notice instead of an answer, whatever they send, except the commands
declared usable before agreeing (`Command.before_consent`: /help, and reading one's own data)
and the notice's own buttons. People known only by their channel id (a newcomer before the
profile form, an admin named in the configuration) are asked when they give a profile."""

from __future__ import annotations

from handlers.core import buttons
from handlers.core.context import Ctx
from handlers.core.types import Choice
from storage.records.consents import has_agreed

# Changing this shows the new notice to everyone at their next message: change it with the
# notice's text (`consent-notice` in the catalogs), and say what changed in docs/du-lieu-ca-nhan.md.
NOTICE_VERSION = "2026-12b"


async def agreed(ctx: Ctx) -> bool:
    """Read with the person at the start of the update (`Ctx.knows`), until it changes."""
    return await ctx.once(
        "agreed",
        lambda: has_agreed(ctx.session, member_id=ctx.member.id, version=NOTICE_VERSION),
    )


async def needed(ctx: Ctx) -> bool:
    """Whether this person must agree before anything else is done for them."""
    return ctx.member.full_name is not None and not await agreed(ctx)


def show_notice(ctx: Ctx, *, code: str | None = None, again: bool = False) -> None:
    """The notice with «Đồng ý» / «Không đồng ý»; `code` is the invite a newcomer came with, gone
    on with once they agree; `again` for someone who has a profile already."""
    lines = [ctx.t("consent-again" if again else "consent-hello")]
    lines.append(
        ctx.t(
            "consent-notice",
            version=NOTICE_VERSION,
            days=ctx.config.retention_days,
            rights=ctx.t("consent-rights"),
        )
    )
    rows = [
        [Choice(ctx.t("button-consent-yes"), buttons.CONSENT("y", NOTICE_VERSION, code))],
        [Choice(ctx.t("button-consent-no"), buttons.CONSENT("n", NOTICE_VERSION, code))],
    ]
    ctx.result.say("\n".join(lines), rows)
