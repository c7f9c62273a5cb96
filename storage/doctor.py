"""`dvk doctor`: what earlier faults left behind in the data, found and (with --fix) repaired.

- Registrations left "submitted" without their code or without the audit entry of their
  submission: a failed write's savepoint still committed on SQLite, so the model was stored
  half-way and never reached the coordinators properly. Each goes back to its owner's drafts
  (status draft, with its code), and the owner is told how to send it again.
- Pending outbox messages of people no channel reaches: settled as unreachable, never sent.
- Invites still open though their unit takes nobody new, or though their maker may no longer
  invite into it (no longer an admin, nor coordinating the unit or one above it): revoked.

Every repair leaves the record it fixed out of the next search, so a second run finds nothing.
None of these functions commit: the caller's unit of work does, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, rules
from storage.models import AuditEntry, Invite, Model
from storage.records.audit import add_audit_entry
from storage.records.invites import invites_of_inactive_units, orphaned_invites, revoke_invite
from storage.records.models import assign_model_code

SUBMISSIONS = ("model.submitted", "model.resubmitted")


@dataclass
class Findings:
    registrations: list[Model]
    messages: int
    invites: list[Invite]

    def counts(self) -> dict[str, int]:
        return {
            "registrations_to_draft": len(self.registrations),
            "owners_told": len(self.registrations),
            "messages_settled": self.messages,
            "invites_revoked": len(self.invites),
        }


async def unsent_registrations(session: AsyncSession) -> list[Model]:
    """Models "submitted" by someone in the chat without a code or without the audit entry of
    their submission. Imported paper records have no owner and are not audited: left alone."""
    audited = select(AuditEntry.id).where(
        AuditEntry.object_type == "model",
        AuditEntry.object_id == Model.id,
        AuditEntry.action.in_(SUBMISSIONS),
    )
    result = await session.scalars(
        select(Model)
        .where(
            Model.status == rules.SUBMITTED,
            Model.owner_id.is_not(None),
            or_(Model.code.is_(None), ~audited.exists()),
        )
        .order_by(Model.id)
    )
    return list(result.all())


async def examine(session: AsyncSession) -> Findings:
    stray = {invite.id: invite for invite in await orphaned_invites(session)}
    stray |= {invite.id: invite for invite in await invites_of_inactive_units(session)}
    return Findings(
        registrations=await unsent_registrations(session),
        messages=await outbox.pending_unreachable(session),
        invites=[stray[key] for key in sorted(stray)],
    )


async def repair(
    session: AsyncSession,
    found: Findings,
    *,
    now: datetime,
    not_before: datetime,
    notice: Callable[[Model], dict[str, Any]],
) -> dict[str, int]:
    """Repair what `examine` found; returns the counts of what was repaired."""
    # Settled before the owners' notices are queued: a notice to someone unreachable is the
    # sender's to settle, and the counts stay those `examine` reported.
    messages = await outbox.settle_unreachable(session)
    drafts = 0
    for model in found.registrations:
        moved = await session.execute(
            update(Model)
            .where(Model.id == model.id, Model.status == rules.SUBMITTED)
            .values(status=rules.DRAFT, updated_at=now)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue
        drafts += 1
        missing_code = model.code is None
        if missing_code:
            await assign_model_code(session, model=model)
        await add_audit_entry(
            session,
            at=now,
            actor_id=None,
            action="model.back_to_draft",
            object_type="model",
            object_id=model.id,
            details={"title": model.title, "code_was_missing": missing_code},
        )
        assert model.owner_id is not None
        await outbox.enqueue(
            session,
            key=f"back-to-draft:{model.id}:{now.isoformat()}",
            member_id=model.owner_id,
            payload=notice(model),
            now=now,
            not_before=not_before,
            priority=3,
        )
    revoked = 0
    for invite in found.invites:
        if await revoke_invite(session, invite_id=invite.id):
            revoked += 1
            await add_audit_entry(
                session,
                at=now,
                actor_id=None,
                action="invite.revoked",
                object_type="invite",
                object_id=invite.id,
                details={"code": invite.code, "unit_id": invite.unit_id, "reason": "doctor"},
            )
    return {
        "registrations_to_draft": drafts,
        "owners_told": drafts,
        "messages_settled": messages,
        "invites_revoked": revoked,
    }


def describe(found: Findings) -> list[str]:
    """One line per record to repair, for the person running the command."""
    lines = []
    for model in found.registrations:
        missing = "code" if model.code is None else "audit entry"
        lines.append(f"registration {model.id} ({model.title}): submitted, no {missing}")
    if found.messages:
        lines.append(f"{found.messages} pending messages for people who blocked the bot")
    for invite in found.invites:
        lines.append(f"invite {invite.code} (unit {invite.unit_id}): may no longer admit anyone")
    return lines
