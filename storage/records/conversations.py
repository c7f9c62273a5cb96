"""Conversations: the form a person is filling in. Keyword-only; never commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def get_conversation(session: AsyncSession, *, member_id: int) -> Conversation | None:
    return await session.get(Conversation, member_id)
