"""People: members, their identities on each channel, their memberships in units, and who
is an admin or a coordinator. Keyword-only; never commit."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload

from language.texts import Texts
from language.vietnamese import fold
from storage import rules
from storage.models import (
    AuditEntry,
    Campaign,
    Conversation,
    Identity,
    JoinRequest,
    Member,
    Membership,
    Unit,
)
from storage.records.consents import Consent

# isort: split
# After storage.models, which must be imported before the tables kept in their own modules.
from storage.linking import DeliveryChannel


def left_name() -> str:
    """How a person who had their data erased (/xoadulieu) is named where their records are
    shown: the views, exports, statistics and the year-end report, all in Vietnamese."""
    return Texts()("member-left")


def shown_name() -> ColumnElement[str | None]:
    """The name of the `Member` joined in, «thành viên đã rời» once erased; None where no one is
    joined (a record imported from paper has no owner in the chat)."""
    return case((Member.id.is_(None), None), else_=func.coalesce(Member.full_name, left_name()))


async def find_identity(
    session: AsyncSession, *, channel: str, external_id: str
) -> Identity | None:
    return await session.scalar(
        select(Identity)
        .options(joinedload(Identity.member))
        .where(Identity.channel == channel, Identity.external_id == external_id)
    )


@dataclass
class Person:
    """Who sent an update, with what its step reads first, in one statement
    (`read_person`). The rows are in the session, so that reading them again by key
    (`session.get`: the conversation, the delivery channel, the campaign of the form) costs no
    query; what is absent is only known absent at the moment of the read."""

    identity: Identity
    conversation: Conversation | None
    memberships: list[Membership] = field(default_factory=list)
    # The units of those memberships, by id.
    units: dict[int, Unit] = field(default_factory=dict)
    # Whether they agreed to the personal-data notice `notice_version`, not withdrawn.
    agreed: bool = False
    # Held here because the session keeps only the rows something refers to.
    campaign: Campaign | None = None
    delivery: DeliveryChannel | None = None


@functools.cache
def _person_statement() -> Select[Any]:
    """Built once: a step's first read is the same statement for everyone (building it is a
    good part of what it costs), its values bound at each execution."""
    agreed = (
        select(Consent.id)
        .where(
            Consent.member_id == Identity.member_id,
            Consent.version == bindparam("notice_version"),
            Consent.withdrawn_at.is_(None),
        )
        .exists()
    )
    campaign_id = Conversation.context["campaign_id"].as_integer()
    return (
        select(Identity, Conversation, Membership, Unit, agreed)
        .join(Identity.member)
        .outerjoin(Conversation, Conversation.member_id == Identity.member_id)
        .outerjoin(Campaign, Campaign.id == campaign_id)
        .outerjoin(DeliveryChannel, DeliveryChannel.member_id == Identity.member_id)
        .outerjoin(Membership, Membership.member_id == Identity.member_id)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        # The campaign and the delivery channel only for the session's identity map.
        .add_columns(Campaign, DeliveryChannel)
        .options(contains_eager(Identity.member))
        .where(
            Identity.channel == bindparam("channel"),
            Identity.external_id == bindparam("external_id"),
        )
        .order_by(Membership.id)
    )


async def read_person(
    session: AsyncSession, *, channel: str, external_id: str, notice_version: str
) -> Person | None:
    """The identity and member, their open conversation (with the campaign its form is for),
    their delivery channel, memberships and units, and their agreement to the notice: one
    statement, a row per membership."""
    values = {"channel": channel, "external_id": external_id, "notice_version": notice_version}
    rows = (await session.execute(_person_statement(), values)).all()
    if not rows:
        return None
    first = rows[0]
    person = Person(first[0], first[1], agreed=bool(first[4]), campaign=first[5], delivery=first[6])
    for row in rows:
        if row[2] is not None:
            person.memberships.append(row[2])
        if row[3] is not None:
            person.units[row[3].id] = row[3]
    return person


async def get_or_create_identity(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str | None,
    now: datetime,
) -> Identity:
    identity = await find_identity(session, channel=channel, external_id=external_id)
    if identity is not None:
        touch_identity(identity, chat_id=chat_id)
        return identity
    member = Member(created_at=now)
    identity = Identity(
        member=member,
        channel=channel,
        external_id=external_id,
        chat_id=chat_id,
        display_name=display_name,
        created_at=now,
    )
    session.add(identity)
    await session.flush()
    return identity


def touch_identity(identity: Identity, *, chat_id: str) -> None:
    """They wrote from this chat: where to answer, and a sign they can be reached."""
    if identity.chat_id != chat_id:
        identity.chat_id = chat_id
    if identity.unreachable_at is not None:
        # They wrote to us: they unblocked the bot, so queued messages may go again.
        identity.unreachable_at = None


async def identities_of(session: AsyncSession, *, member_id: int) -> Sequence[Identity]:
    result = await session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return result.all()


async def memberships_of(session: AsyncSession, *, member_id: int) -> Sequence[Membership]:
    result = await session.scalars(
        select(Membership).where(Membership.member_id == member_id).order_by(Membership.id)
    )
    return result.all()


async def add_membership(
    session: AsyncSession,
    *,
    member_id: int,
    unit_id: int,
    role: str,
    now: datetime,
    invite_id: int | None = None,
) -> Membership:
    existing = await session.scalar(
        select(Membership).where(
            Membership.member_id == member_id,
            Membership.unit_id == unit_id,
            Membership.role == role,
        )
    )
    if existing is not None:
        return existing
    membership = Membership(
        member_id=member_id, unit_id=unit_id, role=role, invite_id=invite_id, created_at=now
    )
    session.add(membership)
    await session.flush()
    return membership


async def members_with_role(
    session: AsyncSession, *, unit_ids: Iterable[int], role: str
) -> Sequence[int]:
    result = await session.scalars(
        select(Membership.member_id)
        .where(Membership.unit_id.in_(list(unit_ids)), Membership.role == role)
        .distinct()
    )
    return result.all()


async def all_admins(session: AsyncSession) -> Sequence[Member]:
    return (await session.scalars(select(Member).where(Member.is_admin.is_(True)))).all()


async def lock_admins(session: AsyncSession) -> list[int]:
    """The admins' ids, their rows locked until the end of the unit of work (PostgreSQL), so two
    admins removing each other at once cannot leave nobody in charge."""
    result = await session.scalars(
        select(Member.id).where(Member.is_admin.is_(True)).order_by(Member.id).with_for_update()
    )
    return list(result.all())


async def staff_identities(session: AsyncSession, *, channel: str) -> Sequence[Identity]:
    """Identities of admins and coordinators, whose command menus differ from members'."""
    coordinators = select(Membership.member_id).where(Membership.role == rules.ROLE_COORDINATOR)
    result = await session.scalars(
        select(Identity)
        .join(Member, Member.id == Identity.member_id)
        .where(
            Identity.channel == channel,
            (Member.is_admin.is_(True)) | (Member.id.in_(coordinators)),
        )
    )
    return result.all()


