"""Conversations: the form a person is filling in. Keyword-only; never commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def get_conversation(session: AsyncSession, *, member_id: int) -> Conversation | None:
    return await session.get(Conversation, member_id)


async def end_conversation(session: AsyncSession, *, conversation: Conversation) -> None:
    """The form is done or given up: it goes, at once (the next form may begin in the same unit
    of work)."""
    await session.delete(conversation)
    await session.flush()
