"""One person, two channels: /lienket codes, linking an identity to a member, and the channel
a person's messages go to. Keyword-only; never commit (a link is one unit of work: all of it
or none)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.linking import DeliveryChannel, LinkCode
from storage.models import (
    AuditEntry,
    Base,
    Conversation,
    Identity,
    Member,
    OutboxMessage,
)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODE_RE = re.compile(r"[0-9]{6}")
# Rows of an empty person that a link takes over or drops: none of them is a record of theirs.
_NOT_RECORDS = {"identities", "conversations", "audit_log", "outbox", "link_codes",
                "delivery_channels"}  # fmt: skip


class Outcome(enum.Enum):
    LINKED = "linked"
    WRONG = "wrong"  # no live code fits (mistyped, expired, burnt)
    SAME = "same"  # the code is this person's own
    CHANNEL_TAKEN = "channel_taken"  # the member has an identity on this channel already
    HAS_RECORDS = "has_records"  # this identity's person has records of their own


def looks_like_link_code(text: str) -> bool:
    """Six digits, spaces allowed between them ("123 456")."""
    return CODE_RE.fullmatch(text.replace(" ", "")) is not None


def code_hash(pepper: bytes, code: str) -> str:
    return hmac.new(pepper, code.encode(), hashlib.sha256).hexdigest()


async def issue_code(
    session: AsyncSession, *, member_id: int, channel: str, pepper: bytes, now: datetime
) -> str:
    """A new code for the member, replacing any earlier one. Never the same digits as another
    live code, so a code names one person."""
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        digest = code_hash(pepper, code)
        taken = await session.scalar(
            select(LinkCode.member_id).where(
                LinkCode.code_hash == digest,
                LinkCode.expires_at > now,
                LinkCode.member_id != member_id,
            )
        )
        if taken is None:
            break
    await cancel_code(session, member_id=member_id)
    session.add(
        LinkCode(
            member_id=member_id,
            code_hash=digest,
            channel=channel,
            attempts=0,
            expires_at=now + CODE_TTL,
            created_at=now,
        )
    )
    await session.flush()
    return code


async def live_code(session: AsyncSession, *, member_id: int, now: datetime) -> LinkCode | None:
    return await session.scalar(
        select(LinkCode).where(LinkCode.member_id == member_id, LinkCode.expires_at > now)
    )


async def cancel_code(session: AsyncSession, *, member_id: int) -> bool:
    result = await session.execute(delete(LinkCode).where(LinkCode.member_id == member_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _wrong_attempt(session: AsyncSession, *, now: datetime) -> list[int]:
    """A code that fits none counts against every live code: whoever tries codes has 5 tries
    at each, whatever identities they try from. Returns the members whose code it burnt."""
    await session.execute(
        update(LinkCode)
        .where(LinkCode.expires_at > now)
        .values(attempts=LinkCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    burnt = list(
        (
            await session.scalars(
                select(LinkCode.member_id).where(LinkCode.attempts >= MAX_ATTEMPTS)
            )
        ).all()
    )
    if burnt:
        await session.execute(
            delete(LinkCode)
            .where(LinkCode.member_id.in_(burnt))
            .execution_options(synchronize_session=False)
        )
    return burnt


async def has_records(session: AsyncSession, *, member_id: int) -> bool:
    """Whether a person is more than an empty row: an admin, a second identity, or anything
    in any table that points at them (memberships, models, reports, join requests, ...),
    apart from what a newcomer leaves behind (a form begun, the audit of their tries)."""
    member = await session.get(Member, member_id)
    if member is None or member.is_admin:
        return member is not None
    identities = await session.scalar(
        select(func.count()).select_from(Identity).where(Identity.member_id == member_id)
    )
    if (identities or 0) > 1:
        return True
    # Every column that refers to a person, found from the metadata: a table added later is
    # covered without this function knowing it.
    for table in Base.metadata.sorted_tables:
        if table.name in _NOT_RECORDS:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name != "members":
                continue
            found = await session.scalar(select(fk.parent).where(fk.parent == member_id).limit(1))
            if found is not None:
                return True
    return False


async def redeem(
    session: AsyncSession, *, identity: Identity, code: str, pepper: bytes, now: datetime
) -> tuple[Outcome, Member | None]:
    """The code typed on `identity`'s channel: link that identity to the code's member when it
    can be. Returns the outcome and the code's member (None for a wrong code)."""
    found = await session.scalar(
        select(LinkCode)
        .where(LinkCode.code_hash == code_hash(pepper, code), LinkCode.expires_at > now)
        .with_for_update()
    )
    if found is None:
        burnt = await _wrong_attempt(session, now=now)
        for member_id in burnt:
            session.add(AuditEntry(at=now, actor_id=member_id, action="link.burnt", details={}))
        return Outcome.WRONG, None
    owner = await session.get(Member, found.member_id)
    assert owner is not None  # the code row goes with the member (ON DELETE CASCADE)
    if owner.id == identity.member_id:
        return Outcome.SAME, owner
    channels = await channels_of(session, member_id=owner.id)
    if identity.channel in channels:
        return Outcome.CHANNEL_TAKEN, owner
    if await has_records(session, member_id=identity.member_id):
        return Outcome.HAS_RECORDS, owner
    await _attach(session, identity=identity, owner=owner, now=now)
    return Outcome.LINKED, owner


