"""Invites and join requests: making, using and taking back invite links, and asking to join a
unit without one. A revoked invite stays revoked: nothing sets `revoked` back, so reactivating a
unit or reappointing a coordinator does not reopen a link that was handed out before.
Keyword-only; none of these functions commit."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rules
from storage.models import AuditEntry, Invite, JoinRequest, Member, Membership, Unit
from storage.records.people import shown_name


async def create_invite(
    session: AsyncSession,
    *,
    unit_id: int,
    role: str,
    expires_at: datetime,
    max_uses: int,
    created_by: int | None,
    now: datetime,
) -> Invite:
    invite = Invite(
        code=await _fresh_code(session),
        unit_id=unit_id,
        role=role,
        expires_at=expires_at,
        max_uses=max_uses,
        uses=0,
        revoked=False,
        created_by=created_by,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def invite_by_code(session: AsyncSession, *, code: str) -> Invite | None:
    """The invite a person typed or opened: exactly as stored first (older codes are mixed-case
    and may hold "-" or "_"), then ignoring case, spaces and dashes (`abcd-efgh`, `demo tv`).
    When that looser reading fits several older codes, none is guessed."""
    exact = await session.scalar(select(Invite).where(Invite.code == code.strip()))
    key = code_key(code)
    if exact is not None or not key:
        return exact
    if key != code.strip():  # else just looked for
        found = await session.scalar(select(Invite).where(Invite.code == key))
        if found is not None:
            return found
    loose = func.upper(func.replace(func.replace(Invite.code, "-", ""), " ", ""))
    matches = list((await session.scalars(select(Invite).where(loose == key).limit(2))).all())
    return matches[0] if len(matches) == 1 else None


def invite_unusable_reason(invite: Invite | None, *, now: datetime) -> str | None:
    if invite is None:
        return "invalid"
    if invite.revoked:
        return "revoked"
    if invite.expires_at <= now:
        return "expired"
    if invite.uses >= invite.max_uses:
        return "used_up"
    return None


async def consume_invite(session: AsyncSession, *, invite_id: int) -> bool:
    """Count one use, atomically, unless the invite is used up meanwhile."""
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.uses < Invite.max_uses)
        .values(uses=Invite.uses + 1)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _usable(now: datetime) -> ColumnElement[bool]:
    return Invite.revoked.is_(False) & (Invite.expires_at > now) & (Invite.uses < Invite.max_uses)


async def usable_invites(
    session: AsyncSession, *, unit_ids: set[int] | None, now: datetime, limit: int = 20
) -> tuple[list[tuple[Invite, Unit, list[str]]], int]:
    """The newest invites of the units (None: all) that would admit someone now, each with the
    names of who joined through it, and how many such invites there are in all."""
    where = [_usable(now), Unit.active.is_(True)]
    if unit_ids is not None:
        where.append(Invite.unit_id.in_(unit_ids))
    total = await session.scalar(
        select(func.count()).select_from(Invite).join(Unit, Unit.id == Invite.unit_id).where(*where)
    )
    query = (
        select(Invite, Unit)
        .join(Unit, Unit.id == Invite.unit_id)
        .where(*where)
        .order_by(Invite.created_at.desc(), Invite.id.desc())
        .limit(limit)
    )
    invites = [(invite, unit) for invite, unit in (await session.execute(query)).all()]
    joined: dict[int, list[str]] = {invite.id: [] for invite, _ in invites}
    if invites:
        rows = await session.execute(
            select(Membership.invite_id, shown_name())
            .join(Member, Member.id == Membership.member_id)
            .where(Membership.invite_id.in_(list(joined)))
            .order_by(Membership.created_at, Membership.id)
        )
        for invite_id, name in rows.all():
            joined[invite_id].append(name or "")  # type: ignore[index]  # in `joined`, not None
    return [(invite, unit, joined[invite.id]) for invite, unit in invites], total or 0


async def revoke_invite(session: AsyncSession, *, invite_id: int) -> bool:
    """False when it was revoked already (by someone else a moment ago, say)."""
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.revoked.is_(False))
        .values(revoked=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def _revoke_all(session: AsyncSession, invites: Sequence[Invite]) -> list[Invite]:
    for invite in invites:
        invite.revoked = True
    await session.flush()
    return list(invites)


async def invites_of_inactive_units(
    session: AsyncSession, *, unit_id: int | None = None
) -> list[Invite]:
    """Invites not yet revoked into units that take nobody new (or into this unit, which is
    being deactivated)."""
    query = select(Invite).join(Unit, Unit.id == Invite.unit_id).where(Invite.revoked.is_(False))
    if unit_id is not None:
        query = query.where(Unit.id == unit_id)
    else:
        query = query.where(Unit.active.is_(False))
    return list((await session.scalars(query.order_by(Invite.id))).all())


async def revoke_unit_invites(session: AsyncSession, *, unit_id: int) -> list[Invite]:
    """A unit is deactivated: every invite into it is revoked, for good."""
    return await _revoke_all(session, await invites_of_inactive_units(session, unit_id=unit_id))


async def orphaned_invites(session: AsyncSession, *, creator_id: int | None = None) -> list[Invite]:
    """Invites not yet revoked whose maker may no longer invite into their unit: no longer an
    admin, and not coordinating the unit or a unit above it. Invites made by nobody in the chat
    (the command line, the demo) are not anyone's to lose."""
    query = select(Invite).where(Invite.revoked.is_(False), Invite.created_by.is_not(None))
    if creator_id is not None:
        query = query.where(Invite.created_by == creator_id)
    invites = list((await session.scalars(query.order_by(Invite.id))).all())
    if not invites:
        return []
    makers = {invite.created_by for invite in invites}
    admins = set(
        await session.scalars(
            select(Member.id).where(Member.id.in_(makers), Member.is_admin.is_(True))
        )
    )
    held: dict[int, list[int]] = {}
    for member_id, unit_id in (
        await session.execute(
            select(Membership.member_id, Membership.unit_id).where(
                Membership.member_id.in_(makers), Membership.role == rules.ROLE_COORDINATOR
            )
        )
    ).all():
        held.setdefault(member_id, []).append(unit_id)
    parents = dict((await session.execute(select(Unit.id, Unit.parent_id))).all())

    def above(unit_id: int) -> set[int]:
        chain: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in chain:
            chain.add(current)
            current = parents.get(current)
        return chain

    return [
        invite
        for invite in invites
        if invite.created_by not in admins
        and not above(invite.unit_id) & set(held.get(invite.created_by or 0, ()))
    ]


