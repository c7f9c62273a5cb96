"""Keeping personal data no longer than needed (Decree 13/2023/NĐ-CP): what the daily sweep
deletes once `DVK_RETENTION_DAYS` have passed (bot/schedules.py `sweep_retention`). The
movement's figures do not change: nobody forgotten here has registered or reported anything,
and messages keep their rows and keys (so nothing is sent twice), only not their text.
Keyword-only; never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.inbox import InboxUpdate
from storage.models import (
    Conversation,
    Identity,
    JoinRequest,
    Member,
    Membership,
    Model,
    OutboxMessage,
    Report,
)

# Messages whose text may go: delivered, or settled without being delivered.
SETTLED = (outbox.SENT, outbox.FAILED, outbox.UNREACHABLE, outbox.EXPIRED)


@dataclass(frozen=True)
class Swept:
    people: int = 0
    payloads: int = 0
    drafts: int = 0


async def sweep(session: AsyncSession, *, before: datetime) -> Swept:
    """Everything the retention period lets go of, for what happened before `before`."""
    people = await forget_unjoined(session, before=before)
    return Swept(
        people=people,
        payloads=await clear_old_payloads(session, before=before),
        drafts=await drop_old_drafts(session, before=before),
    )


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
    from storage.linking import DeliveryChannel, LinkCode
    from storage.records.consents import Consent
    from storage.records.menus import ChannelMenu
    from storage.records.uploads import UploadToken

    ids = list(await session.scalars(select(Member.id).where(_unjoined(before))))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        requests = list(
            await session.scalars(select(JoinRequest.id).where(JoinRequest.member_id.in_(chunk)))
        )
        identities = select(Identity.id).where(Identity.member_id.in_(chunk))
        seen = (
            await session.execute(
                select(Identity.channel, Identity.external_id).where(Identity.member_id.in_(chunk))
            )
        ).all()
        for channel, person in seen:
            await session.execute(
                delete(InboxUpdate).where(
                    InboxUpdate.channel == channel,
                    InboxUpdate.person == person,
                    InboxUpdate.status == "handled",
                )
            )
        await session.execute(delete(ChannelMenu).where(ChannelMenu.identity_id.in_(identities)))
        for table in (UploadToken, LinkCode, DeliveryChannel, Conversation, Consent, Identity):
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
            .values(full_name=None, category=None, phone=None)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


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


async def drop_old_drafts(session: AsyncSession, *, before: datetime) -> int:
    """Forms left unanswered since before `before` (their answers may hold a phone number)."""
    result = await session.execute(delete(Conversation).where(Conversation.expires_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
