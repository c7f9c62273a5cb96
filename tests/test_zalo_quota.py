"""Zalo's monthly quota against the fake Zalo API, on the test clock: the month's count lives in
the database (a restart counts on; replies count too), the month turns on the 1st Vietnam time,
the reply reserve holds reminders and broadcasts while replies and outcomes go on, a reminder
held past its day expires unsent, admins are told once at 80% and once at the reserve, a 429
keeps the message, and a person Zalo refuses is listed in /donvi."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.channels import ZALO, Channel, Rates, channels_of
from bot.quota import QuotaKeeper
from bot.sender import Sender
from bot.zalo.api import ZaloApi
from bot.zalo.delivery import zalo_transport
from bot.zalo.runner import ZaloRunner
from handlers.member.reminders import end_of_day
from language.texts import Texts
from storage import outbox, quota
from storage.models import Member, OutboxMessage
from storage.records.people import add_membership, get_or_create_identity
from storage.records.units import add_unit
from tests.conftest import make_coordinator
from tests.fakezalo import TOKEN, FakeZalo
from tests.test_zalo_channel import step

T = Texts("vi")


@pytest.fixture
def zalo() -> FakeZalo:
    return FakeZalo()


@pytest.fixture
async def zapi(zalo: FakeZalo):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    await client.aclose()


def plan(core, monthly: int, reserve: int | None = None) -> Channel:  # type: ignore[no-untyped-def]
    """Zalo as the core describes it, with this plan, fast enough for a test."""
    rates = Rates(per_second=100, per_chat_interval=0, monthly_quota=monthly, reply_reserve=reserve)
    return dataclasses.replace(
        channels_of(core)[ZALO], rates=dataclasses.replace(rates, counted=True)
    )


def keeper(core, channel: Channel) -> QuotaKeeper:  # type: ignore[no-untyped-def]
    return QuotaKeeper.for_channel(core.db, channel, texts=core.texts, clock=core.clock)


def sender(core, api, clock, channel: Channel) -> Sender:  # type: ignore[no-untyped-def]
    """A sender as `dvk run` makes one; a new one is a restart (nothing kept in memory)."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    return Sender.for_channel(
        core.db,
        channel,
        zalo_transport(api, texts=core.texts),
        clock=clock,
        sleep=sleep,
        quota=keeper(core, channel),
    )


async def person(db, clock, user: str, *, name: str = "Lan", admin: bool = False) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        identity = await get_or_create_identity(
            session, channel=ZALO, external_id=user, chat_id=user, display_name=name, now=clock()
        )
        member = await session.get(Member, identity.member_id)
        assert member is not None
        member.full_name = name
        member.is_admin = admin
        return identity.member_id


async def queue(  # type: ignore[no-untyped-def]
    db, clock, member_id: int, key: str, *, priority: int = 5, expires_at: datetime | None = None
) -> None:
    async with db.session() as session:
        await outbox.enqueue(
            session,
            key=key,
            member_id=member_id,
            payload={"text": f"tin {key}"},
            now=clock(),
            priority=priority,
            expires_at=expires_at,
        )


async def use(db, clock, count: int) -> None:  # type: ignore[no-untyped-def]
    """Messages sent earlier this month (by another replica, before a restart)."""
    async with db.session() as session:
        await quota.count_sent(session, channel=ZALO, count=count, now=clock())


async def used(db, month: str) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return (await quota.usage(session, channel=ZALO, month=month)).sent


async def statuses(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage.key, OutboxMessage.status))).all()
    return dict(rows)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("utc", "month"),
    [
        (datetime(2026, 11, 30, 16, 59, tzinfo=UTC), "2026-11"),
        (datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "2026-12"),  # 00:00 on Dec 1 in Hà Nội
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), "2027-01"),
    ],
)
def test_the_month_is_vietnams(utc: datetime, month: str) -> None:
    assert quota.month_of(utc) == month


def test_the_reserve_is_a_tenth_unless_configured() -> None:
    assert quota.Plan.of(3000) == quota.Plan(3000, 300)
    assert quota.Plan.of(3000, 50).reserve == 50
    assert quota.Plan.of(3000).stages(2399) == []
    assert quota.Plan.of(3000).stages(2400) == [quota.WARNING]
    assert quota.Plan.of(3000).stages(2700) == [quota.WARNING, quota.RESERVE]


