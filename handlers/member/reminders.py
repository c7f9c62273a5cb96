"""Reminders: the periodic sweep that decides from the database who is due (so nothing depends
on jobs kept in memory), the nudge for unfinished forms, and /nhacnho, a member's own settings.
Everything goes through the outbox with a unique key, so a sweep run twice sends nothing twice."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from handlers.core import buttons, conversation
from handlers.core.commands import Command, Role
from handlers.core.context import CoreConfig, Ctx
from handlers.core.flow import Flow, register
from handlers.core.notify import payload
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec
from handlers.member.reports import period_label
from language import vn
from language.texts import Texts
from storage import queries, rules
from storage.db import Database
from storage.models import Campaign, Conversation, Identity, Member, Model, Report
from storage.periods import Period, due_reminders, is_paused, reporting_periods

NUDGED_FORMS = ("register", "report")


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

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        return FormEnv(context={"today": ctx.today.isoformat()})

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        # A reminder at an hour in quiet hours would arrive the next morning, a day late.
        quiet = ctx.config.quiet_hours
        if spec.name == "hour" and value is not None and quiet.contains(time(int(value))):
            raise vn.InputError(
                "reminder-hour-quiet", quiet=f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"
            )

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        ctx.member.reminder_hour = int(answers["hour"]) if answers.get("hour") else None
        paused = answers.get("paused_until")
        ctx.member.paused_until = date.fromisoformat(paused) if paused else None
        await queries.audit(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="reminders.settings",
            details={"hour": ctx.member.reminder_hour, "paused_until": paused},
        )
        ctx.result.say(settings_text(ctx))


register(ReminderSettingsFlow())


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


async def start_settings(ctx: Ctx) -> None:
    ctx.result.say(settings_text(ctx))
    await conversation.start(ctx, "reminders")


def _periods(today: date, campaign: Campaign, model_start: date, model_end: date) -> list[Period]:
    return reporting_periods(
        today,
        cadence=campaign.cadence,
        due_day=campaign.due_day,
        starts_on=max(model_start, campaign.starts_on),
        ends_on=min(model_end, campaign.ends_on),
    )


async def sweep(db: Database, config: CoreConfig, now: datetime, texts: Texts) -> tuple[int, int]:
    """Queue the reminders and nudges due at `now`. Returns (reminders, nudges) queued.

    Built for tens of thousands of models every few minutes: plain columns instead of records,
    the reminder moments worked out once per campaign and hour, the reports and the keys
    already queued read in one query each, new reminders inserted in bulk."""
    today = now.astimezone(config.timezone).date()
    not_before = config.quiet_hours.next_allowed(now.astimezone(config.timezone))
    reachable = select(Identity.id).where(
        Identity.member_id == Member.id, Identity.unreachable_at.is_(None)
    )
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    Model.id,
                    Model.title,
                    Model.starts_on,
                    Model.ends_on,
                    Model.owner_id,
                    Campaign,
                    Member.reminder_hour,
                    Member.paused_until,
                )
                .join(Campaign, Campaign.id == Model.campaign_id)
                .join(Member, Member.id == Model.owner_id)
                .where(Model.status.in_((rules.APPROVED, rules.IN_PROGRESS)), reachable.exists())
            )
        ).all()
        due_by_group: dict[tuple[int, int], list[tuple[Period, str]]] = {}
        wanted = []
        for model_id, title, starts_on, ends_on, owner_id, campaign, hour, paused in rows:
            if is_paused(paused, today):
                continue
            hour = hour if hour is not None else config.reminder_hour
            group = (campaign.id, hour)
            if group not in due_by_group:
                due_by_group[group] = due_reminders(
                    _periods(today, campaign, campaign.starts_on, campaign.ends_on),
                    now=now,
                    hour=hour,
                    tz=config.timezone,
                    quiet=config.quiet_hours,
                    before_days=config.remind_before_days,
                    overdue_days=config.remind_overdue_days,
                )
            for period, kind in due_by_group[group]:
                if period.start <= ends_on and period.end >= starts_on:
                    wanted.append((model_id, title, owner_id, campaign, period, kind))
        starts = {period.start for *_, period, _ in wanted}
        reported = set()
        if starts:
            found = await session.execute(
                select(Report.model_id, Report.period_start).where(Report.period_start.in_(starts))
            )
            reported = set(found.all())
        queued = await queries.recent_keys(session, prefix="remind:", since=now - timedelta(days=3))
        new = []
        for model_id, title, owner_id, campaign, period, kind in wanted:
            key = f"remind:{kind}:{owner_id}:{model_id}:{period.key()}"
            if (model_id, period.start) in reported or key in queued:
                continue
            label = period_label(texts, period, campaign.cadence)
            text = (
                texts(f"reminder-{kind}", title=title, period=label, due=vn.format_date(period.due))
                + "\n"
                + texts("reminder-settings-hint")
            )
            new.append(
                {
                    "key": key,
                    "member_id": owner_id,
                    "payload": payload(
                        text, [[Choice(texts("button-report-now"), buttons.REPORT(model_id))]]
                    ),
                    "status": "pending",
                    "priority": 5,
                    "attempts": 0,
                    "not_before": not_before,
                    "created_at": now,
                }
            )
        reminders = await queries.enqueue_many(session, new)
        nudges = await _nudge(session, config, now, not_before, texts)
    return reminders, nudges


async def _nudge(
    session: Any, config: CoreConfig, now: datetime, not_before: datetime, texts: Texts
) -> int:
    stale = (
        await session.scalars(
            select(Conversation).where(
                Conversation.form.in_(NUDGED_FORMS),
                Conversation.nudged_at.is_(None),
                Conversation.updated_at <= now - config.nudge_after,
            )
        )
    ).all()
    for conv in stale:
        started = conv.started_at or conv.updated_at
        title = texts(f"form-{'register' if conv.form == 'register' else 'report'}")
        await queries.enqueue(
            session,
            key=f"nudge:{conv.member_id}:{conv.form}:{started.isoformat()}",
            member_id=conv.member_id,
            payload=payload(
                texts("nudge", title=title), [[Choice(texts("button-continue"), buttons.RESUME())]]
            ),
            now=now,
            not_before=not_before,
        )
        # A plain UPDATE: the ORM's version counter stays, so the person's buttons stay valid.
        await session.execute(
            update(Conversation)
            .where(Conversation.member_id == conv.member_id)
            .values(nudged_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(stale)


COMMANDS = (
    Command(("nhacnho",), Role.MEMBER, lambda ctx, conv, a: start_settings(ctx), opens="reminders"),
)
