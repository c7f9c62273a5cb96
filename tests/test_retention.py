"""Issue 14, "Keep no longer than needed": every hour the sweep lets go of what
DVK_RETENTION_DAYS (90) is over for. Someone whose join request was refused, or never answered,
90 days ago is forgotten: their name and phone are found in no table afterwards, JSON included,
and the movement's figures are the same. Messages keep their rows and keys but not their text;
forms left unanswered that long are dropped. What is more recent is kept."""

from __future__ import annotations

from sqlalchemy import select

from bot import schedules
from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage import outbox
from storage.models import Base, Conversation, Identity, JoinRequest, Member, OutboxMessage
from storage.stats import organisation_stats
from tests.conftest import ADMIN_ID

BINH, CUONG, DUNG = 5150, 5151, 5152
PHONE = "0912345678"


async def ask_to_join(chat, user_id: int, name: str, phone: str | None = None):
    """Ask to join Chi bộ Văn phòng without an invite (the notice agreed to by the client)."""
    guest = chat(user_id, name.split()[-1])
    assert (await guest.send("/start"))[-1] == "Họ và tên của bạn?"
    await guest.send(name)
    await guest.click("Viên chức")
    await guest.send("Văn phòng")
    await guest.click("Chi bộ Văn phòng")
    if phone:
        await guest.send(phone)
    else:
        await guest.click("Bỏ qua »")
    replies = await guest.click("✅ Gửi yêu cầu")
    assert replies[0].startswith("Đã gửi yêu cầu tham gia Chi bộ Văn phòng.")
    return guest


async def everything(db) -> str:
    """Every row of every table, as one text to search."""
    rows = []
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in await conn.execute(select(table))]
    return "\n".join(rows)


async def figures(db):
    async with db.session() as session:
        return await organisation_stats(session)


async def test_a_refused_or_unanswered_request_is_forgotten_after_90_days(db, clock, chat, app):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    await ask_to_join(chat, BINH, "Trần Thị Bình", PHONE)
    await ask_to_join(chat, CUONG, "Lê Văn Cường")  # never answered
    async with db.session() as session:
        binh_request = await session.scalar(select(JoinRequest).order_by(JoinRequest.id))
    await admin.send(f"/tuchoi {binh_request.id}")
    assert await flush_outbox(app) >= 2  # the admin's notices, Bình's refusal
    before = await figures(db)

    clock.advance(days=91)
    await ask_to_join(chat, DUNG, "Phạm Thị Dung", "0987654321")  # asked just now: kept
    text = await everything(db)
    assert "Trần Thị Bình" in text and PHONE in text and "Lê Văn Cường" in text

    async with db.session() as session:
        forgotten = set(
            await session.scalars(
                select(Identity.member_id).where(Identity.external_id.in_([str(BINH), str(CUONG)]))
            )
        )
    swept = await schedules.sweep_retention(admin.app.bot_data["core"])
    assert swept.people == 2

    text = await everything(db)
    # Their names folded for searching (members.name_folded) go too.
    shown = "0912 345 678"
    for gone in ("Trần Thị Bình", PHONE, shown, "Lê Văn Cường", "Bình", "Cường", "tran thi binh"):
        assert gone not in text, gone
    assert "Phạm Thị Dung" in text and "0987654321" in text
    async with db.session() as session:
        left = (await session.scalars(select(Member).where(Member.id.in_(forgotten)))).all()
        identities = {i.external_id for i in (await session.scalars(select(Identity))).all()}
        requests = (await session.scalars(select(JoinRequest))).all()
    # Their rows stay as ids without a name: the audit log's entries refer to them.
    assert [(m.full_name, m.phone, m.category) for m in left] == [(None, None, None)] * 2
    assert str(BINH) not in identities and str(CUONG) not in identities
    assert str(DUNG) in identities
    assert [r.status for r in requests] == ["pending"]  # Dung's
    assert await figures(db) == before
    # A second sweep finds nothing more.
    assert (await schedules.sweep_retention(admin.app.bot_data["core"])).people == 0


async def test_old_messages_lose_their_text_and_old_forms_are_dropped(db, clock, chat, app):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
        member = await session.scalar(select(Member).where(Member.full_name == "Nguyễn Văn An"))
        await outbox.enqueue(
            session, key="old", member_id=member.id, payload={"text": "Số 0912345678"}, now=clock()
        )
        await outbox.enqueue(
            session, key="waiting", member_id=member.id, payload={"text": "chờ"}, now=clock()
        )
        old = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == "old"))
        old.status, old.sent_at = outbox.SENT, clock()
    guest = chat(BINH, "Bình")
    await guest.send("/start")
    await guest.send("Trần Thị Bình")  # a form left half-answered (a day to answer it)
    clock.advance(days=92)
    async with db.session() as session:
        await outbox.enqueue(
            session, key="new", member_id=member.id, payload={"text": "mới"}, now=clock()
        )
        new = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == "new"))
        new.status, new.sent_at = outbox.SENT, clock()
    swept = await schedules.sweep_retention(app.bot_data["core"])
    assert (swept.payloads, swept.drafts) == (1, 1)
    async with db.session() as session:
        rows = {m.key: m for m in (await session.scalars(select(OutboxMessage))).all()}
        drafts = (await session.scalars(select(Conversation))).all()
    # The row and its key stay, so nothing is sent twice; a message not yet sent keeps its text.
    assert (rows["old"].payload, rows["new"].payload) == ({}, {"text": "mới"})
    assert rows["waiting"].payload == {"text": "chờ"}
    assert drafts == []
    assert (await schedules.sweep_retention(app.bot_data["core"])).payloads == 0
