"""Keeping personal data no longer than needed (Decree 13/2023/NĐ-CP): what the daily sweep
deletes once `DVK_RETENTION_DAYS` have passed (bot/schedules.py `sweep_retention`). The
movement's figures do not change: nobody forgotten here has registered or reported anything,
and messages keep their rows and keys (so nothing is sent twice), only not their text.
Keyword-only; never commit."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Text,
    and_,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from language.vn import format_phone
from storage import outbox, rules
from storage.conversation_state import photo_keys
from storage.inbox import InboxUpdate
from storage.models import (
    Base,
    Commendation,
    Conversation,
    Identity,
    JoinRequest,
    Member,
    Membership,
    Model,
    OutboxMessage,
    Report,
    ReportPhoto,
)

# Messages whose text may go: delivered, or settled without being delivered.
SETTLED = (outbox.SENT, outbox.FAILED, outbox.UNREACHABLE, outbox.EXPIRED)


@dataclass(frozen=True)
class Swept:
    people: int = 0
    payloads: int = 0
    drafts: int = 0
    # Photo files of the dropped drafts that nothing refers to any more: for the caller to
    # delete once the sweep has committed.
    media_keys: tuple[str, ...] = ()


async def sweep(session: AsyncSession, *, before: datetime) -> Swept:
    """Everything the retention period lets go of, for what happened before `before`."""
    people = await forget_unjoined(session, before=before)
    payloads = await clear_old_payloads(session, before=before)
    drafts, media = await drop_old_drafts(session, before=before)
    return Swept(people=people, payloads=payloads, drafts=drafts, media_keys=tuple(media))


def _unjoined(before: datetime) -> ColumnElement[bool]:
    """People the retention period is over for: in no unit, no admin, nothing registered or
    reported, and every join request of theirs refused before `before` or waiting since before
    it (and at least one of them)."""
    recent = or_(
        JoinRequest.status.notin_(("refused", "pending")),
        and_(JoinRequest.status == "refused", JoinRequest.decided_at >= before),
        and_(JoinRequest.status == "pending", JoinRequest.created_at >= before),
    )
    return and_(
        Member.is_admin.is_(False),
        exists().where(JoinRequest.member_id == Member.id),
        ~exists().where(JoinRequest.member_id == Member.id, recent),
        ~exists().where(Membership.member_id == Member.id),
        ~exists().where(Model.owner_id == Member.id),
        ~exists().where(Report.member_id == Member.id),
    )


async def forget_unjoined(session: AsyncSession, *, before: datetime) -> int:
    """Erase those people: their name, category and phone; their channel identities (with what
    hangs on them), open forms, consents and join requests; the messages queued to them, and
    the text of every message about their requests (a coordinator's notice names them and may
    give their phone). The member row stays as an id without a name, which the audit log's
    entries of their request refer to."""
    from storage.records.consents import Consent

    ids = list(await session.scalars(select(Member.id).where(_unjoined(before))))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        requests = list(
            await session.scalars(select(JoinRequest.id).where(JoinRequest.member_id.in_(chunk)))
        )
        await forget_channels(session, member_ids=chunk)
        for table in (Conversation, Consent):
            await session.execute(delete(table).where(table.member_id.in_(chunk)))
        # Their messages, and the reviewers' notices of their requests: not sent yet, dropped
        # (the request is gone); sent, their text emptied.
        about = or_(
            OutboxMessage.member_id.in_(chunk),
            *(OutboxMessage.key.like(f"join-request:{r}:%") for r in requests),
        )
        await session.execute(
            delete(OutboxMessage).where(about, OutboxMessage.status == outbox.PENDING)
        )
        await session.execute(
            update(OutboxMessage)
            .where(about)
            .values(payload={})
            .execution_options(synchronize_session=False)
        )
        await session.execute(delete(JoinRequest).where(JoinRequest.member_id.in_(chunk)))
        await session.execute(
            update(Member)
            .where(Member.id.in_(chunk))
            .values(full_name=None, name_folded=None, category=None, phone=None)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


async def forget_channels(
    session: AsyncSession, *, member_ids: list[int], asking: bool = False
) -> None:
    """How the people are reached and known on each channel: their identities and what hangs on
    them (menus, upload links, link codes, where they were last seen), and the updates they sent
    that were handled. With `asking`, the update being handled now is theirs (the oldest pending
    one of each identity, since a person's updates are handled in order): its text goes too."""
    from storage.linking import DeliveryChannel, LinkCode
    from storage.records.menus import ChannelMenu
    from storage.records.uploads import UploadToken

    seen = (
        await session.execute(
            select(Identity.channel, Identity.external_id).where(Identity.member_id.in_(member_ids))
        )
    ).all()
    for channel, person in seen:
        theirs = and_(InboxUpdate.channel == channel, InboxUpdate.person == person)
        await session.execute(
            delete(InboxUpdate).where(theirs, InboxUpdate.status.in_(("handled", "replying")))
        )
        await session.execute(
            update(InboxUpdate)
            .where(theirs, InboxUpdate.status == "failed")
            .values(payload={})
            .execution_options(synchronize_session=False)
        )
        if asking:
            pending = and_(theirs, InboxUpdate.status == "pending")
            current = select(func.min(InboxUpdate.id)).where(pending)
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.id == current.scalar_subquery())
                .values(payload={})
                .execution_options(synchronize_session=False)
            )
    identities = select(Identity.id).where(Identity.member_id.in_(member_ids))
    await session.execute(delete(ChannelMenu).where(ChannelMenu.identity_id.in_(identities)))
    for table in (UploadToken, LinkCode, DeliveryChannel, Identity):
        await session.execute(
            delete(table)
            .where(table.member_id.in_(member_ids))
            .execution_options(synchronize_session=False)
        )