async def staff_members(session: AsyncSession) -> Sequence[Member]:
    """Admins and coordinators: the people who receive digests."""
    coordinators = select(Membership.member_id).where(Membership.role == rules.ROLE_COORDINATOR)
    result = await session.scalars(
        select(Member)
        .where((Member.is_admin.is_(True)) | (Member.id.in_(coordinators)))
        .order_by(Member.id)
    )
    return result.all()


async def staff_matching(session: AsyncSession, person: str | None) -> list[Member]:
    """Admins and coordinators that `person` names: a member id, an identity written
    `channel:id` (`telegram:123`, `zalo:8a1f…`), or part of a full name (case and diacritics
    ignored); everyone whose digest is on when `person` is None."""
    staff = list(await staff_members(session))
    if person is None:
        return [m for m in staff if m.digest_mode != "off"]
    person = person.strip()
    if person.isdigit():
        return [m for m in staff if m.id == int(person)]
    channel, colon, external = person.partition(":")
    if colon:
        owner = await session.scalar(
            select(Identity.member_id).where(
                Identity.channel == channel.strip().lower(),
                Identity.external_id == external.strip(),
            )
        )
        return [m for m in staff if m.id == owner]
    wanted = fold(person)
    return [m for m in staff if wanted and wanted in fold(m.full_name or "")]


async def named_people(
    session: AsyncSession, *, ids: Iterable[int] | None = None, admins: bool | None = None
) -> list[tuple[int, str, list[str]]]:
    """People who gave their name, by name: (member id, full name, names of their units).
    `ids` narrows to those people; `admins` to admins (True) or to everyone else (False).
    Two queries however many people there are."""
    query = (
        select(Member.id, Member.full_name)
        .where(Member.full_name.is_not(None))
        .order_by(Member.full_name, Member.id)
    )
    if ids is not None:
        query = query.where(Member.id.in_(list(ids)))
    if admins is not None:
        query = query.where(Member.is_admin.is_(admins))
    # Named, so the name is never None.
    people = [(member_id, name or "") for member_id, name in (await session.execute(query)).all()]
    units: dict[int, list[str]] = {member_id: [] for member_id, _ in people}
    if people:
        rows = select(Membership.member_id, Unit.name).join(Unit, Unit.id == Membership.unit_id)
        if ids is not None:
            rows = rows.where(Membership.member_id.in_(list(units)))
        for member_id, unit_name in (await session.execute(rows.order_by(Membership.id))).all():
            if member_id in units and unit_name not in units[member_id]:
                units[member_id].append(unit_name)
    return [(member_id, name, units[member_id]) for member_id, name in people]


