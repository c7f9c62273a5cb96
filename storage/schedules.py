"""Who is due at a moment: reminders and nudges for members, digests for staff. Each question is
answered for everyone in one read, as plain rows grouped by person; the scheduler then queues
many people's reminders in one unit of work (each person's alone when that fails), in which the
claims below record what was done (so a failed unit leaves its people due at the next sweep,
and two replicas never both send)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, rules
from storage.models import Campaign, Conversation, Identity, Member, Model, Report
from storage.periods import (
    Period,
    QuietHours,
    accountable_since,
    answers_for,
    due_reminders,
    is_paused,
    latest_slot,
    reporting_periods,
)
from storage.records.people import staff_members

# A digest slot missed by more than this (the bot was down) is skipped rather than sent late.
DIGEST_GRACE = timedelta(hours=6)
# A reminder queued this recently is not queued again (its moment's grace is one day).
QUEUED_WITHIN = timedelta(days=3)


@dataclass(frozen=True)
class DueReminder:
    """A model's reporting period whose reminder moment (before, due, overdue) has come."""

    member_id: int
    model_id: int
    title: str
    cadence: str
    period: Period
    kind: str

    @property
    def key(self) -> str:
        return f"remind:{self.kind}:{self.member_id}:{self.model_id}:{self.period.key()}"


@dataclass(frozen=True)
class StaleForm:
    """A registration or report left unfinished long enough to deserve one nudge."""

    member_id: int
    form: str
    started_at: datetime

    @property
    def key(self) -> str:
        return f"nudge:{self.member_id}:{self.form}:{self.started_at.isoformat()}"


@dataclass(frozen=True)
class MemberDue:
    """Everything one member is due at a sweep: their reminders, and a nudge if any."""

    member_id: int
    reminders: tuple[DueReminder, ...] = ()
    stale: StaleForm | None = None


@dataclass(frozen=True)
class DigestDue:
    """A digest whose slot has come: for whom, the slot, and the moment it covers from."""

    member_id: int
    slot: datetime
    since: datetime

    @property
    def key(self) -> str:
        return f"digest:{self.member_id}:{self.slot.isoformat()}"


async def members_due(
    session: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    default_hour: int,
    before_days: int,
    overdue_days: int,
    forms: Sequence[str],
    idle_since: datetime,
) -> list[MemberDue]:
    """The members due a reminder or a nudge at `now`, with what each is due.

    Built for tens of thousands of models every few minutes: plain columns instead of records,
    the reminder moments worked out once per campaign and hour, the reports and the keys
    already queued read in one query each."""
    reminders = await _reminders_due(
        session,
        now=now,
        tz=tz,
        quiet=quiet,
        default_hour=default_hour,
        before_days=before_days,
        overdue_days=overdue_days,
    )
    stale = await _stale_forms(session, forms=forms, idle_since=idle_since)
    by_member: dict[int, list[DueReminder]] = {}
    for reminder in reminders:
        by_member.setdefault(reminder.member_id, []).append(reminder)
    due = [
        MemberDue(member_id, tuple(items), stale.pop(member_id, None))
        for member_id, items in by_member.items()
    ]
    return due + [MemberDue(member_id, (), form) for member_id, form in stale.items()]


def _periods(today: date, campaign: Campaign, model_start: date, model_end: date) -> list[Period]:
    return reporting_periods(
        today,
        cadence=campaign.cadence,
        due_day=campaign.due_day,
        starts_on=max(model_start, campaign.starts_on),
        ends_on=min(model_end, campaign.ends_on),
    )


