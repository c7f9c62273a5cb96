"""A coordinator's follow-up: /donvi, the state of their units with a button to remind everyone
overdue, and /danhgia, the evaluation of completed models with a proposal for commendation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.coordinator import reading
from handlers.core import buttons, conversation, jobs
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.jobs import Job, JobIO
from handlers.core.notify import delivery_time, payload, queue
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec, Option
from handlers.shared.permissions import may_decide_on, reviewable_units
from handlers.shared.views import indicator_line, model_lines, period_label, progress_text
from language import vn
from language.texts import Texts
from storage import outbox, quota, rules
from storage.models import Conversation, Evaluation, Member, Model, Unit
from storage.records.audit import add_audit_entry
from storage.records.models import advance_status, model_details
from storage.records.review import completed_models
from storage.records.units import (
    all_units,
    coordinated_unit_ids,
    descendant_ids,
    root_units_of,
)
from storage.stats import Overdue, UnitState, campaign_cadences, unit_state

LEVELS = ("excellent", "done", "not_done")
# Names listed in a chat message; the rest are counted (a unit may have thousands).
LISTED = 30
OVERDUE_JOB = "overdue"
# Reminders queued per statement.
BATCH = 500


async def _scopes(ctx: Ctx) -> list[Unit] | None:
    """Whose state to show: the units a coordinator holds (each with its sub-units), or for an
    admin the top-level units. None: not allowed."""
    if await ctx.is_admin():
        return [u for u in await all_units(ctx.session) if u.parent_id is None]
    roots = list(await root_units_of(ctx.session, member_id=ctx.member.id))
    return roots or None


async def show_units(ctx: Ctx) -> None:
    scopes = await _scopes(ctx)
    if scopes is None:
        ctx.say("error-not-allowed")
        return
    if not scopes:
        ctx.say("units-none")
        return
    for unit in scopes:
        ids = await descendant_ids(ctx.session, roots=[unit.id])
        state = await unit_state(ctx.session, unit_ids=ids, today=ctx.today)
        choices = []
        came = await reading.reports_this_period(ctx, ids)
        if came:
            label = ctx.t("button-unit-reports", count=vn.format_number(came))
            choices.append([Choice(label, buttons.UNIT_REPORTS(unit.id))])
        if state.overdue:
            choices.append([Choice(ctx.t("button-remind-overdue"), buttons.OVERDUE(unit.id))])
        text = await _state_text(ctx, unit, len(ids) - 1, state)
        extra = [await _unreachable_line(ctx, ids), await _expired_line(ctx, ids)]
        ctx.result.say("\n".join([text, *(line for line in extra if line)]), choices)


async def _unreachable_line(ctx: Ctx, unit_ids: set[int]) -> str | None:
    """Who in the units blocked the bot: reminders and notices no longer reach them."""
    names, total = await outbox.unreachable_people(ctx.session, unit_ids=unit_ids, limit=LISTED)
    if not total:
        return None
    shown = ", ".join(names)
    if total > len(names):
        shown = ctx.t(
            "unit-state-unreachable-more", names=shown, count=vn.format_number(total - len(names))
        )
    return ctx.t("unit-state-unreachable", names=shown)


async def _expired_line(ctx: Ctx, unit_ids: set[int]) -> str | None:
    """Reminders of this month a channel's quota held back past their day: never sent."""
    since = quota.month_start(ctx.now)
    count = await quota.expired_since(ctx.session, unit_ids=unit_ids, since=since)
    return ctx.t("unit-state-expired", count=vn.format_number(count)) if count else None


async def _state_text(ctx: Ctx, unit: Unit, below: int, state: UnitState) -> str:
    t = ctx.t
    total = sum(state.by_status.values())
    lines = [t("unit-state-head", unit=unit.name, below=below) if below else f"🏢 {unit.name}"]
    lines.append(
        t(
            "unit-state-registrations",
            total=vn.format_number(total),
            collective=vn.format_number(state.by_kind[rules.KIND_COLLECTIVE]),
            individual=vn.format_number(state.by_kind[rules.KIND_INDIVIDUAL]),
        )
    )
    if total:
        lines.append(
            "• "
            + " · ".join(
                f"{t(f'status-{status}')}: {vn.format_number(state.by_status[status])}"
                for status in rules.STATUSES
                if state.by_status[status]
            )
        )
    lines.append(
        t(
            "unit-state-reports",
            received=vn.format_number(state.received),
            expected=vn.format_number(state.expected),
        )
    )
    if state.overdue:
        lines.append(t("unit-state-overdue", count=len(state.overdue)))
        lines += [
            f"  – {o.name}: {o.title} ({vn.format_date(o.period.due)})"
            for o in state.overdue[:LISTED]
        ]
        if len(state.overdue) > LISTED:
            lines.append(t("unit-state-more", count=vn.format_number(len(state.overdue) - LISTED)))
    if state.paused:
        lines.append(t("unit-state-paused", count=len(state.paused)))
        lines += [
            f"  – {o.name}: {o.title} ({t('paused-until', until=vn.format_date(o.paused_until))})"
            for o in state.paused[:LISTED]
            if o.paused_until
        ]
        if len(state.paused) > LISTED:
            lines.append(t("unit-state-more", count=vn.format_number(len(state.paused) - LISTED)))
    if state.indicators:
        lines.append(t("unit-state-indicators"))
        for item in state.indicators:
            lines.append(indicator_line(t, item))
    return "\n".join(lines)


