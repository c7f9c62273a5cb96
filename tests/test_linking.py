"""One person, two channels (/lienket): a member on Telegram gets a code and sends it from Zalo;
that Zalo identity is then the same person (their models, their roles). A code expires, is burnt
by 5 wrong tries, links nothing to an identity with records of its own, and a failure in the
middle of a link leaves nothing half-done. What the bot sends on its own goes to one channel:
the chosen one, else the one the person wrote from last."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels import ZALO, channels_of
from bot.demo import seed
from bot.sender import Sender
from bot.telegram.outbox import flush_outbox
from bot.zalo.api import ZaloApi
from bot.zalo.delivery import zalo_transport
from bot.zalo.runner import ZaloRunner
from language.texts import Texts
from storage import outbox, rules
from storage.linking import LinkCode
from storage.models import AuditEntry, Identity, Member
from storage.records import linking
from storage.records.people import (
    add_membership,
    find_identity,
    get_or_create_identity,
    unreachable_members,
)
from storage.records.units import unit_by_code
from tests.fakezalo import TOKEN, FakeZalo
from tests.test_registration import MEMBER_ID, join, register_quickly

T = Texts("vi")
TITLE = "Chuyển đổi số trong giảng dạy"


@pytest.fixture
def zalo() -> FakeZalo:
    return FakeZalo()


@pytest.fixture
async def runner(core, zalo):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloRunner(core, ZaloApi(TOKEN, api_url="https://zalo.test", client=client))
    await client.aclose()


@pytest.fixture
async def member(db, clock, chat):  # type: ignore[no-untyped-def]
    """A member on Telegram with a model registered."""
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, TITLE)
    return person


async def on_zalo(runner: ZaloRunner, zalo: FakeZalo, text: str, user: str = "z1") -> list[str]:
    before = len(zalo.texts(user))
    zalo.queue_text(user, text, name="An trên Zalo")
    await runner.handle(await runner.api.get_update(poll_seconds=1))
    return zalo.texts(user)[before:]


async def code_of(person) -> str:  # type: ignore[no-untyped-def]
    replies = await person.send("/lienket")
    assert replies[0].startswith("🔗 Mã liên kết của bạn:")
    found = re.search(r"\b(\d{6})\b", replies[0])
    assert found is not None
    return found.group(1)


async def owner_of_zalo(db, user: str = "z1") -> int | None:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        identity = await find_identity(session, channel=ZALO, external_id=user)
        return identity.member_id if identity else None


async def telegram_member(db) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        identity = await find_identity(session, channel="telegram", external_id=str(MEMBER_ID))
        assert identity is not None
        return identity.member_id


async def audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return list(
            (await session.scalars(select(AuditEntry).where(AuditEntry.action == action))).all()
        )


async def test_a_member_links_zalo_and_sees_their_models_there(member, db, runner, zalo):
    # Someone writes on Zalo first: an empty person of its own, with a form it began.
    await on_zalo(runner, zalo, "/start")
    empty = await owner_of_zalo(db)
    code = await code_of(member)
    answer = await on_zalo(runner, zalo, code)
    assert answer == [T("link-done", name="Nguyễn Văn An")]
    owner = await telegram_member(db)
    assert await owner_of_zalo(db) == owner
    answer = await on_zalo(runner, zalo, "/mohinh")
    assert any(TITLE in text for text in answer)
    async with db.session() as session:
        # The empty person is gone; the code is used up.
        assert await session.get(Member, empty) is None
        assert await session.scalar(select(func.count()).select_from(LinkCode)) == 0
        identities = await session.scalar(
            select(func.count()).select_from(Identity).where(Identity.member_id == owner)
        )
        assert identities == 2
    [entry] = await audit(db, "link.linked")
    assert entry.actor_id == owner and entry.details["channel"] == ZALO
    # Typed again, the used code links nothing more.
    assert await on_zalo(runner, zalo, f"/lienket {code}") == [T("link-wrong")]


async def test_an_expired_code_links_nothing(member, db, runner, zalo, clock):
    code = await code_of(member)
    clock.advance(minutes=10, seconds=1)
    assert await on_zalo(runner, zalo, f"/lienket {code}") == [T("link-wrong")]
    assert await owner_of_zalo(db) != await telegram_member(db)


@pytest.mark.parametrize("wrong", [4, 5])
async def test_five_wrong_tries_burn_the_code(member, db, runner, zalo, wrong):
    code = await code_of(member)
    others = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, wrong + 1)]
    for attempt, other in enumerate(others):
        # From different Zalo people: the tries count against the code, not against who tries.
        assert await on_zalo(runner, zalo, other, user=f"t{attempt}") == [T("link-wrong")]
    answer = await on_zalo(runner, zalo, code)
    if wrong < 5:
        assert answer == [T("link-done", name="Nguyễn Văn An")]
        assert await owner_of_zalo(db) == await telegram_member(db)
    else:
        assert answer == [T("link-wrong")]
        assert await owner_of_zalo(db) != await telegram_member(db)
        assert len(await audit(db, "link.burnt")) == 1


async def test_an_identity_with_records_of_its_own_is_not_linked(member, db, runner, zalo, clock):
    # A Zalo person who joined a unit on their own.
    async with db.session() as session:
        identity = await get_or_create_identity(
            session, channel=ZALO, external_id="z1", chat_id="z1", display_name="B", now=clock()
        )
        unit = await unit_by_code(session, code="CB-VP")
        assert unit is not None
        await add_membership(
            session,
            member_id=identity.member_id,
            unit_id=unit.id,
            role=rules.ROLE_MEMBER,
            now=clock(),
        )
        separate = identity.member_id
    code = await code_of(member)
    assert await on_zalo(runner, zalo, code) == [T("link-has-records")]
    assert await owner_of_zalo(db) == separate
    [entry] = await audit(db, "link.refused")
    assert entry.details["reason"] == "has_records"
    # The code was not used: it waits, and /huy drops it.
    assert (await member.send("/huy")) == [T("link-cancelled")]
    assert (await member.send("/huy")) == [T("nothing-to-cancel")]
    assert await on_zalo(runner, zalo, code, user="z2") == [T("link-wrong")]


async def test_a_failure_in_the_middle_of_a_link_leaves_nothing_half_linked(
    member, db, runner, zalo, monkeypatch
):
    await on_zalo(runner, zalo, "/start")
    empty = await owner_of_zalo(db)
    code = await code_of(member)
    real = linking.note_channel

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    # After the identity was moved and the empty person deleted: the last write of a link.
    monkeypatch.setattr(linking, "note_channel", broken)
    with pytest.raises(RuntimeError):
        await on_zalo(runner, zalo, code)
    assert await owner_of_zalo(db) == empty
    async with db.session() as session:
        assert await session.get(Member, empty) is not None
        assert await session.scalar(select(func.count()).select_from(LinkCode)) == 1
    assert await audit(db, "link.linked") == []
    # The code still works once the failure is gone.
    monkeypatch.setattr(linking, "note_channel", real)
    assert await on_zalo(runner, zalo, code) == [T("link-done", name="Nguyễn Văn An")]


async def deliver(db, core, app, zalo, clock, text: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Queue a reminder for the member and run both channels' senders: what each sent."""
    owner = await telegram_member(db)
    async with db.session() as session:
        await outbox.enqueue(
            session, key=f"reminder:{text}", member_id=owner, payload={"text": text}, now=clock()
        )

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    client = httpx.AsyncClient(transport=zalo.transport())
    api = ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    sender = Sender.for_channel(
        db, channels_of(core)[ZALO], zalo_transport(api), clock=clock, sleep=sleep
    )
    telegram_before = [c.params.get("text") for c in app.bot_data["api"].sent(MEMBER_ID)]
    zalo_before = zalo.texts("z1")
    await flush_outbox(app)
    await sender.run_once()
    await flush_outbox(app)
    await client.aclose()
    telegram = [c.params.get("text") for c in app.bot_data["api"].sent(MEMBER_ID)]
    return telegram[len(telegram_before) :], zalo.texts("z1")[len(zalo_before) :]


