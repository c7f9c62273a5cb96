"""Who is due at a moment: reminders and nudges for members, digests for staff. Each question is
answered for everyone in one read, as plain rows grouped by person; the scheduler then runs each
person as a unit of work of their own, in which the claims below record what was done (so a
failed unit leaves its person due at the next sweep, and two replicas never both send)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
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
    """Reminders due at `now` and neither reported on nor queued yet, by member."""
    today = now.astimezone(tz).date()
    reachable = select(Identity.id).where(
        Identity.member_id == Member.id, Identity.unreachable_at.is_(None)
    )
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
                Campaign,
                Member.reminder_hour,
                Member.paused_until,
            )
            .join(Campaign, Campaign.id == Model.campaign_id)
            .join(Member, Member.id == Model.owner_id)
            .where(Model.status.in_((rules.APPROVED, rules.IN_PROGRESS)), reachable.exists())
            .order_by(Model.owner_id, Model.id)
        )
    ).all()
    due_by_group: dict[tuple[int, int], list[tuple[Period, str]]] = {}
    wanted = []
    for (
        model_id,
        title,
        starts_on,
        ends_on,
        approved,
        registered,
        owner_id,
        campaign,
        hour,
        paused,
    ) in rows:
        if is_paused(paused, today):
            continue
        hour = hour if hour is not None else default_hour
        group = (campaign.id, hour)
        if group not in due_by_group:
            due_by_group[group] = due_reminders(
                _periods(today, campaign, campaign.starts_on, campaign.ends_on),
                now=now,
                hour=hour,
                tz=tz,
                quiet=quiet,
                before_days=before_days,
                overdue_days=overdue_days,
            )
        assert owner_id is not None  # joined to its member
        since = accountable_since(approved, registered)
        for period, kind in due_by_group[group]:
            if period.start <= ends_on and period.end >= starts_on and answers_for(period, since):
                wanted.append(
                    DueReminder(owner_id, model_id, title, campaign.cadence, period, kind)
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


async def claim_nudge(
    session: AsyncSession, *, stale: StaleForm, idle_since: datetime, now: datetime
) -> bool:
    """Record the nudge of a form still untouched and not nudged. False when the person moved
    on since the read, or another replica nudged them first."""
    # A plain UPDATE: the ORM's version counter stays, so the person's buttons stay valid.
    claimed = await session.execute(
        update(Conversation)
        .where(
            Conversation.member_id == stale.member_id,
            Conversation.form == stale.form,
            Conversation.nudged_at.is_(None),
            Conversation.updated_at <= idle_since,
        )
        .values(nudged_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


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
