"""/nhatky: the audit log for admins, filterable by kind of action and by person. Kinds are
shown by their names in the catalog (`audit-action-*`), and the filter takes those names, the
names of their groups (`audit-group-*`: "mô hình" for every model.* entry) or the internal keys."""

from __future__ import annotations

from collections.abc import Callable

from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.forms.engine import fold
from language import vn
from storage.records.audit import audit_entries

SHOWN = 20
# Every kind of entry the bot writes (tests/test_audit_names.py checks the code against it).
ACTIONS = (
    "admin.bootstrap",
    "admin.granted",
    "admin.revoked",
    "broadcast.sent",
    "campaign.created",
    "campaign.updated",
    "campaign.question_added",
    "campaign.question_removed",
    "commendation.proposed",
    "commendation.decided",
    "conference.recorded",
    "coordinator.assigned",
    "coordinator.removed",
    "export.created",
    "field.added",
    "field.renamed",
    "field.hidden",
    "field.shown",
    "import.workbook",
    "invite.created",
    "invite.revoked",
    "invite.wrong_code",
    "join.requested",
    "join.accepted",
    "join.refused",
    "member.joined",
    "model.submitted",
    "model.resubmitted",
    "model.approved",
    "model.returned",
    "model.rejected",
    "model.evaluated",
    "model.back_to_draft",
    "overdue.reminded",
    "personal.corrected",
    "personal.erased",
    "personal.exported",
    "personal.shown",
    "personal.viewed",
    "photos.exported",
    "reminders.settings",
    "report.submitted",
    "report.answered",
    "report.replaced",
    "unit.added",
    "unit.renamed",
    "unit.moved",
    "unit.deactivated",
    "unit.reactivated",
    "units.imported",
    "yearend.drafted",
    "yearend.issuer",
)
OBJECTS = (
    "broadcast",
    "campaign",
    "field",
    "invite",
    "join_request",
    "member",
    "model",
    "report",
    "unit",
)


def _key(internal: str) -> str:
    return internal.replace(".", "-").replace("_", "-")


def action_name(t: Callable[..., str], action: str) -> str:
    """The kind of an entry as people read it; an entry of a kind this version does not know
    (written by a newer one) keeps its key."""
    return t(f"audit-action-{_key(action)}") if action in ACTIONS else action


def object_name(t: Callable[..., str], object_type: str) -> str:
    return t(f"audit-object-{_key(object_type)}") if object_type in OBJECTS else object_type


def kinds(t: Callable[..., str]) -> list[tuple[str, str]]:
    """(what may be typed, folded; the action prefix it selects), longest first so that "duyệt
    mô hình" wins over "mô hình": each kind's name and key, each group's name and key."""
    found: dict[str, str] = {}
    for action in ACTIONS:
        group = action.split(".")[0]
        found[fold(t(f"audit-action-{_key(action)}"))] = action
        found[action] = action
        found[fold(t(f"audit-group-{_key(group)}"))] = group + "."
        found[group] = group + "."
    return sorted(found.items(), key=lambda item: -len(item[0]))


def parse_filter(t: Callable[..., str], args: str) -> tuple[str | None, str]:
    """(action prefix or None, the folded rest: part of a person's name)."""
    typed = fold(args)
    for name, prefix in kinds(t):
        if typed == name or typed.startswith(name + " "):
            return prefix, typed[len(name) :].strip()
    return None, typed


async def show_log(ctx: Ctx, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    action, person = parse_filter(ctx.t, args)
    entries = await audit_entries(ctx.session, action_prefix=action)
    if person:
        entries = [(e, name) for e, name in entries if person in fold(name or "")]
    if not entries:
        ctx.say("audit-none")
        return
    lines = [ctx.t("audit-head", count=min(len(entries), SHOWN))]
    for entry, name in entries[:SHOWN]:
        subject = (
            f" · {object_name(ctx.t, entry.object_type)} #{entry.object_id}"
            if entry.object_type
            else ""
        )
        lines.append(
            f"{vn.format_datetime(entry.at, ctx.config.timezone)} · {name or '—'} · "
            f"{action_name(ctx.t, entry.action)}{subject}"
        )
    lines.append(ctx.t("audit-hint"))
    ctx.result.say("\n".join(lines))


COMMANDS = (
    Command(("nhatky",), Role.ADMIN, lambda ctx, conv, args: show_log(ctx, args), shows=True),
)