async def _attach(
    session: AsyncSession, *, identity: Identity, owner: Member, now: datetime
) -> None:
    """Move the identity to its owner and drop the empty person it had."""
    empty = identity.member_id
    conversation = await session.get(Conversation, empty)
    if conversation is not None:
        await session.delete(conversation)
    await session.execute(delete(OutboxMessage).where(OutboxMessage.member_id == empty))
    # What the newcomer's tries left in the audit log was done by the same person.
    await session.execute(
        update(AuditEntry).where(AuditEntry.actor_id == empty).values(actor_id=owner.id)
    )
    identity.member = owner
    await session.flush()
    await session.execute(delete(DeliveryChannel).where(DeliveryChannel.member_id == empty))
    await session.execute(delete(LinkCode).where(LinkCode.member_id.in_((empty, owner.id))))
    await session.execute(delete(Member).where(Member.id == empty))
    session.add(
        AuditEntry(
            at=now,
            actor_id=owner.id,
            action="link.linked",
            object_type="identity",
            object_id=identity.id,
            details={"channel": identity.channel, "from_member": empty},
        )
    )
    await note_channel(session, member_id=owner.id, channel=identity.channel, now=now)
    await session.flush()


async def channels_of(session: AsyncSession, *, member_id: int) -> list[str]:
    result = await session.scalars(
        select(Identity.channel).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return list(dict.fromkeys(result.all()))


async def note_channel(
    session: AsyncSession, *, member_id: int, channel: str, now: datetime
) -> None:
    """The person wrote from this channel: it is their last used one (written only when it
    changes, so most messages cost one read by key)."""
    found = await session.get(DeliveryChannel, member_id)
    if found is None:
        session.add(DeliveryChannel(member_id=member_id, last_used=channel, updated_at=now))
    elif found.last_used != channel:
        found.last_used, found.updated_at = channel, now


async def choose_channel(
    session: AsyncSession, *, member_id: int, channel: str | None, now: datetime
) -> None:
    """What the bot sends on its own goes to this channel (None: to the last used one)."""
    found = await session.get(DeliveryChannel, member_id)
    if found is None:
        session.add(DeliveryChannel(member_id=member_id, chosen=channel, updated_at=now))
    else:
        found.chosen, found.updated_at = channel, now


async def chosen_channel(session: AsyncSession, *, member_id: int) -> str | None:
    found = await session.get(DeliveryChannel, member_id)
    return found.chosen if found is not None else None