async def test_usage_persists_across_a_restart_and_counts_replies(core, db, zapi, zalo, clock):
    channel = plan(core, monthly=6, reserve=0)
    member = await person(db, clock, "u1")
    runner = ZaloRunner(core, zapi, quota=keeper(core, channel))
    replies = await step(runner, zalo, "u1", "/start")
    assert replies and await used(db, "2026-11") == len(replies)
    for n in range(10):
        await queue(db, clock, member, f"r{n}")

    assert await sender(core, zapi, clock, channel).run_once() == 6 - len(replies)
    # A restart: a new sender and keeper know nothing but what the database says.
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert len(zalo.texts("u1")) == 6
    assert await used(db, "2026-11") == 6
    assert sum(s == outbox.PENDING for s in (await statuses(db)).values()) == 10 - 6 + len(replies)


async def test_a_long_text_counts_as_the_messages_zalo_took(core, db, zapi, zalo, clock):
    channel = plan(core, monthly=100)
    member = await person(db, clock, "u1")
    async with db.session() as session:
        await outbox.enqueue(
            session,
            key="long",
            member_id=member,
            payload={"text": "\n\n".join(["Đoạn văn dài. " * 60] * 3)},
            now=clock(),
        )
    assert await sender(core, zapi, clock, channel).run_once() == 1
    assert len(zalo.texts("u1")) >= 2
    assert await used(db, "2026-11") == len(zalo.texts("u1"))


async def test_the_reserve_holds_reminders_and_broadcasts_but_replies_pass(
    core, db, zapi, zalo, clock
):
    channel = plan(core, monthly=10, reserve=3)
    member = await person(db, clock, "u1")
    await use(db, clock, 7)  # 3 left: only the reserve
    await queue(db, clock, member, "reminder", priority=5)
    await queue(db, clock, member, "broadcast", priority=6)
    await queue(db, clock, member, "digest", priority=4)
    await queue(db, clock, member, "outcome", priority=outbox.REPLY_LIKE)

    assert await sender(core, zapi, clock, channel).run_once() == 1
    assert zalo.texts("u1") == ["tin outcome"]
    runner = ZaloRunner(core, zapi, quota=keeper(core, channel))
    replies = await step(runner, zalo, "u1", "/help")
    assert replies  # a person is answered from the reserve
    assert await used(db, "2026-11") == 8 + len(replies)
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert {k: s for k, s in (await statuses(db)).items()} == {
        "reminder": outbox.PENDING,
        "broadcast": outbox.PENDING,
        "digest": outbox.PENDING,
        "outcome": outbox.SENT,
    }


async def test_above_the_reserve_a_round_claims_only_what_keeps_it(core, db, zapi, zalo, clock):
    channel = plan(core, monthly=10, reserve=3)
    member = await person(db, clock, "u1")
    await use(db, clock, 5)
    for n in range(5):
        await queue(db, clock, member, f"b{n}", priority=6)
    assert await sender(core, zapi, clock, channel).run_once() == 2
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert await used(db, "2026-11") == 7


async def test_the_month_turns_on_the_1st_vietnam_time(core, db, zapi, zalo, clock):
    clock.now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 23:00 on Nov 30 in Hà Nội
    channel = plan(core, monthly=2, reserve=0)
    member = await person(db, clock, "u1")
    await use(db, clock, 2)
    await queue(db, clock, member, "reminder")
    assert await sender(core, zapi, clock, channel).run_once() == 0
    clock.now = datetime(2026, 11, 30, 16, 59, 59, tzinfo=UTC)
    assert await sender(core, zapi, clock, channel).run_once() == 0
    clock.now = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # December there, still November in UTC
    assert await sender(core, zapi, clock, channel).run_once() == 1
    assert zalo.texts("u1") == ["tin reminder"]
    assert (await used(db, "2026-11"), await used(db, "2026-12")) == (2, 1)


