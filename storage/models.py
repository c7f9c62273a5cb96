"""The data model. Times are UTC (`UTCDateTime`); calendar dates are plain `Date`."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.conversation_state import ConversationContext, FormState
from storage.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The days it was active (None: not known, as for units imported without them).
    active_from: Mapped[date | None] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class Member(Base):
    """A person. Rights come from memberships (per unit) and the admin flag."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(100))
    name_folded: Mapped[str | None] = mapped_column(String(100), index=True)  # storage/names.py
    category: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Local hour reminders are sent at; None means the configured default.
    reminder_hour: Mapped[int | None] = mapped_column(Integer)
    # No reminders up to and including this local date (leave, business trip).
    paused_until: Mapped[date | None] = mapped_column(Date)
    # Coordinators' and admins' digest: "weekly" (weekday 0 = Monday), "daily" or "off".
    digest_mode: Mapped[str] = mapped_column(String(8), default="weekly", server_default="weekly")
    digest_hour: Mapped[int] = mapped_column(Integer, default=8, server_default="8")
    digest_weekday: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_digest_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    identities: Mapped[list[Identity]] = relationship(back_populates="member")


class Identity(Base):
    """How a person is reached on one channel (Telegram user id, terminal name, later Zalo)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    unreachable_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    member: Mapped[Member] = relationship(back_populates="identities")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("member_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # member | coordinator
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"))
    created_at: Mapped[datetime]


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]


class JoinRequest(Base):
    __tablename__ = "join_requests"
    __table_args__ = (Index("ix_join_requests_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    cadence: Mapped[str] = mapped_column(String(16), default="monthly", server_default="monthly")
    # Reports for a period are due on this day of the period's last month (clamped to its end).
    due_day: Mapped[int] = mapped_column(Integer, default=25, server_default="25")
    # Registrations are taken between these dates (inclusive); open-ended where missing.
    registration_opens_on: Mapped[date | None] = mapped_column(Date)
    registration_closes_on: Mapped[date | None] = mapped_column(Date)
    # Questions an admin added to this campaign's forms (handlers/shared/questions.py): a list of
    # {"id", "form": "registration"|"report", "kind": "text"|"number"|"date"|"choice",
    #  "label", "required", "options"}. Answers are kept in Model.extra / Report.extra.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")

    def registration_open(self, today: date) -> bool:
        opens = self.registration_opens_on or self.starts_on
        closes = self.registration_closes_on or self.ends_on
        return opens <= today <= closes

    created_at: Mapped[datetime]


class Field(Base):
    """A field of activity (lĩnh vực) a model belongs to."""

    __tablename__ = "fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class Model(Base):
    """A registered "mô hình"."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("campaign_id", "owner_id", "title_key"),
        Index("ix_models_unit_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Mã mô hình: given at registration ("MH12"), or the code of an imported paper record.
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    # None for a model imported from paper records: nobody in the chat owns it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))  # collective | individual
    collective_name: Mapped[str | None] = mapped_column(String(200))
    headcount: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    title_key: Mapped[str] = mapped_column(String(200))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    approach: Mapped[str] = mapped_column(Text)
    objectives: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime | None]
    # The local date of the (first) registration: what statistics by year count.
    registered_on: Mapped[date | None] = mapped_column(Date, index=True)
    # The last review decision: who, when, and the reason given for a return or a rejection.
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    targets: Mapped[list[Target]] = relationship(
        order_by="Target.position", cascade="all, delete-orphan"
    )
    field: Mapped[Field] = relationship()
    campaign: Mapped[Campaign] = relationship()


class Target(Base):
    """A measurable target of a model: indicator, unit of measure, target value."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(String(200))
    unit_of_measure: Mapped[str] = mapped_column(String(50))
    target_value: Mapped[Decimal] = mapped_column(Numeric(24, 4))
    # The sum of this target's report values, kept with every write of them
    # (records.reports.refresh_achieved), so statistics add up 100.000 targets, not 1.200.000
    # values.
    achieved: Mapped[Decimal] = mapped_column(Numeric(24, 4), default=0, server_default="0")


def _next_version(current: int | None) -> int:
    """Button data carries the conversation's version. A new form (a new row) starts far from
    any earlier form's numbers, so a button from a finished form never matches the next one."""
    if current is None:
        return int(time.time() * 1000) % 900_000_000 + 1
    return current + 1


class Conversation(Base):
    """Where a person is in a form. One row per person, so a restart or a replica continues it."""

    __tablename__ = "conversations"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    form: Mapped[str] = mapped_column(String(32))
    state: Mapped[FormState] = mapped_column(JSON, default=dict)
    context: Mapped[ConversationContext] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # When the form began, and when the person was nudged to finish it (once per form).
    started_at: Mapped[datetime | None]
    nudged_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version, "version_id_generator": _next_version}


