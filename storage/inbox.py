"""The durable inbox: every update a channel delivers is recorded here, under the channel's own
message id (unique), before it is acknowledged, and handled from here. A redelivery finds its row
and changes nothing; a restart finds the rows still pending and handles them.

A row goes pending -> handled, or pending -> replying -> handled when the update has an answer:
"replying" is written in the update's own unit of work with the answer kept in `reply`, and
becomes "handled" (the answer dropped) once the answer was sent. A row a crash left "replying"
is sent its answer again, in its turn, by the next worker that reads it (bot/inbox.py).
Keyword-only query functions; they never commit (the unit of work does)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

PENDING, HANDLED, FAILED = "pending", "handled", "failed"
# Handled, its answer kept in `reply` until it was sent.
REPLYING = "replying"
# What a worker still has to do: handle the update, or send its answer.
OPEN = (PENDING, REPLYING)
# Handled rows are kept this long (a redelivery within it is still recognised), then removed.
KEEP_HANDLED = timedelta(days=7)


class InboxUpdate(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "message_id", name="uq_inbox_channel_message_id"),
        Index("ix_inbox_status_id", "status", "id"),
    )

    # The sequence: rows are handled in this order, so each person's in the order they came.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(128))
    # Whose update it is (the channel's id of the person), for reading the inbox per person.
    person: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    # While "replying": the answer to send ({"chat", "messages", "attempt"}, bot/replies.py).
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)


async def record(
    session: AsyncSession,
    *,
    channel: str,
    message_id: str,
    person: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Record an update; False when it was recorded before (a redelivery: nothing changes)."""
    try:
        async with session.begin_nested():
            session.add(
                InboxUpdate(
                    channel=channel,
                    message_id=message_id,
                    person=person,
                    payload=payload,
                    status=PENDING,
                    attempts=0,
                    received_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def pending(
    session: AsyncSession, *, channel: str, after: int = 0, limit: int = 1000
) -> list[tuple[int, str]]:
    """(id, person) of the updates still to handle (or to answer) after `after`, oldest first:
    the worker queues each behind that person's earlier ones, so every person's are handled in
    the order they were recorded."""
    rows = await session.execute(
        select(InboxUpdate.id, InboxUpdate.person)
        .where(
            InboxUpdate.channel == channel,
            InboxUpdate.status.in_(OPEN),
            InboxUpdate.id > after,
        )
        .order_by(InboxUpdate.id)
        .limit(limit)
    )
    return [(row_id, person) for row_id, person in rows.all()]


async def earlier_pending(session: AsyncSession, *, channel: str, person: str, before: int) -> bool:
    """Whether the person has an update still to handle recorded before row `before`. On
    PostgreSQL ids are drawn when a row is inserted and seen when it commits, so a reader can
    meet a later row of the sequence before an earlier one (another person's insert committed
    first): the earlier one is handled first all the same."""
    found = await session.scalar(
        select(InboxUpdate.id)
        .where(
            InboxUpdate.channel == channel,
            InboxUpdate.person == person,
            InboxUpdate.status.in_(OPEN),
            InboxUpdate.id < before,
        )
        .limit(1)
    )
    return found is not None


async def begin_attempt(session: AsyncSession, *, update_id: int) -> int:
    """Count an attempt before it runs (so an update that crashes the process is counted too);
    returns the attempts so far, this one included."""
    row = await session.get(InboxUpdate, update_id)
    assert row is not None
    row.attempts += 1
    await session.flush()
    return row.attempts


async def mark_handled(
    session: AsyncSession, *, update_id: int, now: datetime, reply: dict[str, Any] | None = None
) -> None:
    """Handled; with `reply`, "replying" until `replied` says the answer was sent."""
    await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.id == update_id)
        .values(
            status=HANDLED if reply is None else REPLYING, handled_at=now, error=None, reply=reply
        )
    )


async def replied(session: AsyncSession, *, update_id: int, now: datetime) -> None:
    """The answer went out (or was given up): handled, the answer no longer kept. An update whose
    unit of work rolled back (still pending) is settled too: it was answered all the same."""
    await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.id == update_id, InboxUpdate.status.in_(OPEN))
        .values(
            status=HANDLED,
            handled_at=func.coalesce(InboxUpdate.handled_at, now),
            error=None,
            reply=None,
        )
    )


async def mark_failed(
    session: AsyncSession, *, update_id: int, error: str, now: datetime, final: bool
) -> None:
    """Note the error; with `final` the update is given up (it stays, for an admin to read)."""
    values: dict[str, Any] = {"error": error[:500]}
    if final:
        values |= {"status": FAILED, "handled_at": now}
    await session.execute(update(InboxUpdate).where(InboxUpdate.id == update_id).values(**values))


async def status_of(session: AsyncSession, *, update_id: int) -> str | None:
    return await session.scalar(select(InboxUpdate.status).where(InboxUpdate.id == update_id))


async def forget_handled(session: AsyncSession, *, now: datetime) -> int:
    """Remove the rows handled more than KEEP_HANDLED ago; failed ones stay to be looked at."""
    result = await session.execute(
        delete(InboxUpdate).where(
            InboxUpdate.status == HANDLED, InboxUpdate.handled_at < now - KEEP_HANDLED
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
