"""/toi: everything the bot keeps about the person asking, readable; the same as a JSON file to
download (a signed link where the channel sends no files); and from there a small form to
correct the name, category and phone, checked as at joining. Reading one's own data works
before agreeing to the personal-data notice (handlers/core/consent.py); correcting does not."""

from __future__ import annotations

import json
from typing import Any

from handlers.core import buttons, consent, conversation
from handlers.core.buttons import Go
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.types import Choice, Outbound
from handlers.forms.spec import FormSpec
from handlers.member.onboarding import CATEGORY, NAME, PHONE
from language import vn
from storage.models import Conversation
from storage.records.audit import add_audit_entry
from storage.records.personal import PersonalRecord, personal_record

FORM = "myprofile"
PROFILE = ("full_name", "category", "phone")
JSON_NAME = "du-lieu-cua-toi.json"


def _when(ctx: Ctx, moment: Any) -> str:
    return vn.format_datetime(moment, ctx.config.timezone)


def page(ctx: Ctx, record: PersonalRecord) -> list[str]:
    t, member = ctx.t, record.member
    none = t("me-none")
    category = t(f"category-{member.category}") if member.category else none
    lines = [
        t("me-head"),
        f"• {t('label-full-name')}: {member.full_name or none}",
        f"• {t('label-category')}: {category}",
        f"• {t('label-phone')}: {vn.format_phone(member.phone) if member.phone else none}",
    ]
    if member.is_admin:
        lines.append(t("me-admin"))
    lines.append(t("me-units") + (":" if record.units else f": {none}"))
    lines += [f"  – {j.unit} ({t(f'role-{j.role}')}), {_when(ctx, j.at)}" for j in record.units]
    if record.join_requests:
        lines.append(t("me-join-requests") + ":")
        lines += [
            f"  – {j.unit}: {t(f'me-request-{j.role}')}, {_when(ctx, j.at)}"
            for j in record.join_requests
        ]
    lines.append(t("me-models", count=len(record.models)) + (":" if record.models else ""))
    lines += [f"  – {m.code} · {m.title} — {t(f'status-{m.status}')}" for m in record.models]
    lines.append(t("me-reports", count=record.reports))
    lines.append(t("me-consents") + (":" if record.consents else f": {none}"))
    lines += [
        "  – "
        + t(
            "me-consent-line",
            version=c.version,
            at=_when(ctx, c.agreed_at),
            channel=t(f"channel-{c.channel}"),
        )
        + (" " + t("me-consent-withdrawn", at=_when(ctx, c.withdrawn_at)) if c.withdrawn_at else "")
        for c in record.consents
    ]
    lines.append(t("me-channels") + ":")
    lines += [
        f"  – {t(f'channel-{i.channel}')}"
        + (f" ({i.display_name})" if i.display_name else "")
        + f", {_when(ctx, i.created_at)}"
        for i in record.identities
    ]
    lines.append(t("me-foot"))
    return lines


def as_json(ctx: Ctx, record: PersonalRecord) -> bytes:
    member = record.member
    data = {
        "exported_at": ctx.now.isoformat(),
        "profile": {
            "id": member.id,
            "full_name": member.full_name,
            "category": member.category,
            "phone": member.phone,
            "is_admin": member.is_admin,
            "created_at": member.created_at.isoformat(),
        },
        "settings": {
            "reminder_hour": member.reminder_hour,
            "paused_until": member.paused_until.isoformat() if member.paused_until else None,
            "digest_mode": member.digest_mode,
            "digest_hour": member.digest_hour,
            "digest_weekday": member.digest_weekday,
        },
        "units": [
            {"unit": j.unit, "role": j.role, "since": j.at.isoformat()} for j in record.units
        ],
        "join_requests": [
            {"unit": j.unit, "status": j.role, "at": j.at.isoformat()} for j in record.join_requests
        ],
        "models": [{"code": m.code, "title": m.title, "status": m.status} for m in record.models],
        "reports": record.reports,
        "consents": [
            {
                "notice_version": c.version,
                "channel": c.channel,
                "agreed_at": c.agreed_at.isoformat(),
                "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
            }
            for c in record.consents
        ],
        "channels": [
            {
                "channel": i.channel,
                "id": i.external_id,
                "display_name": i.display_name,
                "since": i.created_at.isoformat(),
            }
            for i in record.identities
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


async def show(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    record = await personal_record(ctx.session, member=ctx.member)
    rows = [[Choice(ctx.t("button-me-json"), buttons.MINE("json"))]]
    if ctx.member.full_name is not None:
        rows.append([Choice(ctx.t("button-me-edit"), buttons.MINE("edit"))])
    ctx.result.say("\n".join(page(ctx, record)), rows)


async def press(ctx: Ctx, conv: Conversation | None, value: Go) -> None:
    if value.command == "edit":
        if ctx.member.full_name is None:
            ctx.say("me-no-profile")
            return
        if await consent.needed(ctx):
            # Correcting is processing: it waits for the notice to be agreed to.
            consent.show_notice(ctx, again=True)
            return
        # Known already: the form opens at its summary, each answer changed from there.
        answers = {name: getattr(ctx.member, name) for name in PROFILE}
        await conversation.start(ctx, FORM, answers=answers)
        return
    record = await personal_record(ctx.session, member=ctx.member)
    # A view of personal data, on the record like the others (a join request's phone, an export).
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="personal.exported",
        object_type="member",
        object_id=ctx.member.id,
    )
    text = ctx.t("me-json-sent")
    ctx.result.messages.append(Outbound(text, document=(JSON_NAME, as_json(ctx, record))))


class ProfileEditFlow(Flow):
    form = FormSpec(
        FORM, "form-myprofile", (NAME, CATEGORY, PHONE), confirm_label="button-save-profile"
    )

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        member = ctx.member
        changed = [name for name in PROFILE if getattr(member, name) != answers.get(name)]
        if not changed:
            ctx.say("me-unchanged")
            return
        for name in changed:
            setattr(member, name, answers.get(name))
        # Which fields, never their values: the log must not become a copy of personal data.
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=member.id,
            action="personal.corrected",
            object_type="member",
            object_id=member.id,
            details={"fields": changed},
        )
        labels = ", ".join(ctx.t(f"label-{name.replace('_', '-')}") for name in changed)
        ctx.say("me-corrected", fields=labels)


register(ProfileEditFlow())

COMMANDS = (Command(("toi",), Role.ANYONE, show, shows=True, before_consent=True),)
BUTTONS = (
    Button(
        buttons.MINE,
        Role.ANYONE,
        press,
        opens=FORM,
        when=lambda value: value.command == "edit",
        before_consent=True,  # the file; the form checks for itself
    ),
)