async def _reminders_due(
    session: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    default_hour: int,
    before_days: int,
    overdue_days: int,
) -> list[DueReminder]:
    """Reminders due at `now` and neither reported on nor queued yet, by member.

    The reminder moments depend only on a campaign and a person's hour: those are worked out
    first (a few campaigns, at most 25 hours), and only the models of the (campaign, hour)
    groups with a moment due now are read; most sweeps of a day read no model at all."""
    today = now.astimezone(tz).date()
    campaigns = (await session.scalars(select(Campaign))).all()
    hours = set(await session.scalars(select(Member.reminder_hour).distinct()))
    due_by_group: dict[tuple[int, int | None], list[tuple[Period, str]]] = {}
    for campaign in campaigns:
        periods = _periods(today, campaign, campaign.starts_on, campaign.ends_on)
        for hour in hours:
            due = due_reminders(
                periods,
                now=now,
                hour=hour if hour is not None else default_hour,
                tz=tz,
                quiet=quiet,
                before_days=before_days,
                overdue_days=overdue_days,
            )
            if due:
                due_by_group[(campaign.id, hour)] = due
    if not due_by_group:
        return []
    reachable = select(Identity.id).where(
        Identity.member_id == Member.id, Identity.unreachable_at.is_(None)
    )
    groups = [
        and_(
            Model.campaign_id == campaign_id,
            Member.reminder_hour.is_(None) if hour is None else Member.reminder_hour == hour,
        )
        for campaign_id, hour in due_by_group
    ]
    rows = (
        await session.execute(
            select(
                Model.id,
                Model.title,
                Model.starts_on,
                Model.ends_on,
                Model.reviewed_at,
                Model.registered_on,
                Model.owner_id,
                Model.campaign_id,
                Member.reminder_hour,
                Member.paused_until,
            )
            .join(Member, Member.id == Model.owner_id)
            .where(
                Model.status.in_((rules.APPROVED, rules.IN_PROGRESS)),
                or_(*groups),
                reachable.exists(),
            )
            .order_by(Model.owner_id, Model.id)
        )
    ).all()
    cadences = {campaign.id: campaign.cadence for campaign in campaigns}
    wanted = []
    for (
        model_id,
        title,
        starts_on,
        ends_on,
        approved,
        registered,
        owner_id,
        campaign_id,
        hour,
        paused,
    ) in rows:
        if is_paused(paused, today):
            continue
        assert owner_id is not None  # joined to its member
        since = accountable_since(approved, registered)
        for period, kind in due_by_group[(campaign_id, hour)]:
            if period.start <= ends_on and period.end >= starts_on and answers_for(period, since):
                wanted.append(
                    DueReminder(owner_id, model_id, title, cadences[campaign_id], period, kind)
                )
    starts = {reminder.period.start for reminder in wanted}
    reported = set()
    if starts:
        found = await session.execute(
            select(Report.model_id, Report.period_start).where(Report.period_start.in_(starts))
        )
        reported = set(found.all())
    queued = await outbox.recent_keys(session, prefix="remind:", since=now - QUEUED_WITHIN)
    return [
        reminder
        for reminder in wanted
        if (reminder.model_id, reminder.period.start) not in reported and reminder.key not in queued
    ]


async def _stale_forms(
    session: AsyncSession, *, forms: Sequence[str], idle_since: datetime
) -> dict[int, StaleForm]:
    """Forms untouched since `idle_since` and not yet nudged, by member (one form each)."""
    rows = await session.execute(
        select(
            Conversation.member_id,
            Conversation.form,
            Conversation.started_at,
            Conversation.updated_at,
        )
        .where(
            Conversation.form.in_(forms),
            Conversation.nudged_at.is_(None),
            Conversation.updated_at <= idle_since,
        )
        .order_by(Conversation.member_id)
    )
    return {
        member_id: StaleForm(member_id, form, started_at or updated_at)
        for member_id, form, started_at, updated_at in rows.all()
    }


async def claim_nudges(
    session: AsyncSession, *, stale: Sequence[StaleForm], idle_since: datetime, now: datetime
) -> set[StaleForm]:
    """Record the nudges of forms still untouched and not nudged, in one statement per 500.
    Left out: those whose person moved on since the read, or whom another replica nudged
    first."""
    claimed: set[StaleForm] = set()
    for start in range(0, len(stale), 500):
        chunk = {(s.member_id, s.form): s for s in stale[start : start + 500]}
        # A plain UPDATE: the ORM's version counter stays, so the person's buttons stay valid.
        rows = await session.execute(
            update(Conversation)
            .where(
                or_(
                    *(
                        and_(Conversation.member_id == member_id, Conversation.form == form)
                        for member_id, form in chunk
                    )
                ),
                Conversation.nudged_at.is_(None),
                Conversation.updated_at <= idle_since,
            )
            .values(nudged_at=now)
            .returning(Conversation.member_id, Conversation.form)
            .execution_options(synchronize_session=False)
        )
        claimed.update(chunk[(member_id, form)] for member_id, form in rows.all())
    return claimed


async def digests_due(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo, grace: timedelta = DIGEST_GRACE
) -> list[DigestDue]:
    """Admins and coordinators whose digest slot has come and is not yet recorded."""
    due = []
    for member in await staff_members(session):
        slot = latest_slot(
            now,
            mode=member.digest_mode,
            hour=member.digest_hour,
            weekday=member.digest_weekday,
            tz=tz,
        )
        if slot is None or now - slot > grace:
            continue
        if member.last_digest_at is not None and member.last_digest_at >= slot:
            continue
        due.append(DigestDue(member.id, slot, digest_since(member, slot)))
    return due


def digest_since(member: Member, slot: datetime) -> datetime:
    """The moment a digest at `slot` covers from: the last digest, else one period back."""
    return member.last_digest_at or slot - (
        timedelta(days=1) if member.digest_mode == "daily" else timedelta(days=7)
    )


async def digest_now(session: AsyncSession, *, member_id: int, now: datetime) -> DigestDue | None:
    """A digest for `now`, outside the schedule (which does not change): it covers what came
    since the last digest, and the next scheduled one covers what comes after it."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    return DigestDue(member.id, now, digest_since(member, now))


async def claim_digest_slot(session: AsyncSession, *, due: DigestDue) -> bool:
    """Record the digest's slot as sent, only while unrecorded: a second replica sweeping the
    same minute waits for this one's row, then finds the slot taken."""
    claimed = await session.execute(
        update(Member)
        .where(
            Member.id == due.member_id,
            or_(Member.last_digest_at.is_(None), Member.last_digest_at < due.slot),
        )
        .values(last_digest_at=due.slot)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]