class Report(Base):
    """A progress report of a model for one reporting period. One per model and period: a second
    report for the same period replaces the first."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("model_id", "period_start"),
        Index("ix_reports_period", "period_start", "model_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    # None for a report imported from paper records.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    done_text: Mapped[str] = mapped_column(Text)
    difficulties: Mapped[str | None] = mapped_column(Text)
    proposals: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    replaced: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]

    values: Mapped[list[ReportValue]] = relationship(cascade="all, delete-orphan")
    photos: Mapped[list[ReportPhoto]] = relationship(
        order_by="ReportPhoto.position", cascade="all, delete-orphan"
    )


class ReportValue(Base):
    """What a report achieved this period for one of the model's targets."""

    __tablename__ = "report_values"
    __table_args__ = (UniqueConstraint("report_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(24, 4))


class ReportPhoto(Base):
    """Evidence: a photo by its channel file id (Telegram's file_id; the media key where the
    channel has none) and its key in the media store (storage/media.py), which any channel can
    show; rows from before the store have no key."""

    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    file_id: Mapped[str] = mapped_column(String(200))
    media_key: Mapped[str | None] = mapped_column(String(100))


class Evaluation(Base):
    """A coordinator's evaluation of a completed model, and whether it is proposed for
    commendation (the admins decide commendations)."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), unique=True)
    level: Mapped[str] = mapped_column(String(16))  # excellent | done | not_done
    comment: Mapped[str | None] = mapped_column(Text)
    proposed: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    evaluated_at: Mapped[datetime]


class Commendation(Base):
    """A commendation of a model at a level: first proposed (đề nghị), then decided (quyết
    định, with the decision's number and date)."""

    __tablename__ = "commendations"
    __table_args__ = (UniqueConstraint("model_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    # co_so | dang_uy_khoi | bcd_tinh | ubnd_tinh
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # proposed | decided
    decision_number: Mapped[str | None] = mapped_column(String(64))
    decided_on: Mapped[date | None] = mapped_column(Date)
    person_name: Mapped[str | None] = mapped_column(String(100))  # kept at erasure (decided)
    # None when imported from a workbook on the command line.
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


class Conference(Base):
    """A unit held its commendation conference (hội nghị tuyên dương, khen thưởng) for a
    campaign, on a date."""

    __tablename__ = "conferences"
    __table_args__ = (UniqueConstraint("unit_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


class Broadcast(Base):
    """A message an admin sent to many (/thongbao). Its messages go through the outbox with
    keys "bc:<id>:<member id>"; the admin's progress message is edited as they go out."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    # {"kind": "all"|"units"|"role", "unit_ids": [...], "role": "member"|"coordinator"|"admin"}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Where the progress message is: the channel, chat and message id it got when sent.
    progress_channel: Mapped[str | None] = mapped_column(String(16))
    progress_chat_id: Mapped[str | None] = mapped_column(String(64))
    progress_message_id: Mapped[str | None] = mapped_column(String(64))
    # The last progress text shown, so an unchanged count is not edited again.
    progress_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    action: Mapped[str] = mapped_column(String(48), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxMessage(Base):
    """A message the bot sends on its own. The unique key makes enqueueing idempotent."""

    __tablename__ = "outbox"
    # The sender's queue order: what is pending, by priority, then oldest first.
    __table_args__ = (Index("ix_outbox_queue", "status", "priority", "not_before", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending -> sending -> sent | failed | unreachable (see bot/sender.py)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Lower goes first: replies-like notices before reminders before broadcasts.
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # The sender began its request (written before it): a claim found expired with this set is
    # in doubt (the platform may have taken the message), without it the message never left.
    started_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Not sent by then (a reminder's end of its day): settled as expired, never sent late.
    expires_at: Mapped[datetime | None]


# Tables kept in their own modules, imported here so that the metadata (and Alembic) has them.
from storage import inbox as _inbox  # noqa: E402, F401
from storage import linking as _linking  # noqa: E402, F401
from storage import names as _names  # noqa: E402, F401
from storage import quota as _quota  # noqa: E402, F401
from storage.records import consents as _consents  # noqa: E402, F401
from storage.records import issuers as _issuers  # noqa: E402, F401
from storage.records import jobs as _jobs  # noqa: E402, F401
from storage.records import menus as _menus  # noqa: E402, F401
from storage.records import uploads as _uploads  # noqa: E402, F401
from storage.replicas import leases as _leases  # noqa: E402, F401