async def revoke_orphaned(session: AsyncSession, *, creator_id: int | None = None) -> list[Invite]:
    """A coordinator was removed from a unit: the invites they made and may no longer make."""
    return await _revoke_all(session, await orphaned_invites(session, creator_id=creator_id))


async def pending_join_request(session: AsyncSession, *, member_id: int) -> JoinRequest | None:
    return await session.scalar(
        select(JoinRequest).where(
            JoinRequest.member_id == member_id, JoinRequest.status == rules.JOIN_PENDING
        )
    )


async def add_join_request(
    session: AsyncSession, *, member_id: int, unit_id: int, now: datetime
) -> JoinRequest:
    request = JoinRequest(
        member_id=member_id, unit_id=unit_id, status=rules.JOIN_PENDING, created_at=now
    )
    session.add(request)
    await session.flush()
    return request


async def pending_join_requests(
    session: AsyncSession, *, unit_ids: set[int] | None, limit: int = 20
) -> Sequence[tuple[JoinRequest, Member, Unit]]:
    query = (
        select(JoinRequest, Member, Unit)
        .join(Member, Member.id == JoinRequest.member_id)
        .join(Unit, Unit.id == JoinRequest.unit_id)
        .where(JoinRequest.status == rules.JOIN_PENDING)
        .order_by(JoinRequest.created_at, JoinRequest.id)
        .limit(limit)
    )
    if unit_ids is not None:
        query = query.where(JoinRequest.unit_id.in_(unit_ids))
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def decide_pending_join_request(
    session: AsyncSession, *, request_id: int, status: str, decided_by: int, now: datetime
) -> bool:
    """Decide a pending request; False when someone else already did."""
    result = await session.execute(
        update(JoinRequest)
        .where(JoinRequest.id == request_id, JoinRequest.status == rules.JOIN_PENDING)
        .values(status=status, decided_by=decided_by, decided_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


# New invite codes: typed on a phone, read aloud or copied from paper, so no characters that
# look alike (0/O, 1/I/L). 31 characters, 8 of them: about 8.5 * 10**11 codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_SEPARATORS = re.compile(r"[\s\-]+")
_KEY = re.compile(r"[A-Z0-9_]{1,32}")
# What a new code looks like typed: 8 of the alphabet, or two groups of 4 split by one space or
# dash. Stricter than what `invite_by_code` accepts, so that chatter ("xin chao", "cam on ban")
# is not taken for a code.
_SHAPE = re.compile(rf"[{CODE_ALPHABET}]{{4}}[ -]?[{CODE_ALPHABET}]{{4}}")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_key(typed: str) -> str | None:
    """A typed code as stored: upper-case, without spaces or dashes; None when it cannot be one."""
    key = _SEPARATORS.sub("", typed).upper()
    return key if _KEY.fullmatch(key) else None


def looks_like_code(text: str) -> bool:
    """Whether a message is, by its shape alone, a new invite code (in any case)."""
    return _SHAPE.fullmatch(text.strip().upper()) is not None


async def _fresh_code(session: AsyncSession) -> str:
    """A code no invite has, also not when read loosely (an older code might)."""
    while True:
        code = new_code()
        if await invite_by_code(session, code=code) is None:
            return code


# Wrong codes are kept in the audit log (who, when, what was typed): every replica counts them
# alike, and an admin can see someone trying codes.
WRONG_CODE = "invite.wrong_code"


async def wrong_codes_since(session: AsyncSession, *, member_id: int, since: datetime) -> int:
    """How many codes fitting no invite the person has sent since then."""
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.actor_id == member_id,
            AuditEntry.action == WRONG_CODE,
            AuditEntry.at > since,
        )
    )
    return count or 0
