"""What each person agreed to: the version of the personal-data notice, and when (Decree
13/2023 asks that consent be recorded and can be shown). A row per agreement, so a new notice
adds one and the history stays; `withdrawn_at` is for taking it back. Keyword-only; never
commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # The notice's version agreed to (handlers/core/consent.py NOTICE_VERSION).
    version: Mapped[str] = mapped_column(String(16))
    # The channel it was given on.
    channel: Mapped[str] = mapped_column(String(16))
    agreed_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


async def has_agreed(session: AsyncSession, *, member_id: int, version: str) -> bool:
    found = await session.scalar(
        select(Consent.id)
        .where(
            Consent.member_id == member_id,
            Consent.version == version,
            Consent.withdrawn_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def record_consent(
    session: AsyncSession, *, member_id: int, version: str, channel: str, now: datetime
) -> Consent:
    consent = Consent(member_id=member_id, version=version, channel=channel, agreed_at=now)
    session.add(consent)
    await session.flush()
    return consent


async def consents_of(session: AsyncSession, *, member_id: int) -> Sequence[Consent]:
    result = await session.scalars(
        select(Consent).where(Consent.member_id == member_id).order_by(Consent.id)
    )
    return result.all()
