"""Reading and settling the outbox. The sender lives in bot/; this is its storage side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, OutboxMessage

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


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
            Identity.channel == channel,
            Identity.unreachable_at.is_(None),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if member_id is not None:
        query = query.where(OutboxMessage.member_id == member_id)
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]


async def settle(
    session: AsyncSession, *, message_id: int, status: str, now: datetime, error: str | None = None
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=status,
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:500] if error else None,
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
