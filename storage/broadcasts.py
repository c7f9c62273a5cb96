"""Broadcasts (/thongbao): who receives one, and how far its messages have gone out.

A broadcast's messages are outbox rows keyed "bc:<broadcast id>:<member id>". None of these
functions commit: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, rules
from storage.models import Broadcast, Identity, Member, Membership, OutboxMessage

ALL = "all"
UNITS = "units"
ROLE = "role"
ROLE_ADMIN = "admin"
ROLES = (rules.ROLE_MEMBER, rules.ROLE_COORDINATOR, ROLE_ADMIN)
# Statuses a broadcast's message can still be counted in before it is sent. The outbox index
# leads with the status, so counting these never reads the sent rows, which over time are
# nearly the whole table.
NOT_SENT = (outbox.PENDING, outbox.SENDING, outbox.FAILED, outbox.UNREACHABLE)


def key_prefix(broadcast_id: int) -> str:
    return f"bc:{broadcast_id}:"


def _audience(
    *, kind: str, unit_ids: Iterable[int] = (), role: str | None = None, exclude: int | None
) -> Select[int]:
    """Each person once: reachable on some channel, in the audience, not the sender."""
    reachable = select(Identity.member_id).where(Identity.unreachable_at.is_(None))
    query = select(Member.id).where(Member.id.in_(reachable))
    if exclude is not None:
        query = query.where(Member.id != exclude)
    if kind == ALL:
        members = select(Membership.member_id)
        return query.where(Member.is_admin.is_(True) | Member.id.in_(members))
    if kind == UNITS:
        members = select(Membership.member_id).where(Membership.unit_id.in_(list(unit_ids)))
        return query.where(Member.id.in_(members))
    if kind == ROLE and role == ROLE_ADMIN:
        return query.where(Member.is_admin.is_(True))
    if kind == ROLE and role in ROLES:
        return query.where(
            Member.id.in_(select(Membership.member_id).where(Membership.role == role))
        )
    raise ValueError(f"unknown audience {kind!r} {role!r}")


async def enqueue(
    session: AsyncSession,
    *,
    broadcast_id: int,
    payload: dict[str, Any],
    priority: int,
    not_before: datetime,
    now: datetime,
    kind: str,
    unit_ids: Iterable[int] = (),
    role: str | None = None,
    exclude: int | None = None,
) -> int:
    """Queue the broadcast's message for everyone in the audience, in one INSERT ... SELECT:
    the database makes the rows, so 100.000 recipients cost one statement, not 100.000 rows
    built and sent from here. Returns how many were queued."""
    members = _audience(kind=kind, unit_ids=unit_ids, role=role, exclude=exclude).subquery()
    columns = OutboxMessage.__table__.c
    rows = select(
        literal(key_prefix(broadcast_id)) + cast(members.c.id, String),
        members.c.id,
        literal(payload, columns.payload.type),
        literal(outbox.PENDING),
        literal(priority),
        literal(0),
        literal(not_before, columns.not_before.type),
        literal(now, columns.created_at.type),
    ).where(true())  # SQLite reads ON CONFLICT after a SELECT without WHERE as a join's ON
    names = ["key", "member_id", "payload", "status", "priority", "attempts", "not_before"]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        # The same ON CONFLICT DO NOTHING, from the other dialect's own Insert.
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    result = await session.execute(
        dialect_insert(OutboxMessage)
        .from_select([*names, "created_at"], rows)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def count_recipients(
    session: AsyncSession,
    *,
    kind: str,
    unit_ids: Iterable[int] = (),
    role: str | None = None,
    exclude: int | None = None,
) -> int:
    query = _audience(kind=kind, unit_ids=unit_ids, role=role, exclude=exclude)
    return await session.scalar(select(func.count()).select_from(query.subquery())) or 0


async def not_sent_counts(session: AsyncSession, *, broadcast_id: int) -> dict[str, int]:
    """The broadcast's messages not (yet) sent, by status, in one grouped query."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(
            OutboxMessage.status.in_(NOT_SENT),
            OutboxMessage.key.startswith(key_prefix(broadcast_id), autoescape=True),
        )
        .group_by(OutboxMessage.status)
    )
    return {status: count for status, count in rows.all()}


async def track(
    session: AsyncSession, *, broadcast_id: int, channel: str, chat_id: str, message_id: str
) -> bool:
    """Where the progress message went, so it can be edited. False for an unknown broadcast."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return False
    broadcast.progress_channel = channel
    broadcast.progress_chat_id = chat_id
    broadcast.progress_message_id = message_id
    return True


async def in_progress(
    session: AsyncSession, *, channel: str, chat_id: str | None = None
) -> Sequence[Broadcast]:
    """Unfinished broadcasts whose progress message on this channel is known."""
    query = select(Broadcast).where(
        Broadcast.finished_at.is_(None),
        Broadcast.progress_message_id.is_not(None),
        Broadcast.progress_channel == channel,
    )
    if chat_id is not None:
        query = query.where(Broadcast.progress_chat_id == chat_id)
    return (await session.scalars(query.order_by(Broadcast.id))).all()
