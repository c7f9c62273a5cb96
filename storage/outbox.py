"""Queueing, reading and settling the outbox. The sender lives in bot/sender.py; this is its
storage side.

A row goes pending -> sending (claimed by one sender, `claimed_at` its lease) -> sent | failed |
unreachable, or back to pending to be tried again later; `started_at` is written (committed)
just before its request goes out, and a claim found expired (its sender died) is settled by
what it says (storage/replicas/outbox_claims.py). A pending row
with an expiry (a reminder's end of its day) that is not sent by then becomes expired, never
sent late. None of these functions commit: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.linking import goes_to
from storage.models import Identity, Member, Membership, OutboxMessage

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNREACHABLE = "unreachable"
EXPIRED = "expired"
# Messages of this priority or lower (more urgent: outcomes of someone's action, notices to
# admins) are reply-like: a channel's quota reserve holds back only the others (reminders 5,
# digests 4, broadcasts), see bot/quota.py.
REPLY_LIKE = 3

# Outbox updates name their rows explicitly; the ORM need not keep loaded objects in step.
_BULK = {"synchronize_session": False}


@dataclass(frozen=True)
class Claimed:
    id: int
    member_id: int
    chat_id: str
    payload: dict[str, Any]
    attempts: int  # including the one just claimed
    claimed_at: datetime | None = None  # the claim's moment: whose claim it is (`start`)


def _error(text: str | None) -> str | None:
    return text[:500] if text else None


async def with_texts(
    session: AsyncSession, payloads: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The payloads as they are sent. A broadcast's message keeps its text once, in its
    Broadcast row ({"broadcast": id, "wrap": [before, after]} in each outbox row), not once
    per recipient: 3.500 characters for 100.000 people would otherwise be 350 MB of outbox."""
    ids = {p["broadcast"] for p in payloads if "broadcast" in p and "text" not in p}
    if not ids:
        return list(payloads)
    from storage.models import Broadcast

    texts = dict(
        (
            await session.execute(select(Broadcast.id, Broadcast.text).where(Broadcast.id.in_(ids)))
        ).all()
    )
    resolved = []
    for p in payloads:
        if "broadcast" in p and "text" not in p:
            before, after = p.get("wrap") or ("", "")
            p = {**p, "text": before + texts.get(p["broadcast"], "") + after}
        resolved.append(p)
    return resolved


async def due(
    session: AsyncSession, *, channel: str, now: datetime, limit: int, member_id: int | None = None
) -> Sequence[tuple[int, str, dict[str, Any]]]:
    """Pending messages for people reachable on the channel: (id, chat id, payload)."""
    query = (
        select(OutboxMessage.id, Identity.chat_id, OutboxMessage.payload)
        .join(Identity, Identity.member_id == OutboxMessage.member_id)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.not_before <= now,
            _unexpired(now),
            Identity.channel == channel,
            Identity.unreachable_at.is_(None),
            goes_to(channel),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if member_id is not None:
        query = query.where(OutboxMessage.member_id == member_id)
    rows = (await session.execute(query)).all()
    payloads = await with_texts(session, [row[2] for row in rows])
    return [(row[0], row[1], p) for row, p in zip(rows, payloads, strict=True)]


async def settle(
    session: AsyncSession, *, message_id: int, status: str, now: datetime, error: str | None = None
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=status,
            attempts=OutboxMessage.attempts + 1,
            last_error=_error(error),
            sent_at=now if status == SENT else None,
        )
    )


async def mark_unreachable(
    session: AsyncSession, *, channel: str, chat_id: str, now: datetime
) -> None:
    await session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.chat_id == chat_id)
        .values(unreachable_at=now)
    )


def _reachable(channel: str):  # type: ignore[no-untyped-def]
    return (Identity.channel == channel) & Identity.unreachable_at.is_(None)


def _unexpired(now: datetime) -> ColumnElement[bool]:
    return OutboxMessage.expires_at.is_(None) | (OutboxMessage.expires_at > now)


