"""Who issues the year-end report of a top-level unit: the committee, its superior, the place in
the date line and the signer's title, kept once (asked for at the first /baocaotongket, or given
to `dvk report`) so each report carries them. Keyword-only; never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Unit

FIELDS = ("committee", "superior", "place", "signer")


class ReportIssuer(Base):
    __tablename__ = "report_issuers"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    committee: Mapped[str | None] = mapped_column(String(200))
    superior: Mapped[str | None] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(100))
    signer: Mapped[str | None] = mapped_column(String(100))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]


async def issuer_of(session: AsyncSession, *, unit_id: int) -> ReportIssuer | None:
    return await session.get(ReportIssuer, unit_id)


async def save_issuer(
    session: AsyncSession,
    *,
    unit_id: int,
    values: dict[str, str | None],
    by: int | None,
    now: datetime,
) -> ReportIssuer:
    """Keep what is given (None leaves a value as it was)."""
    issuer = await session.get(ReportIssuer, unit_id)
    if issuer is None:
        issuer = ReportIssuer(unit_id=unit_id, updated_at=now)
        session.add(issuer)
    for name in FIELDS:
        if values.get(name) is not None:
            setattr(issuer, name, values[name])
    issuer.updated_by, issuer.updated_at = by, now
    await session.flush()
    return issuer


async def top_units(session: AsyncSession) -> list[Unit]:
    """The active top-level units: each issues its own report."""
    found = await session.scalars(
        select(Unit).where(Unit.parent_id.is_(None), Unit.active.is_(True)).order_by(Unit.code)
    )
    return list(found)
