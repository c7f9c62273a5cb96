"""The reminder sweep when one member's reminders fail: the batch they were queued in is tried
again one person at a time, the others still get theirs, and the failed member's reminder and
nudge (nothing of which was kept) come at the next sweep."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.telegram.outbox import flush_outbox
from bot.telegram.schedule import run_sweep
from handlers.member import reminders
from storage.models import Conversation, Identity, Model, OutboxMessage
from tests.test_registration import MEMBER_ID, join, register_quickly
from tests.test_reminders import HANOI, member  # noqa: F401 - a fixture

OTHER_ID = 4343
BEFORE_DUE = datetime(2026, 12, 22, 8, 0, 30, tzinfo=HANOI).astimezone(UTC)


async def member_id_of(db, telegram_id: int) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(telegram_id))
        )


async def outbox_keys(db) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(OutboxMessage.key))).all())


def texts_to(api, chat_id: int, since: int) -> list[str]:
    return [
        call.params["text"].splitlines()[0]
        for call in api.calls[since:]
        if call.method == "sendMessage" and int(call.params["chat_id"]) == chat_id
    ]


async def test_one_failing_member_leaves_the_others_and_is_retried(
    member,  # noqa: F811
    chat,
    app,
    api,
    clock,
    db,
    monkeypatch,
    caplog,
):
    other = await join(chat, OTHER_ID, "Trần Thị Bình")
    await register_quickly(other, "Vận động xây nhà đại đoàn kết")
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved"))
    # They also leave a registration unfinished: a nudge is due with their reminder.
    await other.send("/dangky")
    await other.click("Cá nhân")
    failing = await member_id_of(db, OTHER_ID)
    member_id = await member_id_of(db, MEMBER_ID)
    queue_for = reminders.queue_for

    batches = []

    async def broken_for_one(session, config, texts, due, now):
        batches.append(sorted(member.member_id for member in due))
        counts = await queue_for(session, config, texts, due, now)
        if failing in batches[-1]:
            raise RuntimeError("outbox unavailable")
        return counts

    monkeypatch.setattr(reminders, "queue_for", broken_for_one)
    clock.now = BEFORE_DUE
    with caplog.at_level(logging.ERROR):
        assert await run_sweep(app) == (1, 0)
    assert "outbox unavailable" in caplog.text
    # Both in one unit of work first, then each alone.
    assert batches == [sorted([failing, member_id]), [member_id], [failing]] or batches == [
        sorted([failing, member_id]),
        [failing],
        [member_id],
    ]
    # What their unit had queued and claimed was rolled back with it.
    theirs = (f"remind:before:{failing}:", f"nudge:{failing}:")
    assert not [key for key in await outbox_keys(db) if key.startswith(theirs)]
    async with db.session() as session:
        conv = await session.get(Conversation, failing)
        assert conv.nudged_at is None
    before = len(api.calls)
    await flush_outbox(app)
    assert [text[:10] for text in texts_to(api, MEMBER_ID, before)] == ["⏰ Nhắc nhở"]
    assert texts_to(api, OTHER_ID, before) == []

    # The next sweep tries again, and only them.
    monkeypatch.setattr(reminders, "queue_for", queue_for)
    clock.advance(minutes=5)
    assert await run_sweep(app) == (1, 1)
    before = len(api.calls)
    await flush_outbox(app)
    assert texts_to(api, MEMBER_ID, before) == []
    assert [text[:10] for text in texts_to(api, OTHER_ID, before)] == [
        "⏰ Nhắc nhở",
        "Bạn còn ph",
    ]
    clock.advance(minutes=5)
    assert await run_sweep(app) == (0, 0)
    keys = await outbox_keys(db)
    assert len([k for k in keys if k.startswith("remind:")]) == 2
    assert len([k for k in keys if k.startswith("nudge:")]) == 1
