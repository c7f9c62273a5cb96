"""The audit log: who did what, when. Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Member


async def add_audit_entry(
    session: AsyncSession,
    *,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str | None = None,
    object_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
        )
    )


async def audit_entries(
    session: AsyncSession, *, action_prefix: str | None = None, limit: int = 500
) -> Sequence[tuple[AuditEntry, str | None]]:
    """The newest audit entries with the actor's name, optionally of one kind of action."""
    query = (
        select(AuditEntry, Member.full_name)
        .outerjoin(Member, Member.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return [(entry, name) for entry, name in (await session.execute(query)).all()]
