"""Query functions. Keyword-only, and they never commit: the unit of work does."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import rules
from storage.models import (
    AuditEntry,
    Campaign,
    Conversation,
    Field,
    Identity,
    Invite,
    JoinRequest,
    Member,
    Membership,
    Model,
    OutboxMessage,
    Report,
    ReportValue,
    Target,
    Unit,
)


async def find_identity(
    session: AsyncSession, *, channel: str, external_id: str
) -> Identity | None:
    return await session.scalar(
        select(Identity)
        .options(selectinload(Identity.member))
        .where(Identity.channel == channel, Identity.external_id == external_id)
    )


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
        if identity.chat_id != chat_id:
            identity.chat_id = chat_id
        if identity.unreachable_at is not None:
            # They wrote to us: they unblocked the bot, so queued messages may go again.
            identity.unreachable_at = None
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


async def all_units(session: AsyncSession, *, active_only: bool = True) -> Sequence[Unit]:
    query = select(Unit).order_by(Unit.name)
    if active_only:
        query = query.where(Unit.active.is_(True))
    return (await session.scalars(query)).all()


async def unit_tree(session: AsyncSession) -> Sequence[Any]:
    """Every unit as a plain row (id, parent_id, name, active): enough to walk the tree."""
    return (
        await session.execute(
            select(Unit.id, Unit.parent_id, Unit.name, Unit.active).order_by(Unit.name)
        )
    ).all()


async def unit_by_code(session: AsyncSession, *, code: str) -> Unit | None:
    return await session.scalar(select(Unit).where(func.upper(Unit.code) == code.upper()))


async def units_by_ids(session: AsyncSession, *, ids: Iterable[int]) -> dict[int, Unit]:
    ids = list(ids)
    if not ids:
        return {}
    result = await session.scalars(select(Unit).where(Unit.id.in_(ids)))
    return {unit.id: unit for unit in result}


async def add_unit(
    session: AsyncSession, *, code: str, name: str, parent_id: int | None, now: datetime
) -> Unit:
    unit = Unit(code=code, name=name, parent_id=parent_id, active=True, created_at=now)
    session.add(unit)
    await session.flush()
    return unit


def with_descendants(units: Sequence[Unit], roots: Iterable[int]) -> set[int]:
    """The given units and every unit below them."""
    children: dict[int | None, list[int]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit.id)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        unit_id = stack.pop()
        if unit_id in found:
            continue
        found.add(unit_id)
        stack.extend(children.get(unit_id, ()))
    return found


async def coordinated_unit_ids(session: AsyncSession, *, member_id: int) -> set[int]:
    roots = await session.scalars(
        select(Membership.unit_id).where(
            Membership.member_id == member_id, Membership.role == rules.ROLE_COORDINATOR
        )
    )
    roots_list = list(roots)
    if not roots_list:
        return set()
    return with_descendants(await all_units(session, active_only=False), roots_list)


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
        code=secrets.token_urlsafe(9),
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
    return await session.scalar(select(Invite).where(Invite.code == code))


def invite_problem(invite: Invite | None, *, now: datetime) -> str | None:
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
    return result.rowcount == 1


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


async def decide_join_request(
    session: AsyncSession, *, request_id: int, status: str, decided_by: int, now: datetime
) -> bool:
    """Decide a pending request; False when someone else already did."""
    result = await session.execute(
        update(JoinRequest)
        .where(JoinRequest.id == request_id, JoinRequest.status == rules.JOIN_PENDING)
        .values(status=status, decided_by=decided_by, decided_at=now)
    )
    return result.rowcount == 1


async def open_campaign(session: AsyncSession, *, today: date) -> Campaign | None:
    return await session.scalar(
        select(Campaign)
        .where(Campaign.starts_on <= today, Campaign.ends_on >= today)
        .order_by(Campaign.starts_on.desc(), Campaign.id.desc())
        .limit(1)
    )


async def add_campaign(
    session: AsyncSession, *, code: str, name: str, starts_on: date, ends_on: date, now: datetime
) -> Campaign:
    campaign = Campaign(code=code, name=name, starts_on=starts_on, ends_on=ends_on, created_at=now)
    session.add(campaign)
    await session.flush()
    return campaign


async def campaign_by_code(session: AsyncSession, *, code: str) -> Campaign | None:
    return await session.scalar(select(Campaign).where(func.upper(Campaign.code) == code.upper()))


async def recent_campaigns(session: AsyncSession, *, limit: int = 12) -> Sequence[Campaign]:
    result = await session.scalars(
        select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(limit)
    )
    return result.all()


async def campaign_for_update(session: AsyncSession, *, campaign_id: int) -> Campaign | None:
    """The campaign with its row locked until the unit of work ends (PostgreSQL; SQLite writes
    one at a time anyway), read afresh: two admins changing its questions at once both count."""
    return await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def visible_fields(session: AsyncSession) -> Sequence[Field]:
    result = await session.scalars(
        select(Field).where(Field.hidden.is_(False)).order_by(Field.position, Field.id)
    )
    return result.all()


async def title_taken(
    session: AsyncSession,
    *,
    campaign_id: int,
    owner_id: int,
    title_key: str,
    except_model: int | None = None,
) -> bool:
    query = select(Model.id).where(
        Model.campaign_id == campaign_id,
        Model.owner_id == owner_id,
        Model.title_key == title_key,
    )
    if except_model is not None:
        query = query.where(Model.id != except_model)
    return (await session.scalar(query)) is not None


async def refresh_achieved(session: AsyncSession, *, target_ids: Iterable[int]) -> None:
    """Recompute the running totals (Target.achieved) of these targets from their report values.
    Call after writing report values. The targets' rows are locked first, so two reports of the
    same target written at once do not each sum without the other."""
    ids = sorted(set(target_ids))
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        await session.flush()
        await session.execute(
            select(Target.id).where(Target.id.in_(chunk)).with_for_update().order_by(Target.id)
        )
        total = (
            select(func.coalesce(func.sum(ReportValue.value), 0))
            .where(ReportValue.target_id == Target.id)
            .scalar_subquery()
        )
        await session.execute(
            update(Target)
            .where(Target.id.in_(chunk))
            .values(achieved=total)
            .execution_options(synchronize_session=False)
        )
    # Loaded targets would otherwise keep the old total.
    refreshed = set(ids)
    for thing in list(session.sync_session.identity_map.values()):
        if isinstance(thing, Target) and thing.id in refreshed:
            session.expire(thing, ["achieved"])


async def assign_model_code(session: AsyncSession, *, model: Model) -> None:
    """Give a new model its code, "MH<id>" — or, if an imported paper record already has that
    code (in any case: "mh12" is MH12 to an import), the first free "MH<id>-<n>"."""
    base = f"MH{model.id}"
    # The usual case in one indexed look-up: the code in each of its spellings is free.
    spellings = {prefix + str(model.id) for prefix in ("MH", "mh", "Mh", "mH")}
    code = base
    if await session.scalar(select(Model.id).where(Model.code.in_(spellings)).limit(1)):
        taken = set(
            await session.scalars(
                select(func.upper(Model.code)).where(
                    or_(func.upper(Model.code) == base, func.upper(Model.code).like(f"{base}-%"))
                )
            )
        )
        n = 1
        while code in taken:
            n += 1
            code = f"{base}-{n}"
    model.code = code
    await session.flush()


async def models_of(session: AsyncSession, *, owner_id: int) -> Sequence[Model]:
    result = await session.scalars(
        select(Model)
        .options(selectinload(Model.campaign))
        .where(Model.owner_id == owner_id)
        .order_by(Model.created_at.desc(), Model.id.desc())
    )
    return result.all()


async def model_details(session: AsyncSession, *, model_id: int) -> Model | None:
    return await session.scalar(
        select(Model)
        .options(
            selectinload(Model.targets), selectinload(Model.field), selectinload(Model.campaign)
        )
        .where(Model.id == model_id)
    )


async def get_conversation(session: AsyncSession, *, member_id: int) -> Conversation | None:
    return await session.get(Conversation, member_id)


async def audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str | None = None,
    object_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
        )
    )


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    member_id: int,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    priority: int = 5,
) -> bool:
    """Queue a message unless one with the same key exists. True when queued now.

    One statement that the database settles: two units of work queueing the same key at once
    (two coordinators, a sweep and a handler, two replicas) both succeed, and one row results."""
    row = {
        "key": key,
        "member_id": member_id,
        "payload": payload,
        "status": "pending",
        "priority": priority,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
    }
    return await enqueue_many(session, [row]) == 1


async def admins(session: AsyncSession) -> Sequence[Member]:
    return (await session.scalars(select(Member).where(Member.is_admin.is_(True)))).all()


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


async def members_with_role(
    session: AsyncSession, *, unit_ids: Iterable[int], role: str
) -> Sequence[int]:
    result = await session.scalars(
        select(Membership.member_id)
        .where(Membership.unit_id.in_(list(unit_ids)), Membership.role == role)
        .distinct()
    )
    return result.all()


async def reportable_models(session: AsyncSession, *, owner_id: int) -> Sequence[Model]:
    """Models their owner reports progress on: approved or under way."""
    result = await session.scalars(
        select(Model)
        .options(selectinload(Model.campaign), selectinload(Model.targets))
        .where(
            Model.owner_id == owner_id,
            Model.status.in_((rules.APPROVED, rules.IN_PROGRESS)),
        )
        .order_by(Model.id)
    )
    return result.all()


async def report_for(session: AsyncSession, *, model_id: int, period_start: date) -> Report | None:
    return await session.scalar(
        select(Report)
        .options(selectinload(Report.values), selectinload(Report.photos))
        .where(Report.model_id == model_id, Report.period_start == period_start)
    )


async def reports_of(session: AsyncSession, *, model_id: int) -> Sequence[Report]:
    result = await session.scalars(
        select(Report)
        .options(selectinload(Report.photos))
        .where(Report.model_id == model_id)
        .order_by(Report.period_start)
    )
    return result.all()


async def target_totals(session: AsyncSession, *, model_id: int) -> dict[int, Decimal]:
    """What all reports of a model achieved so far, per target."""
    rows = await session.execute(
        select(ReportValue.target_id, func.sum(ReportValue.value))
        .join(Target, Target.id == ReportValue.target_id)
        .where(Target.model_id == model_id)
        .group_by(ReportValue.target_id)
    )
    return {target_id: Decimal(total or 0) for target_id, total in rows.all()}


async def review_queue(
    session: AsyncSession,
    *,
    unit_ids: set[int] | None,
    reviewer_id: int,
    after: Model | None = None,
) -> tuple[int, Model | None]:
    """Submitted registrations of the units, oldest first, but not the reviewer's own: how
    many, and the next one (after a given one, to skip ahead)."""
    # IS DISTINCT FROM, not !=: an imported model has no owner, and NULL != x is not true.
    waiting = select(Model).where(
        Model.status == rules.SUBMITTED, Model.owner_id.is_distinct_from(reviewer_id)
    )
    if unit_ids is not None:
        waiting = waiting.where(Model.unit_id.in_(unit_ids))
    count = await session.scalar(select(func.count()).select_from(waiting.subquery()))
    query = waiting.options(
        selectinload(Model.targets), selectinload(Model.field), selectinload(Model.campaign)
    ).order_by(Model.submitted_at, Model.id)
    if after is not None and after.submitted_at is not None:
        query = query.where(
            (Model.submitted_at > after.submitted_at)
            | ((Model.submitted_at == after.submitted_at) & (Model.id > after.id))
        )
    return count or 0, await session.scalar(query.limit(1))


async def decide_model(
    session: AsyncSession,
    *,
    model_id: int,
    status: str,
    reviewer_id: int,
    note: str | None,
    now: datetime,
) -> bool:
    """Apply a review decision unless someone decided first. False when too late."""
    rules.check_transition(rules.SUBMITTED, status)
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.status == rules.SUBMITTED)
        .values(
            status=status,
            reviewed_by=reviewer_id,
            reviewed_at=now,
            review_note=note,
            updated_at=now,
        )
    )
    return result.rowcount == 1


async def root_units_of(session: AsyncSession, *, member_id: int) -> Sequence[Unit]:
    """The units a person coordinates directly (their sub-units come with them)."""
    result = await session.scalars(
        select(Unit)
        .join(Membership, Membership.unit_id == Unit.id)
        .where(Membership.member_id == member_id, Membership.role == rules.ROLE_COORDINATOR)
        .order_by(Unit.name)
    )
    return result.all()


async def completed_models(
    session: AsyncSession, *, unit_ids: set[int] | None, evaluator_id: int, limit: int = 20
) -> Sequence[Model]:
    query = (
        select(Model)
        .where(
            Model.status == rules.COMPLETED,
            Model.owner_id.is_distinct_from(evaluator_id),
        )
        .order_by(Model.updated_at, Model.id)
        .limit(limit)
    )
    if unit_ids is not None:
        query = query.where(Model.unit_id.in_(unit_ids))
    return (await session.scalars(query)).all()


async def staff_members(session: AsyncSession) -> Sequence[Member]:
    """Admins and coordinators: the people who receive digests."""
    coordinators = select(Membership.member_id).where(Membership.role == rules.ROLE_COORDINATOR)
    result = await session.scalars(
        select(Member)
        .where((Member.is_admin.is_(True)) | (Member.id.in_(coordinators)))
        .order_by(Member.id)
    )
    return result.all()


async def submitted_since(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime
) -> tuple[int, int]:
    """Registrations waiting for review: (new since the moment, all)."""
    waiting = select(Model).where(Model.status == rules.SUBMITTED)
    if unit_ids is not None:
        waiting = waiting.where(Model.unit_id.in_(unit_ids))
    total = await session.scalar(select(func.count()).select_from(waiting.subquery()))
    new = await session.scalar(
        select(func.count()).select_from(waiting.where(Model.submitted_at > since).subquery())
    )
    return new or 0, total or 0


async def reports_since(
    session: AsyncSession, *, unit_ids: set[int] | None, since: datetime
) -> int:
    query = select(func.count()).select_from(Report).join(Model, Model.id == Report.model_id)
    query = query.where(Report.submitted_at > since)
    if unit_ids is not None:
        query = query.where(Model.unit_id.in_(unit_ids))
    return await session.scalar(query) or 0


async def unreachable_members(session: AsyncSession, *, unit_ids: set[int] | None) -> Sequence[str]:
    """Names of people in the units who blocked the bot."""
    query = (
        select(Member.full_name)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.unreachable_at.is_not(None))
        .distinct()
    )
    if unit_ids is not None:
        query = query.join(Membership, Membership.member_id == Member.id).where(
            Membership.unit_id.in_(unit_ids)
        )
    return [name or "" for name in (await session.scalars(query)).all()]


async def audit_entries(
    session: AsyncSession, *, action_prefix: str | None = None, limit: int = 500
) -> Sequence[tuple[AuditEntry, str | None]]:
    """The newest audit entries with the actor's name, optionally of one kind of action."""
    query = (
        select(AuditEntry, Member.full_name)
        .outerjoin(Member, Member.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return [(entry, name) for entry, name in (await session.execute(query)).all()]


async def advance_status(
    session: AsyncSession, *, model_id: int, old: str, new: str, now: datetime
) -> bool:
    """Move a model from one status to the next unless someone moved it first."""
    rules.check_transition(old, new)
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.status == old)
        .values(status=new, updated_at=now)
    )
    return result.rowcount == 1


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Queue many messages at once; a key already queued (by an earlier sweep or another
    replica a moment ago) is skipped by the database. Returns how many were new."""
    if not rows:
        return 0
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    added = 0
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        result = await session.execute(
            dialect_insert(OutboxMessage)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxMessage.id)
        )
        added += len(result.all())
    return added


async def recent_keys(session: AsyncSession, *, prefix: str, since: datetime) -> set[str]:
    """Outbox keys with a prefix queued since a moment: what a sweep need not queue again."""
    result = await session.scalars(
        select(OutboxMessage.key).where(
            OutboxMessage.key.startswith(prefix, autoescape=True), OutboxMessage.created_at >= since
        )
    )
    return set(result.all())


async def registration_campaign(session: AsyncSession, *, today: date) -> Campaign | None:
    """The campaign taking registrations today (its window, or else its whole period)."""
    opens = func.coalesce(Campaign.registration_opens_on, Campaign.starts_on)
    closes = func.coalesce(Campaign.registration_closes_on, Campaign.ends_on)
    return await session.scalar(
        select(Campaign)
        .where(opens <= today, closes >= today)
        .order_by(Campaign.starts_on.desc(), Campaign.id.desc())
        .limit(1)
    )


async def proposed_models(session: AsyncSession, *, limit: int = 20) -> Sequence[Model]:
    """Evaluated models a coordinator proposed for commendation, oldest evaluation first."""
    from storage.models import Evaluation

    result = await session.scalars(
        select(Model)
        .join(Evaluation, Evaluation.model_id == Model.id)
        .where(Evaluation.proposed.is_(True))
        .order_by(Evaluation.evaluated_at, Model.id)
        .limit(limit)
    )
    return result.all()
