"""`dvk doctor` finds what earlier faults left in the data and `dvk doctor --fix` repairs it, once:
registrations stored "submitted" half-way go back to their owners' drafts (and the owners are
told how to send them again), messages for people who blocked the bot are settled, and invites
that should no longer admit anyone are revoked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.cli import main
from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage import outbox
from storage.models import AuditEntry, Identity, Invite, Membership, Model, OutboxMessage, Unit
from storage.records.invites import create_invite
from storage.records.people import find_identity, get_or_create_identity
from storage.records.units import unit_by_code
from tests.conftest import make_coordinator
from tests.test_registration import MEMBER_ID, join, register_quickly

BLOCKED = 6200
COORDINATOR = 6100
TOP_COORDINATOR = 6300


@pytest.fixture
async def broken(db, clock, chat, app):
    """Each kind of damage, set up directly in the database, beside records that are fine."""
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    member = await join(chat)
    for title in ("Mô hình đã gửi đúng", "Mô hình thiếu mã số", "Mô hình thiếu nhật ký"):
        await register_quickly(member, title)
    await flush_outbox(app)
    async with db.session() as session:
        ids = dict((await session.execute(select(Model.title, Model.id))).all())
        # Left by the savepoint fault: one without its code, one without its audit entry.
        await session.execute(
            update(Model).where(Model.id == ids["Mô hình thiếu mã số"]).values(code=None)
        )
        await session.execute(
            delete(AuditEntry).where(
                AuditEntry.action == "model.submitted",
                AuditEntry.object_id == ids["Mô hình thiếu nhật ký"],
            )
        )
        # A paper record: no owner, no audit entry, and not the doctor's business.
        imported = Model(
            code="GIAY-1",
            campaign_id=(await session.get(Model, ids["Mô hình đã gửi đúng"])).campaign_id,
            owner_id=None,
            unit_id=(await unit_by_code(session, code="CB-VP")).id,
            kind="individual",
            title="Hồ sơ giấy",
            title_key="ho so giay",
            field_id=(await session.get(Model, ids["Mô hình đã gửi đúng"])).field_id,
            approach="",
            objectives="",
            starts_on=clock().date(),
            ends_on=clock().date(),
            status="submitted",
            extra={},
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(imported)

        # Someone who blocked the bot, with messages still pending from before the fix.
        blocked = await get_or_create_identity(
            session,
            channel="telegram",
            external_id=str(BLOCKED),
            chat_id=str(BLOCKED),
            display_name=None,
            now=clock(),
        )
        blocked.unreachable_at = clock()
        for n in (1, 2):
            await outbox.enqueue(
                session,
                key=f"old:{n}",
                member_id=blocked.member_id,
                payload={"text": "cũ"},
                now=clock(),
            )
        member_id = (
            await find_identity(session, channel="telegram", external_id=str(MEMBER_ID))
        ).member_id
        await outbox.enqueue(
            session, key="fine", member_id=member_id, payload={"text": "vẫn gửi"}, now=clock()
        )

    # Invites: a removed coordinator's, an inactive unit's, and three that stay.
    units = {}
    async with db.session() as session:
        for code in ("DUK", "CB-VP", "CB-BV"):
            units[code] = (await unit_by_code(session, code=code)).id
    await make_coordinator(db, unit_id=units["CB-VP"], telegram_id=COORDINATOR, now=clock())
    await make_coordinator(db, unit_id=units["DUK"], telegram_id=TOP_COORDINATOR, now=clock())
    async with db.session() as session:

        async def made(by: int | None, unit: str, code: str) -> None:
            invite = await create_invite(
                session,
                unit_id=units[unit],
                role="member",
                expires_at=clock() + timedelta(days=30),
                max_uses=50,
                created_by=by,
                now=clock(),
            )
            invite.code = code

        async def member_of(telegram_id: int) -> int:
            identity = await find_identity(
                session, channel="telegram", external_id=str(telegram_id)
            )
            return identity.member_id

        removed = await member_of(COORDINATOR)
        await made(removed, "CB-VP", "REMOVED")
        await made(await member_of(TOP_COORDINATOR), "CB-VP", "FROM-ABOVE")
        await made(None, "CB-BV", "CLOSED-UNIT")
        await made(None, "CB-VP", "COMMAND-LINE")
        # Removed before removal revoked anything; the unit deactivated likewise.
        await session.execute(delete(Membership).where(Membership.member_id == removed))
        await session.execute(update(Unit).where(Unit.id == units["CB-BV"]).values(active=False))
    return member, ids


async def doctor(capsys, *args: str) -> tuple[list[str], str]:
    assert await asyncio.to_thread(main, ["doctor", *args]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return lines[:-1], lines[-1]


@pytest.fixture
def command_line(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)


async def test_doctor_reports_then_repairs_once(
    broken, command_line, capsys, db, app, api, clock, chat
):
    member, ids = broken
    details, counts = await doctor(capsys)
    assert counts == (
        "mode=check registrations_to_draft=2 owners_told=2 messages_settled=2 invites_revoked=2"
    )
    assert details == [
        f"registration {ids['Mô hình thiếu mã số']} (Mô hình thiếu mã số): submitted, no code",
        f"registration {ids['Mô hình thiếu nhật ký']} (Mô hình thiếu nhật ký): submitted, "
        "no audit entry",
        "2 pending messages for people who blocked the bot",
        f"invite REMOVED (unit {(await unit_of(db, 'REMOVED'))}): may no longer admit anyone",
        f"invite CLOSED-UNIT (unit {(await unit_of(db, 'CLOSED-UNIT'))}): may no longer admit "
        "anyone",
    ]
    assert await statuses(db) == {
        "Mô hình đã gửi đúng": "submitted",
        "Mô hình thiếu mã số": "submitted",
        "Mô hình thiếu nhật ký": "submitted",
        "Hồ sơ giấy": "submitted",
    }
    assert await revoked(db) == set()

    _, counts = await doctor(capsys, "--fix")
    assert counts == (
        "mode=fix registrations_to_draft=2 owners_told=2 messages_settled=2 invites_revoked=2"
    )
    assert await statuses(db) == {
        "Mô hình đã gửi đúng": "submitted",
        "Mô hình thiếu mã số": "draft",
        "Mô hình thiếu nhật ký": "draft",
        "Hồ sơ giấy": "submitted",
    }
    async with db.session() as session:
        codes = dict((await session.execute(select(Model.title, Model.code))).all())
        outbox = dict(
            (await session.execute(select(OutboxMessage.key, OutboxMessage.status))).all()
        )
        notices = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.key.startswith("back-to-draft:"))
            )
        ).all()
        back = (
            await session.scalars(
                select(AuditEntry.object_id).where(AuditEntry.action == "model.back_to_draft")
            )
        ).all()
    missing = ids["Mô hình thiếu mã số"]
    assert codes["Mô hình thiếu mã số"] == f"MH{missing}"  # given now, as at registration
    assert (outbox["old:1"], outbox["old:2"], outbox["fine"]) == (
        "unreachable",
        "unreachable",
        "pending",
    )
    assert sorted(back) == sorted([missing, ids["Mô hình thiếu nhật ký"]])
    assert await revoked(db) == {"REMOVED", "CLOSED-UNIT"}
    assert sorted(n.payload["text"] for n in notices) == sorted(
        told_to_send_again(title, ids[title])
        for title in ("Mô hình thiếu mã số", "Mô hình thiếu nhật ký")
    )

    # A second run finds nothing to repair.
    assert await doctor(capsys, "--fix") == (
        [],
        "mode=fix registrations_to_draft=0 owners_told=0 messages_settled=0 invites_revoked=0",
    )

    # The owner is told, and sends the registration again from the message's button.
    async with db.session() as session:
        # The command ran on the real clock; the bot runs on the test's.
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.startswith("back-to-draft:"))
            .values(not_before=clock())
        )
    await flush_outbox(app)
    told = [c for c in api.sent(MEMBER_ID) if c.params["text"].startswith("⚠️ Đăng ký mô hình")]
    assert len(told) == 2
    replies = await member.click("✏️ Sửa và gửi lại")
    assert replies[0].startswith("Gửi lại đăng ký «Mô hình thiếu")
    replies = await member.click("✅ Gửi đăng ký")
    assert replies[0].startswith("✅ Đã gửi lại đăng ký «Mô hình thiếu")
    assert sorted((await statuses(db)).values()).count("submitted") == 3
    _, counts = await doctor(capsys)
    assert counts.endswith(
        "registrations_to_draft=0 owners_told=0 messages_settled=0 invites_revoked=0"
    )
    stranger = chat(7100, "Lạ")
    assert (await stranger.send("/start REMOVED"))[0].startswith("Đường link mời này đã bị thu hồi")
    assert (await stranger.send("/start FROM-ABOVE"))[0].startswith("Xin chào!")


def told_to_send_again(title: str, model_id: int) -> str:
    return (
        f"⚠️ Đăng ký mô hình «{title}» (mã MH{model_id}) của bạn chưa đến được cán bộ phụ trách "
        "do một lỗi của hệ thống, nên đã được chuyển về bản nháp. Hãy gửi lại: gõ "
        f"/suadangky MH{model_id}, kiểm tra các mục rồi chọn «✅ Gửi đăng ký»."
    )


async def unit_of(db, code: str) -> int:
    async with db.session() as session:
        return await session.scalar(select(Invite.unit_id).where(Invite.code == code))


async def statuses(db) -> dict[str, str]:
    async with db.session() as session:
        return dict((await session.execute(select(Model.title, Model.status))).all())


async def revoked(db) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(select(Invite.code).where(Invite.revoked.is_(True))))


async def test_a_person_reachable_elsewhere_keeps_their_messages(db, clock, command_line, capsys):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id="1",
            chat_id="1",
            display_name=None,
            now=clock(),
        )
        identity.unreachable_at = clock()
        session.add(
            Identity(
                member_id=identity.member_id,
                channel="terminal",
                external_id="t1",
                chat_id="t1",
                created_at=clock(),
            )
        )
        await outbox.enqueue(
            session, key="k", member_id=identity.member_id, payload={"text": "x"}, now=clock()
        )
    assert (await doctor(capsys, "--fix"))[1].endswith("messages_settled=0 invites_revoked=0")
    async with db.session() as session:
        assert await session.scalar(select(OutboxMessage.status)) == "pending"
