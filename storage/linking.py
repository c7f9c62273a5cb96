"""One person on two channels (docs/zalo.md, "One person, two channels"): the code that links an
identity to a member, and which channel a person's messages go to. Kept out of storage/models.py
(imported at its end, so the metadata and Alembic see these tables)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class LinkCode(Base):
    """A member's live /lienket code: only its HMAC is kept (the pepper is not in the database),
    so a copy of the database does not give away a code. One per member; a new one replaces it;
    linked, cancelled or burnt (5 wrong attempts) it is deleted."""

    __tablename__ = "link_codes"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # where it was asked for
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class DeliveryChannel(Base):
    """Where what the bot sends on its own goes, for a person with more than one channel: the
    one they chose in /nhacnho, else the one they wrote from last."""

    __tablename__ = "delivery_channels"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    chosen: Mapped[str | None] = mapped_column(String(16))
    last_used: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime]
