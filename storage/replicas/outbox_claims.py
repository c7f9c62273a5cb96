"""A sender's claim of outbox messages, after the claim itself (`outbox.claim`): the start of
each message's request, noted (for a few messages at once) before it goes out, and what a claim
found expired becomes. See docs/outbox.md, "After a hard crash". Keyword-only query functions;
they never commit (the caller's unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage
from storage.outbox import FAILED, PENDING, REPLY_LIKE, SENDING, Claimed

# A message whose sender died during its request, not sent again (see `recover`).
IN_DOUBT = "in doubt: the sender stopped during its request; not sent again"
_BULK = {"synchronize_session": False}


async def start(session: AsyncSession, *, message: Claimed, now: datetime) -> bool:
    """`start_many` of one message: False when it must not be sent."""
    return message.id in await start_many(session, messages=[message], now=now)


async def start_many(
    session: AsyncSession, *, messages: Sequence[Claimed], now: datetime
) -> set[int]:
    """The requests of these claimed messages are about to go out: noted first, in one statement
    (the caller commits before it sends any of them). Returns the ids noted; one missing is no
    longer this sender's (its claim expired and the message was recovered, or claimed again by
    another): it must not be sent."""
    claims: dict[datetime | None, list[int]] = {}
    for message in messages:
        claims.setdefault(message.claimed_at, []).append(message.id)
    if not claims:
        return set()
    ours = or_(
        *(
            OutboxMessage.id.in_(ids) & (OutboxMessage.claimed_at == claimed_at)
            for claimed_at, ids in claims.items()
        )
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == SENDING, ours)
        .values(started_at=now)
        .returning(OutboxMessage.id)
        .execution_options(**_BULK)
    )
    return set(result.scalars().all())


async def recover(
    session: AsyncSession, *, now: datetime, lease: timedelta, max_attempts: int = 5
) -> int:
    """Messages a sender claimed and never settled within the lease (it died). One whose request
    never began goes back to pending, its claim not counted as an attempt. One whose request
    began is in doubt: the platform may have taken it just before the crash, and neither Telegram
    nor Zalo lets a message be sent "once" (no idempotency key). The policy errs by kind:
    - reply-like messages (priority <= REPLY_LIKE: the outcome of someone's action, what a job
      tells its owner) are sent again while they have attempts left: a repeat is better than an
      outcome never told;
    - the others (reminders, nudges, digests, broadcasts) are settled as failed, never sent
      again: most of the window is after the platform accepted the message (its answer on the
      way, the commit that records it), a reminder twice is the fault people notice, and their
      next reminder or digest comes anyway.
    Returns how many went back to pending."""
    stale = (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_at < now - lease)
    started = OutboxMessage.started_at.is_not(None)
    await session.execute(
        update(OutboxMessage)
        .where(stale, started, OutboxMessage.priority > REPLY_LIKE)
        .values(status=FAILED, last_error=IN_DOUBT)
        .execution_options(**_BULK)
    )
    await session.execute(
        update(OutboxMessage)
        .where(stale, started, OutboxMessage.attempts >= max_attempts)
        .values(status=FAILED, last_error="the sender stopped while sending it")
        .execution_options(**_BULK)
    )
    again = await session.execute(
        update(OutboxMessage)
        .where(stale, started)
        .values(status=PENDING, claimed_at=None, started_at=None)
        .execution_options(**_BULK)
    )
    never = await session.execute(
        update(OutboxMessage)
        .where(stale)
        .values(status=PENDING, claimed_at=None, attempts=OutboxMessage.attempts - 1)
        .execution_options(**_BULK)
    )
    return (again.rowcount or 0) + (never.rowcount or 0)  # type: ignore[attr-defined]
