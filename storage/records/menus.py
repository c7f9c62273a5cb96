"""Each person's current menu on a channel without buttons (see handlers/core/numbered.py).
Keyword-only; never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class ChannelMenu(Base):
    """A person's current menu on a channel without buttons: the numbered options of the last
    reply that had any, so a restart or another replica reads "2" the same way."""

    __tablename__ = "menus"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    # {"options": [[label, data], ...], "free_text": bool, "explained": form key or null}
    menu: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


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
