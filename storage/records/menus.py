"""Each person's current menu on a channel without buttons (see handlers/core/numbered.py).
Keyword-only; never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChannelMenu


async def get_menu(session: AsyncSession, *, identity_id: int) -> dict[str, Any] | None:
    found = await session.get(ChannelMenu, identity_id)
    return found.menu if found is not None else None


async def put_menu(
    session: AsyncSession, *, identity_id: int, menu: dict[str, Any], now: datetime
) -> None:
    found = await session.get(ChannelMenu, identity_id)
    if found is None:
        session.add(ChannelMenu(identity_id=identity_id, menu=menu, updated_at=now))
    else:
        found.menu, found.updated_at = menu, now
    await session.flush()
