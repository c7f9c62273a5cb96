"""Leases and send slots for several `dvk run` processes on one database.

A lease is a named row held by one process (`holder`) until `expires_at`: taken with one atomic
INSERT ... ON CONFLICT DO UPDATE that succeeds only when the row is free, expired or already
the taker's, renewed by its holder, released when done. A process that dies holds nothing once
its leases expire. Names: "person:<channel>:<id>" (whose updates one process handles now) and
"scheduler" (the one process running the sweeps).

A send slot is one message's place in a channel's rate: slot number floor(t × rate) of the Unix
time t, inserted once (primary key), so that the processes together start at most `rate`
messages a second (one more across a boundary). Times come from the callers' clocks.
Keyword-only query functions; they never commit (the unit of work does)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

SCHEDULER = "scheduler"


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class SendSlot(Base):
    __tablename__ = "send_slots"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


def person_lease(channel: str, person: str) -> str:
    return f"person:{channel}:{person}"[:100]


def _insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's own INSERT, which has ON CONFLICT (the same statement on both)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def take(
    session: AsyncSession, *, name: str, holder: str, now: datetime, lease: timedelta
) -> bool:
    """Take (or renew) the lease `name` for `holder` until now + lease: True when it is now
    theirs, False while another holder's has not expired. One statement: two processes taking
    the same free lease at once get one True between them."""
    statement = _insert(session, Lease).values(name=name, holder=holder, expires_at=now + lease)
    statement = statement.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"holder": holder, "expires_at": now + lease},
        where=(Lease.holder == holder) | (Lease.expires_at <= now),
    ).returning(Lease.name)
    return (await session.execute(statement)).first() is not None


async def renew(
    session: AsyncSession, *, names: list[str], holder: str, now: datetime, lease: timedelta
) -> set[str]:
    """Extend the leases of `names` that `holder` still holds; returns those (a lease that
    expired and was taken by another process is not among them)."""
    if not names:
        return set()
    result = await session.execute(
        update(Lease)
        .where(Lease.name.in_(names), Lease.holder == holder)
        .values(expires_at=now + lease)
        .returning(Lease.name)
    )
    return set(result.scalars().all())


async def release(session: AsyncSession, *, names: list[str], holder: str) -> None:
    """Let go of `holder`'s leases among `names` (another process may take them at once)."""
    if names:
        await session.execute(delete(Lease).where(Lease.name.in_(names), Lease.holder == holder))


async def holder_of(session: AsyncSession, *, name: str, now: datetime) -> str | None:
    """Who holds the lease `name` now (None when it is free or expired)."""
    return await session.scalar(
        select(Lease.holder).where(Lease.name == name, Lease.expires_at > now)
    )


async def take_slot(session: AsyncSession, *, channel: str, slot: int) -> bool:
    """Take send slot `slot` of `channel`: False when another process took it."""
    statement = (
        _insert(session, SendSlot)
        .values(channel=channel, slot=slot)
        .on_conflict_do_nothing(index_elements=[SendSlot.channel, SendSlot.slot])
        .returning(SendSlot.slot)
    )
    return (await session.execute(statement)).first() is not None


async def forget_slots(session: AsyncSession, *, channel: str, before: int) -> None:
    """Remove the slots before `before` (they are in the past: no one takes them again)."""
    await session.execute(
        delete(SendSlot).where(SendSlot.channel == channel, SendSlot.slot < before)
    )