async def claim(
    session: AsyncSession,
    *,
    channel: str,
    now: datetime,
    limit: int,
    max_priority: int | None = None,
) -> list[Claimed]:
    """Take up to `limit` due messages for people reachable on the channel, in queue order
    (priority, not_before, id), and mark them sending; with `max_priority`, only messages of
    that priority or lower (a quota's reserve: bot/quota.py). One statement picks and marks the
    rows, so two senders never claim the same one: PostgreSQL skips rows another claim has
    locked, SQLite runs one writer at a time."""
    wanted = [OutboxMessage.status == PENDING, OutboxMessage.not_before <= now, _unexpired(now)]
    if max_priority is not None:
        wanted.append(OutboxMessage.priority <= max_priority)
    # Reachable on the channel, asked row by row in queue order (a scalar subquery, which
    # PostgreSQL does not turn into a join): the claim then walks ix_outbox_queue and stops at
    # `limit`. As a join (or EXISTS) with the statistics of a table that has just grown by a
    # broadcast (not yet analysed), PostgreSQL drove it from the identities and scanned the whole
    # queue once per person: 4 s a claim with 10,000 pending, now 80 ms (7 ms analysed).
    reachable = (
        select(Identity.id)
        .where(Identity.member_id == OutboxMessage.member_id, _reachable(channel))
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    picked = (
        select(OutboxMessage.id)
        .where(*wanted, reachable, goes_to(channel))
        .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .with_for_update(of=OutboxMessage, skip_locked=True)
        # A CTE is run once. As a plain subquery PostgreSQL may rescan it for every candidate
        # row (a nested-loop semi-join), each rescan skipping the rows already claimed, and so
        # claim far more than `limit`.
        .cte("picked")
    )
    rows = (
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(select(picked.c.id)), OutboxMessage.status == PENDING)
            .values(
                status=SENDING,
                claimed_at=now,
                started_at=None,
                attempts=OutboxMessage.attempts + 1,
            )
            .returning(
                OutboxMessage.id,
                OutboxMessage.member_id,
                OutboxMessage.payload,
                OutboxMessage.attempts,
                OutboxMessage.priority,
                OutboxMessage.not_before,
            )
            .execution_options(**_BULK)
        )
    ).all()
    if not rows:
        return []
    chats = dict(
        (
            await session.execute(
                select(Identity.member_id, func.min(Identity.chat_id))
                .where(Identity.member_id.in_({row.member_id for row in rows}), _reachable(channel))
                .group_by(Identity.member_id)
            )
        ).all()
    )
    gone = [row.id for row in rows if row.member_id not in chats]
    if gone:  # the person became unreachable between the two statements: not ours to send
        await release(session, ids=gone)
    rows = sorted(
        (row for row in rows if row.member_id in chats),
        key=lambda row: (row.priority, row.not_before, row.id),
    )
    payloads = await with_texts(session, [row.payload for row in rows])
    return [
        Claimed(row.id, row.member_id, chats[row.member_id], p, row.attempts, now)
        for row, p in zip(rows, payloads, strict=True)
    ]


async def sent(session: AsyncSession, *, ids: Collection[int], now: datetime) -> None:
    if not ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=SENT, sent_at=now, last_error=None)
        .execution_options(**_BULK)
    )


async def failed(session: AsyncSession, *, message_id: int, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=FAILED, last_error=_error(error))
        .execution_options(**_BULK)
    )