async def search_people(
    session: AsyncSession,
    *,
    query: str | None,
    admins: bool | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[int, list[tuple[int, str, list[str]]]]:
    """People who gave their name, by name, as `named_people` gives them, searched and paged by
    the database: how many match `query` in all, and `limit` of them from `offset`. A person
    matches by name or by the name of one of their units, case and diacritics ignored (the
    folded name is a column of its own, storage/names.py); "name — unit", as the choice's
    label reads, narrows namesakes by their units. Three short queries whatever the number of
    people; a search of the name reads one column of every member (no index takes a search
    inside a name), and the listing without a search walks the index on it."""
    needle = fold(query or "")
    name_part, labelled, _ = needle.partition(" — ")
    conditions: list[ColumnElement[bool]] = [Member.name_folded.is_not(None)]
    if admins is not None:
        conditions.append(Member.is_admin.is_(admins))
    if name_part:
        by_name = Member.name_folded.contains(name_part, autoescape=True)
        if labelled:
            conditions.append(by_name)
        else:
            # A unit's name is searched among the units (hundreds, not thousands of rows).
            units = [
                unit_id
                for unit_id, name in (await session.execute(select(Unit.id, Unit.name))).all()
                if needle in fold(name)
            ]
            in_units = Member.id.in_(
                select(Membership.member_id).where(Membership.unit_id.in_(units))
            )
            conditions.append(or_(by_name, in_units) if units else by_name)
    query_ = select(Member.id, Member.full_name).where(*conditions)
    order = (Member.name_folded, Member.id)
    if labelled:
        # Only namesakes are read, and told apart by their units' names here.
        rows = await _with_units(session, (await session.execute(query_.order_by(*order))).all())
        found = [row for row in rows if needle in fold(f"{row[1]} — {', '.join(row[2])}")]
        return len(found), found[offset : offset + limit]
    total = await session.scalar(select(func.count(Member.id)).where(*conditions)) or 0
    page = (await session.execute(query_.order_by(*order).limit(limit).offset(offset))).all()
    return total, await _with_units(session, page)


async def _with_units(
    session: AsyncSession, people: Sequence[Any]
) -> list[tuple[int, str, list[str]]]:
    units: dict[int, list[str]] = {member_id: [] for member_id, _ in people}
    if units:
        rows = await session.execute(
            select(Membership.member_id, Unit.name)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(Membership.member_id.in_(list(units)))
            .order_by(Membership.id)
        )
        for member_id, unit_name in rows.all():
            if unit_name not in units[member_id]:
                units[member_id].append(unit_name)
    return [(member_id, name or "", units[member_id]) for member_id, name in people]


async def coordinator_assignments(
    session: AsyncSession, *, member_id: int | None = None
) -> Sequence[tuple[Membership, Member, Unit]]:
    """Who coordinates which unit, by person then unit."""
    query = (
        select(Membership, Member, Unit)
        .join(Member, Member.id == Membership.member_id)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.role == rules.ROLE_COORDINATOR)
        .order_by(Member.full_name, Member.id, Unit.name)
    )
    if member_id is not None:
        query = query.where(Membership.member_id == member_id)
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def remove_coordinator(session: AsyncSession, *, membership_id: int) -> bool:
    """False when the assignment is gone already (another admin removed it a moment ago)."""
    result = await session.execute(
        delete(Membership).where(
            Membership.id == membership_id, Membership.role == rules.ROLE_COORDINATOR
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def unreachable_members(session: AsyncSession, *, unit_ids: set[int] | None) -> Sequence[str]:
    """Names of people in the units who blocked the bot on every channel they have (someone
    on Telegram and Zalo who blocked one is still reached on the other)."""
    other = aliased(Identity)
    reachable = select(other.id).where(other.member_id == Member.id, other.unreachable_at.is_(None))
    query = (
        select(Member.full_name)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.unreachable_at.is_not(None), ~reachable.exists())
        .distinct()
    )
    if unit_ids is not None:
        query = query.join(Membership, Membership.member_id == Member.id).where(
            Membership.unit_id.in_(unit_ids)
        )
    return [name or "" for name in (await session.scalars(query)).all()]


async def forget_stranger(session: AsyncSession, *, member: Member) -> bool:
    """Delete someone the bot knows only from their first messages (no name, no unit, no request,
    no role, nothing they did on record): their member row, channel identities and what hangs
    on those. False, and nothing deleted, for anyone more than that."""
    if member.full_name is not None or member.is_admin:
        return False
    for column in (Membership.member_id, JoinRequest.member_id, AuditEntry.actor_id):
        count = await session.scalar(select(func.count()).where(column == member.id))
        if count:
            return False
    from storage.linking import DeliveryChannel, LinkCode
    from storage.records.consents import Consent
    from storage.records.menus import ChannelMenu
    from storage.records.uploads import UploadToken

    identities = select(Identity.id).where(Identity.member_id == member.id)
    try:
        async with session.begin_nested():
            await session.execute(
                delete(ChannelMenu).where(ChannelMenu.identity_id.in_(identities))
            )
            for table in (UploadToken, LinkCode, DeliveryChannel, Conversation, Consent, Identity):
                await session.execute(delete(table).where(table.member_id == member.id))
            await session.execute(delete(Member).where(Member.id == member.id))
    except IntegrityError:
        # Something else of theirs is on record after all (a model, an outbox row): kept.
        return False
    # What the session holds of them is gone from the database: it must not be written back.
    for obj in list(session):
        if obj is member or (isinstance(obj, Identity) and obj.member_id == member.id):
            session.expunge(obj)
    return True
