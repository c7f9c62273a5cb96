"""One person on two channels (docs/zalo.md, "One person, two channels"): the code that links an
identity to a member, and which channel a person's messages go to. Kept out of storage/models.py
(imported at its end, so the metadata and Alembic see these tables)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Integer, String, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, aliased, mapped_column

from storage.models import Base, Identity, OutboxMessage


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


def goes_to(channel: str) -> ColumnElement[bool]:
    """Whether a message goes out on this channel (which reaches its person; the caller joins
    that): one channel per person, so someone on Telegram and Zalo gets it once. The channel
    they chose in /nhacnho while it reaches them, else the one they wrote from last while it
    does, else any that does (then the first sender to claim it takes it)."""
    mine = DeliveryChannel.member_id == OutboxMessage.member_id
    chosen = select(DeliveryChannel.chosen).where(mine).correlate(OutboxMessage).scalar_subquery()
    last = select(DeliveryChannel.last_used).where(mine).correlate(OutboxMessage).scalar_subquery()
    other = aliased(Identity)

    def reaches(column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
        return (
            select(other.id)
            .join(DeliveryChannel, DeliveryChannel.member_id == other.member_id)
            .where(
                other.member_id == OutboxMessage.member_id,
                other.channel == column,
                other.unreachable_at.is_(None),
            )
            .correlate(OutboxMessage)
            .exists()
        )

    return or_(
        func.coalesce(chosen, "") == channel,
        and_(
            ~reaches(DeliveryChannel.chosen),
            or_(func.coalesce(last, "") == channel, ~reaches(DeliveryChannel.last_used)),
        ),
    )


async def outbox_by_channel(session: AsyncSession) -> dict[tuple[str, str], int]:
    """(channel, status) -> how many outbox messages, in one grouped query (the metrics read it
    at scrape time). A message is counted on its person's chosen channel, else the one they
    wrote from last, else "" (nobody has written from any): how `goes_to` routes it while
    that channel reaches them, without following one that stopped."""
    rows = await session.execute(
        select(
            DeliveryChannel.chosen, DeliveryChannel.last_used, OutboxMessage.status, func.count()
        )
        .select_from(OutboxMessage)
        .outerjoin(DeliveryChannel, DeliveryChannel.member_id == OutboxMessage.member_id)
        .group_by(DeliveryChannel.chosen, DeliveryChannel.last_used, OutboxMessage.status)
    )
    counts: dict[tuple[str, str], int] = {}
    for chosen, last_used, status, count in rows:
        key = (chosen or last_used or "", status)
        counts[key] = counts.get(key, 0) + count
    return counts
