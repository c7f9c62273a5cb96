"""Reminders: what a member due a reminder or a nudge for an unfinished form is sent (storage
decides who is due, `bot/schedules.py` when), and /nhacnho, a member's own settings. Everything
goes through the outbox with a unique key, so a sweep run twice sends nothing twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core import buttons, conversation
from handlers.core.commands import Command, Role
from handlers.core.context import CoreConfig, Ctx
from handlers.core.flow import Flow, register
from handlers.core.notify import payload
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.views import period_label
from language import vn
from language.texts import Texts
from storage import outbox, schedules
from storage.conversation_state import ConversationContext
from storage.models import Conversation
from storage.periods import is_paused
from storage.records import linking
from storage.records.audit import add_audit_entry
from storage.schedules import DueReminder, MemberDue, StaleForm

NUDGED_FORMS = ("register", "report")
AUTO = "auto"  # the channel: the one the person wrote from last


class ReminderSettingsFlow(Flow):
    form = FormSpec(
        "reminders",
        "form-reminders",
        (
            FieldSpec(
                "hour",
                "number",
                "label-reminder-hour",
                "ask-reminder-hour",
                required=False,
                integer=True,
                minimum=Decimal(0),
                maximum=Decimal(23),
                units=("unit-hour", "h", "g"),
                example="9",
                clock=True,
            ),
            FieldSpec(
                "paused_until",
                "date",
                "label-paused-until",
                "ask-paused-until",
                required=False,
                not_before="@today",
            ),
        ),
    )

    # Asked only of someone on more than one channel (/lienket): where reminders go.
    channel_field = FieldSpec(
        "channel",
        "choice",
        "label-delivery-channel",
        "ask-delivery-channel",
        required=False,
        source="channels",
    )

    def form_for(self, conv: Conversation) -> FormSpec:
        if len(conv.context.get("channels") or ()) < 2:
            return self.form
        return replace(self.form, fields=(*self.form.fields, self.channel_field))

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        channels = [str(c) for c in conv.context.get("channels") or ()]
        options = [Option(AUTO, "channel-auto")]
        options += [Option(channel, channel_label(ctx, channel)) for channel in channels]
        return FormEnv(
            options={"channels": options},
            context={"today": ctx.today.isoformat()},
            params=hour_params(ctx.config),
        )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        # A reminder at an hour in quiet hours would arrive the next morning, a day late.
        quiet = ctx.config.quiet_hours
        if spec.name == "hour" and value is not None and quiet.contains(time(int(value))):
            raise vn.InputError(
                "reminder-hour-quiet", hour=f"{int(value):02}:00", **hour_params(ctx.config)
            )

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        ctx.member.reminder_hour = int(answers["hour"]) if answers.get("hour") else None
        paused = answers.get("paused_until")
        ctx.member.paused_until = date.fromisoformat(paused) if paused else None
        details: dict[str, Any] = {"hour": ctx.member.reminder_hour, "paused_until": paused}
        if answers.get("channel"):
            chosen = None if answers["channel"] == AUTO else str(answers["channel"])
            await linking.choose_channel(
                ctx.session, member_id=ctx.member.id, channel=chosen, now=ctx.now
            )
            details["channel"] = chosen
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="reminders.settings",
            details=details,
        )
        ctx.result.say(settings_text(ctx) + await channel_line(ctx))


register(ReminderSettingsFlow())


def open_hours(config: CoreConfig) -> list[int]:
    """The hours a reminder can be set to: those outside quiet hours."""
    return [hour for hour in range(24) if not config.quiet_hours.contains(time(hour))]


def hour_params(config: CoreConfig) -> dict[str, object]:
    """The hours /nhacnho offers, as runs ("8–19", or "0–5, 9–23" around the night), and why
    the others are not."""
    runs: list[list[int]] = []
    for hour in open_hours(config):
        if runs and runs[-1][-1] == hour - 1:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    hours = ", ".join(f"{run[0]}–{run[-1]}" if len(run) > 1 else f"{run[0]}" for run in runs)
    quiet = config.quiet_hours
    return {"hours": hours, "quiet": f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"}


def settings_text(ctx: Ctx) -> str:
    member = ctx.member
    hour = member.reminder_hour if member.reminder_hour is not None else ctx.config.reminder_hour
    quiet = ctx.config.quiet_hours
    lines = [
        ctx.t(
            "reminders-now",
            hour=f"{hour:02}:00",
            quiet=f"{quiet.start:%H:%M}–{quiet.end:%H:%M}",
        )
    ]
    if is_paused(member.paused_until, ctx.today):
        lines.append(ctx.t("reminders-paused", until=vn.format_date(member.paused_until)))
    return "\n".join(lines)


def channel_label(ctx: Ctx, channel: str) -> str:
    return f"channel-{channel}" if ctx.t.has(f"channel-{channel}") else channel


async def channel_line(ctx: Ctx) -> str:
    """Where reminders go, for someone on more than one channel; empty otherwise."""
    channels = await linking.channels_of(ctx.session, member_id=ctx.member.id)
    if len(channels) < 2:
        return ""
    chosen = await linking.chosen_channel(ctx.session, member_id=ctx.member.id)
    shown = ctx.label(channel_label(ctx, chosen)) if chosen else ctx.t("channel-auto")
    return "\n" + ctx.t("reminders-channel", channel=shown)


async def start_settings(ctx: Ctx) -> None:
    ctx.result.say(settings_text(ctx) + await channel_line(ctx))
    channels = await linking.channels_of(ctx.session, member_id=ctx.member.id)
    context: ConversationContext = {"channels": channels} if len(channels) > 1 else {}
    await conversation.start(ctx, "reminders", context)


def not_before(config: CoreConfig, now: datetime) -> datetime:
    """Now, or the end of quiet hours: nothing the bot sends on its own goes out at night."""
    return config.quiet_hours.next_allowed(now.astimezone(config.timezone))


def end_of_day(config: CoreConfig, at: datetime) -> datetime:
    """The end of the local day `at` falls in: a reminder not sent by then (held back by a quota)
    is settled as expired rather than sent late."""
    local = at.astimezone(config.timezone)
    following = datetime.combine(local.date() + timedelta(days=1), time(), config.timezone)
    return following.astimezone(UTC)


def reminder_payload(texts: Texts, reminder: DueReminder) -> dict[str, object]:
    label = period_label(texts, reminder.period, reminder.cadence)
    text = (
        texts(
            f"reminder-{reminder.kind}",
            title=reminder.title,
            period=label,
            due=vn.format_date(reminder.period.due),
        )
        + "\n"
        + texts("reminder-settings-hint")
    )
    return payload(text, [[Choice(texts("button-report-now"), buttons.REPORT(reminder.model_id))]])


def nudge_payload(texts: Texts, stale: StaleForm) -> dict[str, object]:
    title = texts(f"form-{'register' if stale.form == 'register' else 'report'}")
    return payload(
        texts("nudge", title=title), [[Choice(texts("button-continue"), buttons.RESUME())]]
    )


async def queue_for(
    session: AsyncSession,
    config: CoreConfig,
    texts: Texts,
    due: Sequence[MemberDue],
    now: datetime,
) -> tuple[int, int]:
    """Queue these members' reminders and nudges in the unit of work given: one insert of every
    reminder, one claim of the nudges still due and one insert of those claimed, however many
    people. Returns (reminders, nudges) queued; a key already queued (a sweep run twice) is not
    queued again."""
    later = not_before(config, now)
    expires = end_of_day(config, later)

    def row(key: str, member_id: int, message: dict[str, object]) -> dict[str, Any]:
        return {
            "key": key,
            "member_id": member_id,
            "payload": message,
            "status": "pending",
            "priority": 5,
            "attempts": 0,
            "not_before": later,
            "created_at": now,
            "expires_at": expires,
        }

    rows = [
        row(reminder.key, member.member_id, reminder_payload(texts, reminder))
        for member in due
        for reminder in member.reminders
    ]
    reminders = await outbox.enqueue_many(session, rows)
    stale = [member.stale for member in due if member.stale is not None]
    claimed = await schedules.claim_nudges(
        session, stale=stale, idle_since=now - config.nudge_after, now=now
    )
    nudges = [row(s.key, s.member_id, nudge_payload(texts, s)) for s in stale if s in claimed]
    return reminders, await outbox.enqueue_many(session, nudges)


COMMANDS = (
    Command(("nhacnho",), Role.MEMBER, lambda ctx, conv, a: start_settings(ctx), opens="reminders"),
)
