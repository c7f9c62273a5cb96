"""Digests for coordinators (their units) and admins (the whole organisation), on the schedule
each chooses with /tomtat: daily at an hour, weekly on a day and hour (default Monday 08:00), or
off. One per person per scheduled slot, through the outbox under the slot's key, so a restart at
the scheduled minute neither loses nor doubles one. Storage decides who is due, `bot/schedules.py`
runs each as a unit of work of its own; this module says what a digest holds."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.coordinator.reading import line_label
from handlers.core import buttons
from handlers.core.commands import Command, Role
from handlers.core.context import CoreConfig, Ctx
from handlers.core.flow import Flow, register
from handlers.core.types import Choice, Outbound
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared.charts import drawn, reports_chart
from handlers.shared.views import indicator_line
from language import vn
from language.texts import Texts
from storage import outbox, schedules
from storage.models import Conversation, Member
from storage.records.people import unreachable_members
from storage.records.reports import flagged_since, new_reports, reports_since
from storage.records.review import submitted_since
from storage.records.units import root_units_of, unit_tree, with_descendants
from storage.schedules import DigestDue
from storage.stats import unit_state

MODES = ("weekly", "daily", "off")
# Not a schedule: a digest sent at once, the schedule left as it was.
NOW = "now"
# New reports a digest opens, each with a button of its own.
DIGEST_REPORTS = 8


class DigestSettingsFlow(Flow):
    form = FormSpec(
        "digest",
        "form-digest",
        (
            FieldSpec(
                "mode",
                "choice",
                "label-digest-mode",
                "ask-digest-mode",
                options=tuple(Option(mode, f"digest-mode-{mode}") for mode in (*MODES, NOW)),
            ),
            FieldSpec(
                "weekday",
                "choice",
                "label-digest-weekday",
                "ask-digest-weekday",
                options=tuple(Option(str(day), f"weekday-{day}") for day in range(7)),
                when=(("mode", "weekly"),),
            ),
            FieldSpec(
                "hour",
                "number",
                "label-digest-hour",
                "ask-digest-hour",
                integer=True,
                minimum=Decimal(0),
                maximum=Decimal(23),
                clock=True,
                when=(("mode", "weekly"),),
            ),
            FieldSpec(
                "daily_hour",
                "number",
                "label-digest-hour",
                "ask-digest-hour",
                integer=True,
                minimum=Decimal(0),
                maximum=Decimal(23),
                clock=True,
                when=(("mode", "daily"),),
            ),
        ),
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin() or await ctx.is_coordinator()

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        member = ctx.member
        if answers["mode"] == NOW:
            await send_now(ctx)
            return
        member.digest_mode = answers["mode"]
        if answers["mode"] == "weekly":
            member.digest_weekday = int(answers["weekday"])
            member.digest_hour = int(answers["hour"])
        elif answers["mode"] == "daily":
            member.digest_hour = int(answers["daily_hour"])
        # The next digest covers what happens from now on.
        member.last_digest_at = ctx.now
        ctx.result.say(schedule_text(ctx.t, member))


register(DigestSettingsFlow())


async def send_now(ctx: Ctx) -> None:
    """The digest at once, as a reply: what came since the last digest (the next scheduled one
    goes on from here), with its chart; then the schedule, unchanged."""
    member = ctx.member
    due = schedules.DigestDue(member.id, ctx.now, schedules.digest_since(member, ctx.now))
    payload, rows = await build(ctx.session, ctx.config, ctx.t, member, due.since, ctx.now)
    png = await drawn(chart, ctx.t, rows)
    await schedules.claim_digest_slot(ctx.session, due=due)
    ctx.result.messages.append(
        Outbound(
            payload["text"],
            choices=[[Choice(**choice) for choice in row] for row in payload["choices"]],
            photo=png,
        )
    )
    ctx.result.say(ctx.t("digest-now-schedule", schedule=schedule_text(ctx.t, member)))


def schedule_text(t: Any, member: Member) -> str:
    if member.digest_mode == "off":
        return t("digest-schedule-off")
    hour = f"{member.digest_hour:02}:00"
    if member.digest_mode == "daily":
        return t("digest-schedule-daily", hour=hour)
    return t("digest-schedule-weekly", day=t(f"weekday-{member.digest_weekday}"), hour=hour)


async def start_settings(ctx: Ctx) -> None:
    if not (await ctx.is_admin() or await ctx.is_coordinator()):
        ctx.say("error-not-allowed")
        return
    from handlers.core import conversation

    ctx.result.say(schedule_text(ctx.t, ctx.member))
    await conversation.start(ctx, "digest")


async def compose(
    session: AsyncSession, config: CoreConfig, texts: Texts, due: DigestDue, now: datetime
) -> tuple[dict[str, Any], list[tuple[str, int, int]]] | None:
    """The digest due, as an outbox payload, and its chart's bars; None when its person is
    gone. Read in a read-only unit of work: no write lock is held while figures are counted."""
    member = await session.get(Member, due.member_id)
    if member is None:
        return None
    return await build(session, config, texts, member, due.since, now)


def chart(texts: Texts, rows: list[tuple[str, int, int]]) -> bytes | None:
    """The chart's PNG; None for fewer than two bars, which say nothing the text does not.
    Slow: the scheduler runs it off the event loop, with no transaction open."""
    if len(rows) < 2:
        return None
    return reports_chart(
        rows,
        title=texts("digest-chart-title"),
        expected=texts("digest-chart-expected"),
        received=texts("digest-chart-received"),
    )


async def queue(
    session: AsyncSession,
    config: CoreConfig,
    due: DigestDue,
    payload: dict[str, Any],
    png: bytes | None,
    now: datetime,
) -> bool:
    """Record the digest's slot and queue it, in the unit of work given. False when its slot
    was taken meanwhile (another replica) or it was queued already."""
    if png is not None:
        payload = {**payload, "photo": base64.b64encode(png).decode("ascii")}
    if not await schedules.claim_digest_slot(session, due=due):
        return False
    return await outbox.enqueue(
        session,
        key=due.key,
        member_id=due.member_id,
        payload=payload,
        now=now,
        not_before=config.quiet_hours.next_allowed(now.astimezone(config.timezone)),
        priority=4,
    )


async def _scope(
    session: Any, member: Member, every: list[Any]
) -> tuple[set[int] | None, list[Any]]:
    """Unit ids the digest covers (None: everything) and the units its chart shows."""
    if member.is_admin:
        return None, [u for u in every if u.parent_id is None and u.active]
    roots = await root_units_of(session, member_id=member.id)
    return with_descendants(every, [u.id for u in roots]), list(roots)


def chart_rows(every: list[Any], state: Any, units: list[Any]) -> list[tuple[str, int, int]]:
    """The chart's bars: the units held, or, when that is a single unit, the units directly
    under it (with the unit's own people as a bar of their own). A single bar says nothing the
    text does not, so fewer than two bars mean no chart."""
    if len(units) == 1:
        children = [u for u in every if u.parent_id == units[0].id and u.active]
        if children:
            own = state.reports_of({units[0].id})
            rows = [(units[0].name, *own)] if own[0] else []
            return rows + [
                (u.name, *state.reports_of(with_descendants(every, [u.id]))) for u in children
            ]
        return []
    return [(u.name, *state.reports_of(with_descendants(every, [u.id]))) for u in units]


async def build(
    session: Any, config: CoreConfig, texts: Texts, member: Member, since: datetime, now: datetime
) -> tuple[dict[str, Any], list[tuple[str, int, int]]]:
    """The digest's text and buttons, as an outbox payload, and its chart's bars (drawn by the
    caller, outside the transaction)."""
    today = now.astimezone(config.timezone).date()
    # The tree as plain rows: a country has thousands of units.
    every = list(await unit_tree(session))
    unit_ids, chart_units = await _scope(session, member, every)
    new_waiting, waiting = await submitted_since(session, unit_ids=unit_ids, since=since)
    reports = await reports_since(session, unit_ids=unit_ids, since=since)
    scope_ids = unit_ids if unit_ids is not None else {u.id for u in every}
    state = await unit_state(session, unit_ids=scope_ids, today=today)
    since_day = since.astimezone(config.timezone).date()
    became_overdue = [o for o in state.overdue if since_day <= o.period.due < today]
    unreachable = await unreachable_members(session, unit_ids=unit_ids)
    flagged, first_flagged = await flagged_since(session, unit_ids=unit_ids, since=since)
    head = texts("digest-head", since=vn.format_datetime(since, config.timezone))
    if not (new_waiting or reports or became_overdue):
        nothing = texts("digest-nothing-new", since=vn.format_date(since_day))
        return {"text": nothing, "choices": []}, []
    lines = [head]
    lines.append(
        texts("digest-waiting", new=vn.format_number(new_waiting), total=vn.format_number(waiting))
    )
    lines.append(texts("digest-reports", count=vn.format_number(reports)))
    # The new reports, each a step away: a button (on Zalo, the command to type).
    opened = await new_reports(session, unit_ids=unit_ids, since=since, limit=DIGEST_REPORTS)
    if reports > len(opened):
        lines.append(
            texts(
                "digest-reports-more",
                shown=len(opened),
                count=vn.format_number(reports - len(opened)),
            )
        )
    if flagged:
        # Difficulties and proposals reach someone: each named with the command that answers it.
        lines.append(texts("digest-flagged", count=vn.format_number(flagged)))
        lines += [
            "  – " + texts("digest-flagged-line", name=name, title=title, id=report_id)
            for report_id, name, title in first_flagged
        ]
        if flagged > len(first_flagged):
            lines.append("  " + texts("digest-flagged-more", count=flagged - len(first_flagged)))
    if state.expected:
        lines.append(
            texts(
                "digest-period",
                received=vn.format_number(state.received),
                expected=vn.format_number(state.expected),
            )
        )
    if became_overdue:
        lines.append(texts("digest-overdue", count=len(became_overdue)))
        lines += [f"  – {o.name}: {o.title}" for o in became_overdue[:30]]
    if unreachable:
        lines.append(texts("digest-unreachable", names=", ".join(unreachable[:30])))
    if state.indicators:
        lines.append(texts("unit-state-indicators"))
        for item in state.indicators[:20]:
            lines.append(indicator_line(texts, item))
    choices = []
    if waiting:
        choices = [[{"label": texts("button-open-review"), "data": buttons.GO("duyet")}]]
    choices += [
        [{"label": line_label(texts, config.timezone, line), "data": buttons.REPORT_VIEW(line.id)}]
        for line in opened
    ]
    return {"text": "\n".join(lines), "choices": choices}, chart_rows(every, state, chart_units)


COMMANDS = (
    Command(("tomtat",), Role.STAFF, lambda ctx, conv, a: start_settings(ctx), opens="digest"),
)
