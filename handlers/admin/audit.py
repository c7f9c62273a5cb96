"""/nhatky: the audit log for admins, filterable by kind of action and by person."""

from __future__ import annotations

import re

from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.forms.engine import fold
from language import vn
from storage.records.audit import audit_entries

ACTION_RE = re.compile(r"^[a-z_]+(\.[a-z_]+)?$")
SHOWN = 20


async def show_log(ctx: Ctx, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    words = args.split()
    action = words[0] if words and ACTION_RE.match(words[0]) else None
    person = fold(" ".join(words[1:] if action else words))
    entries = await audit_entries(ctx.session, action_prefix=action)
    if person:
        entries = [(e, name) for e, name in entries if person in fold(name or "")]
    if not entries:
        ctx.say("audit-none")
        return
    lines = [ctx.t("audit-head", count=min(len(entries), SHOWN))]
    for entry, name in entries[:SHOWN]:
        subject = f" {entry.object_type} #{entry.object_id}" if entry.object_type else ""
        lines.append(
            f"{vn.format_datetime(entry.at, ctx.config.timezone)} · {name or '—'} · "
            f"{entry.action}{subject}"
        )
    lines.append(ctx.t("audit-hint"))
    ctx.result.say("\n".join(lines))


COMMANDS = (
    Command(("nhatky",), Role.ADMIN, lambda ctx, conv, args: show_log(ctx, args), shows=True),
)