async def test_a_reminder_held_past_its_day_expires_unsent(core, db, zapi, zalo, clock, chat):
    channel = plan(core, monthly=10, reserve=5)
    async with db.session() as session:
        unit = await add_unit(
            session, code="CB", name="Chi bộ Văn phòng", parent_id=None, now=clock()
        )
    member = await person(db, clock, "u1")
    async with db.session() as session:
        await add_membership(session, member_id=member, unit_id=unit.id, role="member", now=clock())
    await make_coordinator(db, unit_id=unit.id, telegram_id=6100, now=clock())
    await use(db, clock, 5)  # in the reserve
    # Queued at 09:00 in Hà Nội: its day ends at midnight there, 17:00 UTC.
    until = end_of_day(core.config, clock())
    assert until == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    await queue(db, clock, member, "reminder", expires_at=until)

    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert (await statuses(db))["reminder"] == outbox.PENDING
    clock.now = until - timedelta(seconds=1)
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert (await statuses(db))["reminder"] == outbox.PENDING
    clock.now = until
    await sender(core, zapi, clock, channel).run_once()
    assert (await statuses(db))["reminder"] == outbox.EXPIRED
    # A new month has room again, and still it is not sent late.
    clock.now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert zalo.texts("u1") == []
    # Counted where the coordinator looks: the unit's reminders that expired this month.
    clock.now = until
    lines = (await chat(6100).send("/donvi"))[0].splitlines()
    assert T("unit-state-expired", count="1") in lines


async def test_admins_are_told_once_at_80_percent_and_once_at_the_reserve(
    core, db, zapi, zalo, clock
):
    channel = plan(core, monthly=20, reserve=4)
    await person(db, clock, "a1", name="Quản Trị", admin=True)
    member = await person(db, clock, "u1")
    for n in range(30):
        await queue(db, clock, member, f"b{n}", priority=6)
    for _ in range(3):
        await sender(core, zapi, clock, channel).run_once()
    assert len(zalo.texts("u1")) == 16  # the rest waits: the reserve is for replies
    told = zalo.texts("a1")
    assert len(told) == 2
    assert re.fullmatch(
        r"⚠️ Zalo: đã dùng \d+/20 tin nhắn của tháng 11/2026 \(80%\)\. Khi chỉ còn 4 tin, .*",
        told[0],
    )
    assert told[1].startswith("⛔ Zalo: chỉ còn ") and "/20 tin nhắn của tháng 11/2026" in told[1]
    assert await used(db, "2026-11") == 18

    # After a restart and more replies, nobody is told again this month.
    runner = ZaloRunner(core, zapi, quota=keeper(core, channel))
    await step(runner, zalo, "u1", "/help")
    await sender(core, zapi, clock, channel).run_once()
    assert len(zalo.texts("a1")) == 2
    keys = [k for k in await statuses(db) if k.startswith("quota:")]
    assert sorted(keys) == sorted(
        [f"quota:zalo:2026-11:warning:{a}" for a in [await admin_id(db)]]
        + [f"quota:zalo:2026-11:reserve:{a}" for a in [await admin_id(db)]]
    )


async def admin_id(db) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return (await session.scalars(select(Member.id).where(Member.is_admin))).one()


async def test_quota_exceeded_keeps_the_message_and_sends_it_once(core, db, zapi, zalo, clock):
    channel = plan(core, monthly=100)
    member = await person(db, clock, "u1")
    await queue(db, clock, member, "reminder")
    zalo.quota = 0  # Zalo counts differently from us: its 429 still means later
    assert await sender(core, zapi, clock, channel).run_once() == 0
    async with db.session() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
        assert (row.status, row.attempts) == (outbox.PENDING, 0)
    assert await used(db, "2026-11") == 0  # refused, so not counted

    zalo.quota = 5
    clock.advance(seconds=601)
    assert await sender(core, zapi, clock, channel).run_once() == 1
    assert await sender(core, zapi, clock, channel).run_once() == 0
    assert zalo.texts("u1") == ["tin reminder"]
    assert await used(db, "2026-11") == 1


async def test_a_person_zalo_refuses_is_listed_in_donvi(core, db, zapi, zalo, clock, chat):
    channel = plan(core, monthly=100)
    async with db.session() as session:
        unit = await add_unit(
            session, code="CB", name="Chi bộ Văn phòng", parent_id=None, now=clock()
        )
    member = await person(db, clock, "u1", name="Nguyễn Văn An")
    async with db.session() as session:
        await add_membership(session, member_id=member, unit_id=unit.id, role="member", now=clock())
    await make_coordinator(db, unit_id=unit.id, telegram_id=6100, now=clock())
    await queue(db, clock, member, "reminder")
    zalo.blocked.add("u1")
    assert await sender(core, zapi, clock, channel).run_once() == 1
    assert (await statuses(db))["reminder"] == outbox.UNREACHABLE
    assert await used(db, "2026-11") == 0
    lines = (await chat(6100).send("/donvi"))[0].splitlines()
    assert "📵 Không liên lạc được (đã chặn bot): Nguyễn Văn An" in lines