async def retry_later(
    session: AsyncSession,
    *,
    message_id: int,
    not_before: datetime,
    error: str | None = None,
    count_attempt: bool = True,
) -> None:
    """Back to pending, due again at `not_before`. With count_attempt=False the claim that
    took it does not count (it was never really tried: flood control, a deferral)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING)
        .values(
            status=PENDING,
            not_before=not_before,
            claimed_at=None,
            started_at=None,
            last_error=_error(error) if error else OutboxMessage.last_error,
            attempts=OutboxMessage.attempts - (0 if count_attempt else 1),
        )
        .execution_options(**_BULK)
    )


async def release(session: AsyncSession, *, ids: Collection[int]) -> None:
    """Claimed messages that were not tried go back to pending as they were."""
    if not ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == SENDING)
        .values(
            status=PENDING, claimed_at=None, started_at=None, attempts=OutboxMessage.attempts - 1
        )
        .execution_options(**_BULK)
    )


async def unreachable(
    session: AsyncSession, *, member_id: int, channel: str, now: datetime, error: str | None = None
) -> bool:
    """The person blocked the bot on this channel. When no other channel reaches them, their
    pending and sending messages become unreachable (True); otherwise they are left for the other
    channel (False)."""
    await session.execute(
        update(Identity)
        .where(Identity.member_id == member_id, _reachable(channel))
        .values(unreachable_at=now)
        .execution_options(**_BULK)
    )
    elsewhere = await session.scalar(
        select(Identity.id)
        .where(Identity.member_id == member_id, Identity.unreachable_at.is_(None))
        .limit(1)
    )
    if elsewhere is not None:
        return False
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.member_id == member_id, OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=UNREACHABLE, last_error=_error(error))
        .execution_options(**_BULK)
    )
    return True


def _blocked_everywhere() -> Select[int]:
    """The people who blocked the bot on every channel they have. Read from the few blocked
    identities, so that it costs little however many messages are pending."""
    elsewhere = aliased(Identity)
    return select(Identity.member_id).where(
        Identity.unreachable_at.is_not(None),
        ~select(elsewhere.id)
        .where(elsewhere.member_id == Identity.member_id, elsewhere.unreachable_at.is_(None))
        .exists(),
    )


def _nowhere_reachable() -> ColumnElement[bool]:
    return OutboxMessage.member_id.in_(_blocked_everywhere())


def _no_channel() -> ColumnElement[bool]:
    """The person has no identity left on any channel: their data was erased (/xoadulieu)."""
    return ~select(Identity.id).where(Identity.member_id == OutboxMessage.member_id).exists()


async def pending_unreachable(session: AsyncSession) -> int:
    """How many pending messages `settle_unreachable` would settle."""
    unreachable = or_(_nowhere_reachable(), _no_channel())
    found = select(func.count()).where(OutboxMessage.status == PENDING, unreachable)
    return await session.scalar(found) or 0


async def settle_unreachable(session: AsyncSession) -> int:
    """Messages queued for someone who had blocked the bot everywhere are settled unreachable,
    never sent (left pending, they would all arrive the day the person writes again; what is
    queued after goes as usual); so are those for someone whose data was erased, their text
    (which may name them) cleared. Returns how many were settled."""
    settled = 0
    for whose, values in (
        (_nowhere_reachable(), {"last_error": "the person had blocked the bot"}),
        (_no_channel(), {"last_error": "the person's data was erased", "payload": {}}),
    ):
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == PENDING, whose)
            .values(status=UNREACHABLE, **values)
            .execution_options(**_BULK)
        )
        settled += result.rowcount or 0  # type: ignore[attr-defined]
    return settled


async def unreachable_people(
    session: AsyncSession, *, unit_ids: Collection[int], limit: int
) -> tuple[list[str], int]:
    """Of the people in these units, the names (alphabetical, at most `limit`) of those no
    channel reaches, and how many they are."""
    members = select(Membership.member_id).where(Membership.unit_id.in_(unit_ids))
    blocked = _blocked_everywhere().where(Identity.member_id.in_(members)).distinct().subquery()
    total = await session.scalar(select(func.count()).select_from(blocked))
    names = await session.scalars(
        select(Member.full_name)
        .where(Member.id.in_(select(blocked.c.member_id)))
        .order_by(Member.full_name, Member.id)
        .limit(limit)
    )
    return [name or "" for name in names.all()], total or 0


async def expire(session: AsyncSession, *, now: datetime) -> int:
    """Pending messages past their expiry (a reminder held back by a quota past its day) are
    settled as expired: counted, never sent late. Returns how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.expires_at.is_not(None),
            OutboxMessage.expires_at <= now,
        )
        .values(status=EXPIRED, last_error="not sent within its day")
        .execution_options(**_BULK)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    member_id: int,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    priority: int = 5,
    expires_at: datetime | None = None,
) -> bool:
    """Queue a message unless one with the same key exists. True when queued now.

    One statement that the database settles: two units of work queueing the same key at once
    (two coordinators, a sweep and a handler, two replicas) both succeed, and one row results."""
    row = {
        "key": key,
        "member_id": member_id,
        "payload": payload,
        "status": "pending",
        "priority": priority,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "expires_at": expires_at,
    }
    return await enqueue_many(session, [row]) == 1


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Queue many messages at once; a key already queued (by an earlier sweep or another
    replica a moment ago) is skipped by the database. Returns how many were new."""
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    added = 0
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        result = await session.execute(
            dialect.insert(OutboxMessage)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxMessage.id)
        )
        added += len(result.all())
    return added


async def recent_keys(session: AsyncSession, *, prefix: str, since: datetime) -> set[str]:
    """Outbox keys with a prefix queued since a moment: what a sweep need not queue again."""
    result = await session.scalars(
        select(OutboxMessage.key).where(
            OutboxMessage.key.startswith(prefix, autoescape=True), OutboxMessage.created_at >= since
        )
    )
    return set(result.all())