async def remind_overdue(ctx: Ctx, unit_id: int) -> None:
    """One reminder per overdue person per day, whoever presses the button and how often. A
    whole bloc may have thousands overdue: they are queued by a background job."""
    scopes = await _scopes(ctx)
    units = await reviewable_units(ctx)
    if scopes is None:
        ctx.say("error-not-allowed")
        return
    if await ctx.session.get(Unit, unit_id) is None:
        ctx.say("unit-not-found")
        return
    if units is not None and unit_id not in units:  # another unit's: only its existence is learned
        ctx.say("error-not-allowed")
        return
    reminding = OverdueReminder(ctx.member.id, unit_id, delivery_time(ctx))
    await jobs.start(
        ctx, Job(OVERDUE_JOB, ctx.t("overdue-started"), ctx.t("overdue-busy"), reminding.run)
    )


@dataclass(frozen=True)
class OverdueReminder:
    """Who is overdue, found by one grouped reading of the units (`unit_state`), and their
    reminders queued in batches, in one unit of work with the audit entry and the outcome told
    to the person who asked: all of them, or none."""

    member_id: int
    unit_id: int
    # Now, or the end of quiet hours, as for everything the bot sends on its own.
    not_before: datetime

    async def run(self, io: JobIO) -> None:
        t, now = io.t, io.clock()
        today = now.astimezone(io.config.timezone).date()
        await io.progress(t("overdue-progress-reading"), 0.1)
        async with io.db.session() as session:
            member = await session.get(Member, self.member_id)
            allowed = member is not None and (
                member.is_admin
                or self.unit_id in await coordinated_unit_ids(session, member_id=self.member_id)
            )
            if not allowed:  # the rights of the moment it runs
                await io.tell(session, t("error-not-allowed"))
                await io.done(session, "not allowed")
                return
            # One recursive query, not the whole tree (a country has thousands of units).
            ids = await descendant_ids(session, roots=[self.unit_id])
            state = await unit_state(session, unit_ids=ids, today=today)
            people: dict[int, list[Overdue]] = {}
            for item in state.overdue:
                people.setdefault(item.member_id, []).append(item)
            cadences = await campaign_cadences(session, unit_ids=ids)
            day = self.not_before.astimezone(io.config.timezone).date().isoformat()
            rows = [
                {
                    # Keyed by the day it is delivered: pressed at 21:00 and at 08:00, one message.
                    "key": f"overdue:{member_id}:{day}",
                    "member_id": member_id,
                    "payload": payload(*_overdue_message(t, items, cadences)),
                    "status": outbox.PENDING,
                    "priority": 5,
                    "attempts": 0,
                    "not_before": self.not_before,
                    "created_at": now,
                    "expires_at": None,
                }
                for member_id, items in people.items()
            ]
            sent = 0
            for start in range(0, len(rows), BATCH):
                sent += await outbox.enqueue_many(session, rows[start : start + BATCH])
                done = min(start + BATCH, len(rows))
                text = t(
                    "overdue-progress",
                    done=vn.format_number(done),
                    total=vn.format_number(len(rows)),
                )
                await io.progress(text, 0.1 + 0.9 * done / len(rows))
            await add_audit_entry(
                session,
                at=now,
                actor_id=self.member_id,
                action="overdue.reminded",
                object_type="unit",
                object_id=self.unit_id,
                details={"queued": sent, "people": len(people)},
            )
            outcome = t("overdue-reminded", sent=sent, skipped=len(people) - sent)
            await io.tell(session, outcome)
            await io.done(session, outcome)


