"""/thongbao: an admin sends a message to everyone, to chosen units or to a role. The form ends in
a preview of the message exactly as it will arrive, with the number of people it will reach;
confirmed, it goes through the outbox, and the admin's progress message is edited as it goes out
("đã gửi 1.200/5.908") until the final count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.core import conversation
from handlers.core.commands import Role, form
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.notify import delivery_time
from handlers.core.options import unit_options
from handlers.core.types import Outbound
from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from language import vn
from language.texts import Texts
from storage import broadcasts, outbox, rules
from storage.conversation_state import group_answer
from storage.db import Database
from storage.models import Broadcast, Conversation
from storage.records.audit import add_audit_entry
from storage.records.units import all_units, descendant_ids, units_by_ids

MAX_TEXT = 3500
# After replies-like notices (3), digests (4) and reminders (5): a broadcast of thousands never
# holds up what one person is waiting for.
PRIORITY = 8
TRACK = "broadcast"

FORM = FormSpec(
    "broadcast",
    "form-broadcast",
    (
        FieldSpec(
            "audience",
            "choice",
            "label-broadcast-audience",
            "ask-broadcast-audience",
            options=(
                Option(broadcasts.ALL, "broadcast-audience-all"),
                Option(broadcasts.UNITS, "broadcast-audience-units"),
                Option(broadcasts.ROLE, "broadcast-audience-role"),
            ),
        ),
        FieldSpec(
            "units",
            "group",
            "label-broadcast-units",
            "ask-broadcast-units",
            when=(("audience", broadcasts.UNITS),),
            fields=(
                FieldSpec(
                    "unit", "choice", "label-broadcast-unit", "ask-broadcast-unit", source="units"
                ),
            ),
            max_items=30,
            item_label="broadcast-unit-item",
        ),
        FieldSpec(
            "role",
            "choice",
            "label-broadcast-role",
            "ask-broadcast-role",
            when=(("audience", broadcasts.ROLE),),
            options=(
                Option(rules.ROLE_MEMBER, "role-member"),
                Option(rules.ROLE_COORDINATOR, "role-coordinator"),
                Option(broadcasts.ROLE_ADMIN, "broadcast-role-admin"),
            ),
        ),
        FieldSpec(
            "text",
            "text",
            "label-broadcast-text",
            "ask-broadcast-text",
            max_length=MAX_TEXT,
            multiline=True,
        ),
    ),
    confirm_label="button-broadcast-send",
)


@dataclass(frozen=True)
class Edit:
    """A message a channel must change: where it is and its new text."""

    channel: str
    chat_id: str
    message_id: str
    text: str
    final: bool = False


def message_text(t: Texts, text: str) -> str:
    """The broadcast as each recipient sees it."""
    return t("broadcast-message", text=text)


def _wrap(t: Texts) -> list[str]:
    """What comes before and after the admin's text in each recipient's message."""
    marker = "\x00"
    before, _, after = message_text(t, marker).partition(marker)
    return [before, after]


def progress_text(t: Texts, *, done: int, total: int) -> str:
    return t("broadcast-progress", done=vn.format_number(done), total=vn.format_number(total))


def final_text(t: Texts, *, sent: int, unreachable: int, failed: int) -> str:
    return t(
        "broadcast-finished",
        sent=vn.format_number(sent),
        unreachable=vn.format_number(unreachable),
        failed=vn.format_number(failed),
    )


def _chosen_units(answers: dict[str, Any]) -> list[int]:
    return sorted({int(item["unit"]) for item in answers.get("units") or []})


def _audience(answers: dict[str, Any]) -> dict[str, Any]:
    """Who the broadcast is for, as stored with it."""
    kind = answers["audience"]
    if kind == broadcasts.UNITS:
        return {"kind": kind, "unit_ids": _chosen_units(answers)}
    if kind == broadcasts.ROLE:
        return {"kind": kind, "role": answers["role"]}
    return {"kind": kind}


async def _recipient_filter(ctx: Ctx, audience: dict[str, Any]) -> dict[str, Any]:
    """A unit includes its sub-units, as it does for its coordinators."""
    unit_ids: set[int] = set()
    if audience["kind"] == broadcasts.UNITS:
        unit_ids = await descendant_ids(ctx.session, roots=audience["unit_ids"])
    return {
        "kind": audience["kind"],
        "unit_ids": unit_ids,
        "role": audience.get("role"),
        "exclude": ctx.member.id,  # the sender has seen the preview
    }


async def _describe(ctx: Ctx, audience: dict[str, Any]) -> str:
    if audience["kind"] == broadcasts.UNITS:
        units = await units_by_ids(ctx.session, ids=audience["unit_ids"])
        return ", ".join(units[i].name for i in audience["unit_ids"] if i in units)
    if audience["kind"] == broadcasts.ROLE:
        role = audience["role"]
        name = ctx.t("broadcast-role-admin" if role == broadcasts.ROLE_ADMIN else f"role-{role}")
        return ctx.t("broadcast-audience-of-role", role=name)
    return ctx.t("broadcast-audience-everyone")


class BroadcastFlow(AdminFlow):
    form = FORM

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        units = await all_units(ctx.session)
        return FormEnv(options={"units": unit_options(units)})

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "unit":
            group = group_answer(conv.state["answers"], "units")
            chosen = [*group["items"], group["current"]] if group else []
            if any(item.get("unit") == value for item in chosen):
                units = await units_by_ids(ctx.session, ids=[int(value)])
                raise vn.InputError("broadcast-unit-twice", unit=units[int(value)].name)

    async def preview(self, ctx: Ctx, conv: Conversation, note: str | None) -> bool:
        answers = engine.final_answers(self.form, conv.state)
        audience = _audience(answers)
        count = await broadcasts.count_recipients(
            ctx.session, **await _recipient_filter(ctx, audience)
        )
        ctx.result.say(message_text(ctx.t, answers["text"]))
        lines = [note] if note else []
        described = await _describe(ctx, audience)
        if count:
            lines.append(
                ctx.t("broadcast-preview", audience=described, count=vn.format_number(count))
            )
        else:
            lines.append(ctx.t("broadcast-preview-nobody", audience=described))
        button = conversation.button
        rows = [[button(conv, "ok", ctx.t("button-broadcast-send"))]] if count else []
        rows.append(
            [
                button(conv, "e:text", ctx.t("button-broadcast-edit")),
                button(conv, "e:audience", ctx.t("button-broadcast-audience")),
            ]
        )
        if audience["kind"] == broadcasts.UNITS:
            rows.append([button(conv, "e:units", ctx.t("button-broadcast-units"))])
        rows.append(
            [
                button(conv, "b", ctx.t("button-back")),
                button(conv, "x", ctx.t("button-broadcast-cancel")),
            ]
        )
        ctx.result.say("\n".join(lines), rows)
        return True

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if not await ctx.is_admin():
            raise vn.InputError("error-not-allowed")
        audience = _audience(answers)
        chosen = await _recipient_filter(ctx, audience)
        if not await broadcasts.count_recipients(ctx.session, **chosen):
            raise vn.InputError("broadcast-nobody")
        sent = Broadcast(
            created_by=ctx.member.id,
            text=answers["text"],
            audience=audience,
            total=0,
            created_at=ctx.now,
        )
        ctx.session.add(sent)
        await ctx.session.flush()
        not_before = delivery_time(ctx)
        sent.total = await broadcasts.enqueue(
            ctx.session,
            broadcast_id=sent.id,
            # The text itself stays in the Broadcast row (storage.outbox.with_texts).
            payload={"choices": [], "broadcast": sent.id, "wrap": _wrap(ctx.t)},
            priority=PRIORITY,
            not_before=not_before,
            now=ctx.now,
            **chosen,
        )
        sent.progress_text = progress_text(ctx.t, done=0, total=sent.total)
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="broadcast.sent",
            object_type="broadcast",
            object_id=sent.id,
            details={**audience, "total": sent.total},
        )
        if not_before > ctx.now:
            ctx.say("broadcast-quiet", at=vn.format_datetime(not_before, ctx.config.timezone))
        ctx.result.messages.append(Outbound(sent.progress_text, track=f"{TRACK}:{sent.id}"))


register(BroadcastFlow())


async def track_message(
    db: Database, track: str, *, channel: str, chat_id: str, message_id: str
) -> bool:
    """A channel sent a followed message (`Outbound.track`): remember where, to edit it later."""
    kind, _, ident = track.partition(":")
    if kind != TRACK or not ident.isdigit():
        return False
    async with db.session() as session:
        return await broadcasts.track(
            session,
            broadcast_id=int(ident),
            channel=channel,
            chat_id=chat_id,
            message_id=message_id,
        )


async def progress_updates(
    db: Database,
    t: Texts,
    now: datetime,
    *,
    channel: str,
    chat_id: str | None = None,
    final_by_outbox: bool = False,
) -> list[Edit]:
    """The progress messages on this channel whose text has changed since last shown; a
    broadcast with nothing left pending or being sent gets its final count and is finished.
    With `final_by_outbox` (a channel without edits) the final count is queued in the outbox, in
    the unit of work that finishes the broadcast, so a refused send delays it but never loses it;
    it is then not among the edits returned."""
    edits = []
    async with db.session() as session:
        for sent in await broadcasts.in_progress(session, channel=channel, chat_id=chat_id):
            counts = await broadcasts.not_sent_counts(session, broadcast_id=sent.id)
            waiting = counts.get(outbox.PENDING, 0) + counts.get(outbox.SENDING, 0)
            unreachable = counts.get(outbox.UNREACHABLE, 0)
            failed = counts.get(outbox.FAILED, 0)
            if waiting:
                text = progress_text(t, done=sent.total - waiting, total=sent.total)
            else:
                delivered = sent.total - unreachable - failed
                text = final_text(t, sent=delivered, unreachable=unreachable, failed=failed)
                sent.finished_at = now
            if text != sent.progress_text:
                sent.progress_text = text
                assert sent.progress_chat_id is not None and sent.progress_message_id is not None
                if final_by_outbox and not waiting:
                    await outbox.enqueue(
                        session,
                        key=f"bc-done:{sent.id}",
                        member_id=sent.created_by,
                        payload={"text": text},
                        now=now,
                        priority=3,
                    )
                    continue
                edits.append(
                    Edit(
                        channel, sent.progress_chat_id, sent.progress_message_id, text, not waiting
                    )
                )
    return edits


COMMANDS = (form("thongbao", Role.ADMIN, "broadcast"),)
