"""Everything the bot keeps about one person, gathered for them (/toi: Decree 13/2023's right of
access). Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, JoinRequest, Member, Membership, Report, Unit
from storage.records.consents import Consent, consents_of
from storage.records.models import model_code, models_of
from storage.records.people import identities_of


@dataclass(frozen=True)
class Joined:
    unit: str
    role: str  # rules.ROLE_MEMBER | ROLE_COORDINATOR, or a join request's status
    at: datetime


@dataclass(frozen=True)
class Registered:
    code: str
    title: str
    status: str


@dataclass(frozen=True)
class PersonalRecord:
    member: Member
    units: list[Joined]
    join_requests: list[Joined]
    models: list[Registered]
    reports: int
    consents: Sequence[Consent]
    identities: Sequence[Identity]


async def personal_record(session: AsyncSession, *, member: Member) -> PersonalRecord:
    units = await session.execute(
        select(Unit.name, Membership.role, Membership.created_at)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.member_id == member.id)
        .order_by(Membership.id)
    )
    requests = await session.execute(
        select(Unit.name, JoinRequest.status, JoinRequest.created_at)
        .join(Unit, Unit.id == JoinRequest.unit_id)
        .where(JoinRequest.member_id == member.id)
        .order_by(JoinRequest.id)
    )
    models = await models_of(session, owner_id=member.id)
    reports = await session.scalar(
        select(func.count()).select_from(Report).where(Report.member_id == member.id)
    )
    return PersonalRecord(
        member=member,
        units=[Joined(*row) for row in units.all()],
        join_requests=[Joined(*row) for row in requests.all()],
        models=[Registered(model_code(m), m.title, m.status) for m in models],
        reports=reports or 0,
        consents=await consents_of(session, member_id=member.id),
        identities=await identities_of(session, member_id=member.id),
    )
