"""One-time upload links: a page where a person on a channel that cannot send files (Zalo)
hands the bot a file for one purpose (a workbook for /nhapexcel). Only the SHA-256 of a link's
token is kept, so the table does not hold a usable link; a link works once, for the person and
the chat it was made for, until it expires. Keyword-only; never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

WORKBOOK_IMPORT = "workbook-import"
UPLOAD_TTL = timedelta(minutes=15)


class UploadToken(Base):
    __tablename__ = "upload_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # The chat the link was asked for: what the upload brings is answered there.
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_upload(
    session: AsyncSession,
    *,
    member_id: int,
    identity_id: int,
    purpose: str,
    now: datetime,
    ttl: timedelta = UPLOAD_TTL,
) -> str:
    """A new link's token (shown once, never stored)."""
    token = secrets.token_urlsafe(24)
    session.add(
        UploadToken(
            token_hash=token_hash(token),
            member_id=member_id,
            identity_id=identity_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


@dataclass(frozen=True)
class Lookup:
    """What a token is: `state` is "valid", "used", "expired" or "unknown"."""

    state: str
    upload: UploadToken | None = None


async def find_upload(session: AsyncSession, *, token: str, purpose: str, now: datetime) -> Lookup:
    found = await session.scalar(
        select(UploadToken).where(
            UploadToken.token_hash == token_hash(token), UploadToken.purpose == purpose
        )
    )
    if found is None:
        return Lookup("unknown")
    if found.used_at is not None:
        return Lookup("used", found)
    if found.expires_at <= now:
        return Lookup("expired", found)
    return Lookup("valid", found)


async def use_upload(session: AsyncSession, *, upload_id: int, now: datetime) -> bool:
    """Marks the link used; False when it was used or expired meanwhile (two uploads at once:
    only one of them wins, on every replica)."""
    done = await session.execute(
        update(UploadToken)
        .where(
            UploadToken.id == upload_id,
            UploadToken.used_at.is_(None),
            UploadToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]