@pytest.fixture
def wired(app, api):  # type: ignore[no-untyped-def]
    app.bot_data["api"] = api
    return app


async def test_reminders_go_to_the_last_used_channel_or_the_chosen_one(
    member, db, core, wired, runner, zalo, clock
):
    await on_zalo(runner, zalo, await code_of(member))
    # Last written from Zalo: Zalo alone gets it.
    await on_zalo(runner, zalo, "/help")
    assert await deliver(db, core, wired, zalo, clock, "Nhắc 1") == ([], ["Nhắc 1"])
    # Last written from Telegram: Telegram alone.
    await member.send("/help")
    assert await deliver(db, core, wired, zalo, clock, "Nhắc 2") == (["Nhắc 2"], [])
    # Chosen in /nhacnho (asked only now that there are two channels): Zalo, wherever they write.
    await member.send("/nhacnho")
    await member.click("Bỏ qua »")
    replies = await member.click("Bỏ qua »")
    assert replies[0].startswith(T("ask-delivery-channel"))
    assert member.buttons()[:3] == [T("channel-auto"), "Telegram", "Zalo"]
    await member.click("Zalo")
    replies = await member.click("✅ Xác nhận")
    assert replies[0].endswith(T("reminders-channel", channel="Zalo"))
    assert await deliver(db, core, wired, zalo, clock, "Nhắc 3") == ([], ["Nhắc 3"])
    # Zalo refuses them (blocked): the other channel takes it, once.
    async with db.session() as session:
        await outbox.mark_unreachable(session, channel=ZALO, chat_id="z1", now=clock())
    assert await deliver(db, core, wired, zalo, clock, "Nhắc 4") == (["Nhắc 4"], [])
    async with db.session() as session:
        # Reached on Telegram still: not listed as unreachable (the digest's list).
        assert await unreachable_members(session, unit_ids=None) == []


async def test_one_channel_gets_no_channel_question(member):
    assert T("help-cmd-lienket") in (await member.send("/help"))[0]
    await member.send("/nhacnho")
    await member.click("Bỏ qua »")
    replies = await member.click("Bỏ qua »")
    assert not replies[0].startswith(T("ask-delivery-channel"))