def _overdue_message(
    t: Texts, items: list[Overdue], cadences: dict[int, str]
) -> tuple[str, list[list[Choice]]]:
    lines = [
        t(
            "overdue-line",
            title=item.title,
            period=period_label(t, item.period, cadences.get(item.model_id, "")),
            due=vn.format_date(item.period.due),
        )
        for item in items
    ]
    button = Choice(t("button-report-now"), buttons.REPORT(items[0].model_id))
    return "\n".join([t("overdue-reminder"), *lines]), [[button]]


class EvaluationFlow(Flow):
    form = FormSpec(
        "evaluation",
        "form-evaluation",
        (
            FieldSpec(
                "level",
                "choice",
                "label-evaluation",
                "ask-evaluation",
                options=tuple(Option(level, f"evaluation-{level}") for level in LEVELS),
            ),
            FieldSpec(
                "comment",
                "text",
                "label-evaluation-comment",
                "ask-evaluation-comment",
                required=False,
                max_length=2000,
                multiline=True,
            ),
            FieldSpec(
                "proposed",
                "choice",
                "label-proposed",
                "ask-proposed",
                options=(Option("yes", "answer-yes-propose"), Option("no", "answer-no-propose")),
            ),
        ),
        confirm_label="button-save-evaluation",
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await may_decide_on(ctx, await ctx.session.get(Model, conv.context["model_id"]))

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        model = await model_details(ctx.session, model_id=conv.context["model_id"])
        assert model is not None
        # Conditional, so of two evaluators saving at once one wins and the other is told.
        if not await advance_status(
            ctx.session, model_id=model.id, old=rules.COMPLETED, new=rules.EVALUATED, now=ctx.now
        ):
            await ctx.session.refresh(model)
            raise vn.InputError("evaluation-not-completed", status=ctx.t(f"status-{model.status}"))
        ctx.session.add(
            Evaluation(
                model_id=model.id,
                level=answers["level"],
                comment=answers.get("comment"),
                proposed=answers["proposed"] == "yes",
                evaluator_id=ctx.member.id,
                evaluated_at=ctx.now,
            )
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="model.evaluated",
            object_type="model",
            object_id=model.id,
            details={"level": answers["level"], "proposed": answers["proposed"] == "yes"},
        )
        level = ctx.t(f"evaluation-{answers['level']}")
        await queue(
            ctx,
            key=f"evaluated:{model.id}",
            member_id=model.owner_id,
            payload=payload(ctx.t("evaluation-notice", title=model.title, level=level)),
            priority=3,
        )
        ctx.say("evaluation-saved", title=model.title, level=level)


register(EvaluationFlow())


async def list_completed(ctx: Ctx) -> None:
    units = await reviewable_units(ctx)
    if units is not None and not units:
        ctx.say("error-not-allowed")
        return
    models = await completed_models(ctx.session, unit_ids=units, evaluator_id=ctx.member.id)
    if not models:
        ctx.say("evaluation-none")
        return
    ctx.result.say(
        ctx.t("evaluation-choose"),
        [[Choice(model.title[:60], buttons.EVALUATE(model.id))] for model in models],
    )


async def start_evaluation(ctx: Ctx, model_id: int) -> None:
    model = await model_details(ctx.session, model_id=model_id)
    if model is None:
        ctx.say("model-not-found")
        return
    if not await may_decide_on(ctx, model):  # another unit's: only its existence is learned
        ctx.say("error-not-allowed")
        return
    if model.status != rules.COMPLETED:
        ctx.say("evaluation-not-completed", status=ctx.t(f"status-{model.status}"))
        return
    lines = model_lines(ctx, model)
    lines.append(await progress_text(ctx, model))
    ctx.result.say("\n".join(lines))
    # The whole history before the evaluation is given: every report, newest first.
    ctx.result.say(await reading.history_text(ctx, model))
    await conversation.start(ctx, "evaluation", {"model_id": model.id})


COMMANDS = (
    Command(("donvi",), Role.STAFF, lambda ctx, conv, a: show_units(ctx), shows=True),
    Command(("danhgia",), Role.STAFF, lambda ctx, conv, a: list_completed(ctx), shows=True),
)
BUTTONS = (
    Button(buttons.OVERDUE, Role.STAFF, lambda ctx, conv, ref: remind_overdue(ctx, ref.id)),
    Button(
        buttons.EVALUATE,
        Role.STAFF,
        lambda ctx, conv, ref: start_evaluation(ctx, ref.id),
        opens="evaluation",
        same=lambda conv, ref: False,  # another model's evaluation is not resumed as this one
    ),
)