async def clear_old_payloads(session: AsyncSession, *, before: datetime) -> int:
    """Messages sent or settled before `before`: their text goes, the row and its key stay."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status.in_(SETTLED),
            func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < before,
            # Not emptied yet: "{}" is what an emptied payload reads as.
            func.length(cast(OutboxMessage.payload, String)) > 2,
        )
        .values(payload={})
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def drop_old_drafts(session: AsyncSession, *, before: datetime) -> tuple[int, list[str]]:
    """Forms left unanswered since before `before` (their answers may hold a phone number, and
    the photos of a report being written). (How many went, the photo files now unused.)"""
    old = Conversation.expires_at < before
    keys: set[str] = set()
    for state in await session.scalars(select(Conversation.state).where(old)):
        keys |= photo_keys(state)
    result = await session.execute(delete(Conversation).where(old))
    return int(getattr(result, "rowcount", 0) or 0), await unused_media(session, keys)


async def unused_media(session: AsyncSession, keys: set[str]) -> list[str]:
    """Of these media store keys, those no report and no open form refers to: the store keeps
    the same bytes once, so a picture someone else sent too stays."""
    if not keys:
        return []
    used = set(
        await session.scalars(select(ReportPhoto.media_key).where(ReportPhoto.media_key.in_(keys)))
    )
    state = cast(Conversation.state, String)
    for key in keys - used:
        if await session.scalar(select(exists().where(state.contains(key, autoescape=True)))):
            used.add(key)
    return sorted(keys - used)


# --- erasure on request (/xoadulieu) ------------------------------------------------------------

# Columns that keep a name on purpose: a decided commendation is an official record.
OFFICIAL = {("commendations", "person_name")}


@dataclass(frozen=True)
class Erased:
    # Decided commendations of theirs that keep their name (official records).
    commendations: int
    # Photo files no row refers to any more: for the caller to delete once this has committed.
    media_keys: list[str]


async def erase_person(
    session: AsyncSession, *, member_id: int, now: datetime, left: str, asking: bool = False
) -> Erased:
    """Withdraw a person's consent and erase their personal data (Decree 13/2023's right to
    deletion), in the caller's unit of work. Their name, category and phone go; so do their
    identities on every channel (with link codes, menus, upload links), their open form (unless
    `asking`: the form that asked is ended by its caller), their join requests, the photos of
    their reports, the messages queued to them and the text of those sent to them, and their
    coordinator roles. The models, reports and unit memberships stay, as the records of an
    anonymous member, so the movement's figures do not change; decided commendations of their
    own models keep the name (`Commendation.person_name`). Anything else that mentions the name
    or the phone in a JSON or free-text column (audit details, messages to others, forms, the
    inbox) has it replaced by `left`. Consents are kept, marked withdrawn: they show the
    processing before was agreed to."""
    from storage.records.consents import Consent

    name, phone = (
        await session.execute(select(Member.full_name, Member.phone).where(Member.id == member_id))
    ).one()
    # The phone as stored, and as messages to others write it ("0912 345 678").
    words = [word for word in (name, phone, phone and format_phone(phone)) if word]
    kept = await session.execute(
        update(Commendation)
        .where(
            Commendation.status == rules.DECIDED,
            Commendation.decision_number.is_not(None),
            Commendation.model_id.in_(
                select(Model.id).where(
                    Model.owner_id == member_id, Model.kind == rules.KIND_INDIVIDUAL
                )
            ),
        )
        .values(person_name=name)
        .execution_options(synchronize_session=False)
    )
    media = await _drop_photos(session, member_id=member_id)
    await forget_channels(session, member_ids=[member_id], asking=asking)
    if not asking:
        await session.execute(delete(Conversation).where(Conversation.member_id == member_id))
    await session.execute(
        update(Consent)
        .where(Consent.member_id == member_id, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(JoinRequest).where(JoinRequest.member_id == member_id))
    await session.execute(
        delete(Membership).where(
            Membership.member_id == member_id, Membership.role == rules.ROLE_COORDINATOR
        )
    )
    # Nothing more goes to them; what went keeps its row and key, not its text.
    to_them = OutboxMessage.member_id == member_id
    await session.execute(
        update(OutboxMessage)
        .where(to_them, OutboxMessage.status == outbox.PENDING)
        .values(status=outbox.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(OutboxMessage)
        .where(to_them)
        .values(payload={})
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(
            full_name=None,
            name_folded=None,
            category=None,
            phone=None,
            is_admin=False,
            reminder_hour=None,
            paused_until=None,
            digest_mode="off",
        )
        .execution_options(synchronize_session=False)
    )
    # What the session holds of them is not what the database has now: never written back.
    for obj in list(session):
        if (isinstance(obj, Member) and obj.id == member_id) or (
            isinstance(obj, Identity) and obj.member_id == member_id
        ):
            session.expunge(obj)
    await scrub(session, words=words, replacement=left)
    return Erased(int(getattr(kept, "rowcount", 0) or 0), await unused_media(session, media))


async def _drop_photos(session: AsyncSession, *, member_id: int) -> set[str]:
    """The photos of their reports go (a face is personal data; the report's figures stay)."""
    theirs = select(Report.id).where(Report.member_id == member_id)
    keys = {
        str(key)
        for key in await session.scalars(
            select(ReportPhoto.media_key).where(
                ReportPhoto.report_id.in_(theirs), ReportPhoto.media_key.is_not(None)
            )
        )
    }
    # And those of a report they were writing (the form goes with the rest of them).
    keys |= photo_keys(
        await session.scalar(select(Conversation.state).where(Conversation.member_id == member_id))
    )
    await session.execute(
        delete(ReportPhoto)
        .where(ReportPhoto.report_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )
    return keys


def _mentions(words: list[str]) -> re.Pattern[str]:
    """The words as whole words ("An" is not in "Anh")."""
    return re.compile("|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in words))


def _replaced(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [_replaced(item, pattern, replacement) for item in value]
    if isinstance(value, dict):
        return {key: _replaced(item, pattern, replacement) for key, item in value.items()}
    return value


async def scrub(session: AsyncSession, *, words: list[str], replacement: str) -> int:
    """Replace the words wherever a JSON or free-text column of any table holds them (found in
    SQL, changed here): the rows changed. Names of records (units, titles) are not touched."""
    if not words:
        return 0
    pattern = _mentions(words)
    changed = 0
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            is_json = isinstance(column.type, JSON)
            if (table.name, column.name) in OFFICIAL or not (
                is_json or isinstance(column.type, Text)
            ):
                continue
            # JSON is stored with non-ASCII letters escaped ("Nguy\\u1ec5n").
            needles = {n for w in words for n in (w, json.dumps(w)[1:-1] if is_json else w)}
            found = or_(*(cast(column, String).contains(n, autoescape=True) for n in needles))
            keys = list(table.primary_key.columns)
            for row in (await session.execute(select(*keys, column).where(found))).all():
                value = _replaced(row[-1], pattern, replacement)
                if value == row[-1]:
                    continue
                where = and_(*(key == row[n] for n, key in enumerate(keys)))
                await session.execute(update(table).where(where).values({column.name: value}))
                changed += 1
    return changed
