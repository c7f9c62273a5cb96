"""Digests for coordinators (their units) and admins (the whole organisation), on the schedule
each chooses with /tomtat: daily at an hour, weekly on a day and hour (default Monday 08:00), or
off. One per person per scheduled slot, through the outbox under the slot's key, so a restart at
the scheduled minute neither loses nor doubles one."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, update

from handlers.admin.statistics import indicator_line
from handlers.core import buttons
from handlers.core.commands import Command, Role
from handlers.core.context import CoreConfig, Ctx
from handlers.core.flow import Flow, register
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared.charts import drawn, reports_chart
from language import vn
from language.texts import Texts
from storage import queries
from storage.db import Database
from storage.models import Conversation, Member
from storage.periods import latest_slot
from storage.stats import unit_state

log = logging.getLogger(__name__)

MODES = ("weekly", "daily", "off")
# A slot missed by more than this (the bot was down) is skipped rather than sent late.
GRACE = timedelta(hours=6)


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
                options=tuple(Option(mode, f"digest-mode-{mode}") for mode in MODES),
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
                when=(("mode", "daily"),),
            ),
        ),
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin() or await ctx.is_coordinator()

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        member = ctx.member
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


@dataclass(frozen=True)
class Due:
    """A digest whose slot has come: for whom, the slot, and the moment it covers from."""

    member_id: int
    slot: datetime
    since: datetime


async def due_now(db: Database, config: CoreConfig, now: datetime) -> list[Due]:
    """Who is due a digest now, in one short read."""
    due = []
    async with db.read() as session:
        for member in await queries.staff_members(session):
            slot = latest_slot(
                now,
                mode=member.digest_mode,
                hour=member.digest_hour,
                weekday=member.digest_weekday,
                tz=config.timezone,
            )
            if slot is None or now - slot > GRACE:
                continue
            if member.last_digest_at is not None and member.last_digest_at >= slot:
                continue
            since = member.last_digest_at or slot - (
                timedelta(days=1) if member.digest_mode == "daily" else timedelta(days=7)
            )
            due.append(Due(member.id, slot, since))
    return due


async def sweep(db: Database, config: CoreConfig, now: datetime, texts: Texts) -> int:
    """Queue the digests whose slot has come. Returns how many were queued.

    Everyone's default slot is the same minute, so each digest is a unit of its own: one that
    fails is logged and tried again at the next sweep (its slot stays unrecorded) while the
    others go, and no transaction stays open while a chart is drawn."""
    queued = 0
    for due in await due_now(db, config, now):
        try:
            queued += await queue_one(db, config, texts, due, now)
        except Exception:
            log.exception(
                "digest for member %d failed; tried again at the next sweep", due.member_id
            )
    return queued


async def queue_one(
    db: Database, config: CoreConfig, texts: Texts, due: Due, now: datetime
) -> bool:
    """Read one person's figures, draw their chart with no transaction open, then queue the
    digest and record its slot in one short write. False when there was nothing to queue."""
    async with db.read() as session:
        member = await session.get(Member, due.member_id)
        if member is None:
            return False
        payload, rows = await build(session, config, texts, member, due.since, now)
    if len(rows) >= 2:
        chart = await drawn(
            reports_chart,
            rows,
            title=texts("digest-chart-title"),
            expected=texts("digest-chart-expected"),
            received=texts("digest-chart-received"),
        )
        payload["photo"] = base64.b64encode(chart).decode("ascii")
    async with db.session() as session:
        # Claimed only while unrecorded: a second replica sweeping the same minute waits for
        # this one's row, then finds the slot taken.
        claimed = await session.execute(
            update(Member)
            .where(
                Member.id == due.member_id,
                or_(Member.last_digest_at.is_(None), Member.last_digest_at < due.slot),
            )
            .values(last_digest_at=due.slot)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:
            return False
        return await queries.enqueue(
            session,
            key=f"digest:{due.member_id}:{due.slot.isoformat()}",
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
    roots = await queries.root_units_of(session, member_id=member.id)
    return queries.with_descendants(every, [u.id for u in roots]), list(roots)


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
                (u.name, *state.reports_of(queries.with_descendants(every, [u.id])))
                for u in children
            ]
        return []
    return [(u.name, *state.reports_of(queries.with_descendants(every, [u.id]))) for u in units]


async def build(
    session: Any, config: CoreConfig, texts: Texts, member: Member, since: datetime, now: datetime
) -> tuple[dict[str, Any], list[tuple[str, int, int]]]:
    """The digest's text and buttons, as an outbox payload, and its chart's bars (drawn by the
    caller, outside the transaction)."""
    today = now.astimezone(config.timezone).date()
    # The tree as plain rows: a country has thousands of units.
    every = list(await queries.unit_tree(session))
    unit_ids, chart_units = await _scope(session, member, every)
    new_waiting, waiting = await queries.submitted_since(session, unit_ids=unit_ids, since=since)
    reports = await queries.reports_since(session, unit_ids=unit_ids, since=since)
    scope_ids = unit_ids if unit_ids is not None else {u.id for u in every}
    state = await unit_state(session, unit_ids=scope_ids, today=today)
    since_day = since.astimezone(config.timezone).date()
    became_overdue = [o for o in state.overdue if since_day <= o.period.due < today]
    unreachable = await queries.unreachable_members(session, unit_ids=unit_ids)
    head = texts("digest-head", since=vn.format_datetime(since, config.timezone))
    if not (new_waiting or reports or became_overdue):
        nothing = texts("digest-nothing-new", since=vn.format_date(since_day))
        return {"text": nothing, "choices": []}, []
    lines = [head]
    lines.append(
        texts("digest-waiting", new=vn.format_number(new_waiting), total=vn.format_number(waiting))
    )
    lines.append(texts("digest-reports", count=vn.format_number(reports)))
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
    return {"text": "\n".join(lines), "choices": choices}, chart_rows(every, state, chart_units)


COMMANDS = (
    Command(("tomtat",), Role.STAFF, lambda ctx, conv, a: start_settings(ctx), opens="digest"),
)
