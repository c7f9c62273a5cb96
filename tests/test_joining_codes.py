"""Joining without deep links (Zalo has none): invite codes short enough to type on a phone,
read ignoring case, spaces and dashes, recognised when they are the first thing someone sends,
with a limit on wrong ones per person; admins named per channel in DVK_ADMIN_IDS."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import channels
from bot.channels import Capabilities, Channel, Registry, channels_of
from bot.config import Settings
from bot.demo import seed
from bot.runtime import build_core
from handlers.core.types import Inbound
from storage.models import AuditEntry, Invite, Member, Membership
from storage.records.invites import (
    CODE_ALPHABET,
    code_key,
    create_invite,
    invite_by_code,
    looks_like_code,
)
from storage.records.people import find_identity
from storage.records.units import unit_by_code
from tests.conftest import ADMIN_ID, handle_agreeing

GUEST = 5150


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def new_invite(db, clock, unit: str = "CB-VP", role: str = "member") -> str:
    async with db.session() as session:
        invite = await create_invite(
            session,
            unit_id=(await unit_by_code(session, code=unit)).id,
            role=role,
            expires_at=clock() + timedelta(days=30),
            max_uses=50,
            created_by=None,
            now=clock(),
        )
        return invite.code


async def test_new_codes_are_eight_unambiguous_characters_and_unique(seeded, db, clock):
    codes = [await new_invite(db, clock) for _ in range(40)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{8}}", code), code
        assert looks_like_code(code) and looks_like_code(f"{code[:4].lower()}-{code[4:]}")
    assert not set("0O1IL") & set(CODE_ALPHABET)


async def test_codes_are_read_ignoring_case_spaces_and_dashes(seeded, db, clock):
    code = await new_invite(db, clock)
    async with db.session() as session:
        for typed in (code, code.lower(), f"{code[:4]} {code[4:]}", f" {code[:4]}-{code[4:]}"):
            assert (await invite_by_code(session, code=typed)).code == code, typed
        # The demo's older code, stored with its dash and in capitals.
        for typed in ("DEMO-TV", "demo-tv", "demo tv", "DEMOTV"):
            assert (await invite_by_code(session, code=typed)).code == "DEMO-TV", typed
        assert await invite_by_code(session, code="DEMO-T") is None


async def test_older_mixed_case_codes_keep_working_and_are_never_guessed(seeded, db, clock):
    async with db.session() as session:
        unit = await unit_by_code(session, code="CB-VP")
        for code in ("aB_c-9xYz", "Ab_c-9xYz"):
            session.add(
                Invite(
                    code=code,
                    unit_id=unit.id,
                    role="member",
                    expires_at=clock() + timedelta(days=1),
                    max_uses=5,
                    uses=0,
                    revoked=False,
                    created_at=clock(),
                )
            )
    async with db.session() as session:
        assert (await invite_by_code(session, code="aB_c-9xYz")).code == "aB_c-9xYz"
        assert (await invite_by_code(session, code="Ab_c-9xYz")).code == "Ab_c-9xYz"
        # Read loosely both fit: neither is guessed.
        assert await invite_by_code(session, code="ab_c9xyz") is None


def test_the_shape_of_a_code_is_not_ordinary_chatter():
    for chatter in ("xin chao", "cam on ban", "Xin chào", "hello", "ok", "12345678", "chào bạn!"):
        assert not looks_like_code(chatter), chatter
    assert code_key(" ab-cd  EF ") == "ABCDEF"
    assert code_key("xin chào") is None


WELCOME = "Chào mừng Trần Thị Bình"
INVALID = "Đường link mời không hợp lệ."
TOO_MANY = (
    "Bạn đã gửi sai mã mời nhiều lần. Để an toàn, xin thử lại sau một giờ; "
    "nếu cần, hãy hỏi lại mã từ cán bộ phụ trách."
)


async def give_profile(person) -> list[str]:
    await person.send("Trần Thị Bình")
    await person.click("Viên chức")
    return await person.click("Bỏ qua »")


async def memberships_of_unit(db, unit: str) -> int:
    async with db.session() as session:
        unit_id = (await unit_by_code(session, code=unit)).id
        return await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.unit_id == unit_id)
        )


@pytest.mark.parametrize("spelling", ["lower-space", "lower-dash"])
async def test_a_typed_code_in_lower_case_with_a_space_or_dash_joins(
    seeded, chat, db, clock, spelling
):
    code = await new_invite(db, clock, unit="CB-BV")
    sep = " " if spelling == "lower-space" else "-"
    guest = chat(GUEST, "Bình")
    replies = await guest.send(f"/start {code[:4].lower()}{sep}{code[4:].lower()}")
    assert replies[0].startswith("Xin chào! Bạn được mời tham gia Chi bộ Bệnh viện Đa khoa")
    assert (await give_profile(guest))[0].startswith(WELCOME)
    assert await memberships_of_unit(db, "CB-BV") == 1


async def test_a_first_message_that_is_a_code_joins(seeded, chat, db, clock):
    code = await new_invite(db, clock, unit="CB-BV")
    guest = chat(GUEST, "Bình")
    replies = await guest.send(f"{code[:4].lower()} {code[4:]}")
    assert replies[0].startswith("Xin chào! Bạn được mời tham gia Chi bộ Bệnh viện Đa khoa")
    assert (await give_profile(guest))[0].startswith(WELCOME)
    assert await memberships_of_unit(db, "CB-BV") == 1
    # Once a member, a text of that shape ("chấp nhận" typed bare) is not taken for a code.
    assert (await guest.send("chap nhan"))[0].startswith("Tôi chưa hiểu ý bạn.")
    # Ordinary chatter from a stranger is not read as a code, and not counted.
    other = chat(GUEST + 1, "Khách")
    assert (await other.send("xin chao"))[0].startswith("Bạn chưa tham gia đơn vị nào.")
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "invite.wrong_code")
            )
            == 0
        )


async def test_five_wrong_codes_then_a_refusal_that_changes_nothing_per_person(
    seeded, chat, db, clock
):
    code = await new_invite(db, clock, unit="CB-BV")
    trier, other = chat(GUEST, "Bình"), chat(GUEST + 1, "Khách")
    for n in range(5):
        wrong = "ABCD" + "EFGHJKMN"[n] * 4
        sent = f"/start {wrong}" if n % 2 else wrong  # typed alone or after /start
        assert (await trier.send(sent))[0].startswith(INVALID)
        clock.advance(minutes=5)
    # The sixth, even the right code, is refused and nothing changes.
    assert await trier.send(code.lower()) == [TOO_MANY]
    assert await trier.send(f"/start {code}") == [TOO_MANY]
    assert await memberships_of_unit(db, "CB-BV") == 0
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "invite.wrong_code")
            )
            == 5
        )
        assert (await invite_by_code(session, code=code)).uses == 0
    # Someone else is not held back by it.
    replies = await other.send(code)
    assert replies[0].startswith("Xin chào! Bạn được mời tham gia")
    # An hour after the first wrong code, one more try is allowed.
    clock.advance(minutes=36)
    replies = await trier.send(code)
    assert replies[0].startswith("Xin chào! Bạn được mời tham gia")
    assert (await give_profile(trier))[0].startswith(WELCOME)


def core_with_admins(database_url, db, clock, admin_ids: str):  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, database_url=database_url, admin_ids=admin_ids)
    return build_core(settings, db, clock)


async def is_admin(db, channel: str, external_id: str) -> bool:
    async with db.session() as session:
        identity = await find_identity(session, channel=channel, external_id=external_id)
        return identity is not None and (await session.get(Member, identity.member_id)).is_admin


async def test_admin_ids_are_qualified_by_channel(seeded, database_url, db, clock):
    assert Settings(_env_file=None, admin_ids="zalo:abc, 123;telegram:7").admins_by_channel() == {
        "telegram": {"123", "7"},
        "zalo": {"abc"},
    }
    for wrong in ("abc", "viber:1", "zalo:"):
        with pytest.raises(ValueError, match="setting-bad-admin-id"):
            Settings(_env_file=None, admin_ids=wrong)
    core = core_with_admins(database_url, db, clock, "zalo:abc,123")
    said = {}
    for channel, person in (
        ("zalo", "abc"),
        ("zalo", "123"),
        ("telegram", "123"),
        ("telegram", "abc"),
    ):
        result = await core.handle(Inbound(channel, person, person, text="/start"))
        said[channel, person] = result.messages[0].text
    assert await is_admin(db, "zalo", "abc") and await is_admin(db, "telegram", "123")
    assert not await is_admin(db, "zalo", "123") and not await is_admin(db, "telegram", "abc")
    assert said["zalo", "abc"] == "Chào quản trị viên! Gõ /help để xem các lệnh quản trị."
    assert said["zalo", "123"].startswith("Xin chào! Đây là trợ lý phong trào thi đua")


async def test_a_stranger_sending_start_alone_is_told_their_id(seeded, database_url, db, clock):
    core = core_with_admins(database_url, db, clock, "123")  # nobody on Zalo yet
    result = await handle_agreeing(core, Inbound("zalo", "u-7f3a", "u-7f3a", text="/start"))
    texts = [m.text for m in result.messages]
    assert texts[0].startswith("Xin chào! Đây là trợ lý phong trào thi đua")
    assert texts[1] == (
        "Mã của bạn trên kênh này: zalo:u-7f3a\nNếu bạn là người quản trị, hãy nhờ người vận "
        "hành thêm mã này vào DVK_ADMIN_IDS, rồi gửi /huy."
    )
    assert texts[-1] == "Họ và tên của bạn?"
    # Once the operator has named them, their next message makes them an admin.
    core = core_with_admins(database_url, db, clock, "123,zalo:u-7f3a")
    await core.handle(Inbound("zalo", "u-7f3a", "u-7f3a", text="/huy"))
    assert await is_admin(db, "zalo", "u-7f3a")
    # A channel with an admin named tells nobody their id.
    result = await core.handle(Inbound("zalo", "u-other", "u-other", text="/start"))
    assert not any("DVK_ADMIN_IDS" in m.text for m in result.messages)


async def test_the_same_code_typed_again_resumes_the_profile(seeded, chat, db, clock):
    code = await new_invite(db, clock, unit="CB-BV")
    guest = chat(GUEST, "Bình")
    await guest.send(f"/start {code}")
    replies = await guest.send(f"/start {code[:4].lower()}-{code[4:].lower()}")
    assert replies == ["Tiếp tục phần đang nhập dở:\nHọ và tên của bạn?"]
    assert (await give_profile(guest))[0].startswith(WELCOME)


ZALO_BOT = "https://zalo.me/2240000000000000000"


def with_zalo(core) -> None:  # type: ignore[no-untyped-def]
    """The core as a process serving both channels has it: on Zalo the invite is the bot's link
    (DVK_ZALO_BOT_URL), the code is sent in the chat."""
    registry = channels_of(core)
    zalo = Channel(
        name="zalo",
        capabilities=Capabilities(
            buttons=False,
            edits=False,
            documents=False,
            photo_bytes=False,
            photo_url=True,
            text_limit=2000,
        ),
        invite="{bot_url}",
        values={"bot_url": ZALO_BOT},
        offered=True,
    )
    kept = [registry[name] for name in registry.names() if name != "zalo"]
    core.config = dataclasses.replace(core.config, channels=Registry([*kept, zalo]))


async def invite_made_on_moi(admin, db) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    await admin.send("/moi")
    await admin.click("Chi bộ Văn phòng")
    await admin.click("thành viên")
    await admin.send("7")
    await admin.send("10")
    replies = await admin.click("✅ Tạo link")
    async with db.session() as session:
        code = (await session.scalars(select(Invite).order_by(Invite.id.desc()))).first().code
    return replies[0].split("\n"), code


async def test_moi_tells_how_to_join_on_each_configured_channel(seeded, chat, core, db):
    with_zalo(core)
    lines, code = await invite_made_on_moi(chat(ADMIN_ID, "Quản trị"), db)
    assert lines[:3] == [
        "🔗 Link mời vào Chi bộ Văn phòng (vai trò thành viên):",
        f"https://t.me/dvk_test_bot?start={code}",
        f"Trên Zalo: mở {ZALO_BOT} rồi gửi mã {code}",
    ]
    assert lines[3].startswith("Hiệu lực đến") and len(lines) == 4
    # The code from that line, sent on Zalo as the first message, joins.
    result = await handle_agreeing(core, Inbound("zalo", "z-binh", "z-binh", text=code.lower()))
    assert result.messages[0].text.startswith("Xin chào! Bạn được mời tham gia Chi bộ Văn phòng")


async def test_moi_names_only_the_telegram_link_without_zalo(seeded, chat, db):
    lines, code = await invite_made_on_moi(chat(ADMIN_ID, "Quản trị"), db)
    assert lines[1:2] == [f"https://t.me/dvk_test_bot?start={code}"]
    assert len(lines) == 3


def test_only_offered_channels_that_are_ready_are_named(settings):
    registry = channels.registry(settings)
    # Telegram's username is learned at start-up: before that, no link is offered for it; the
    # terminal is a tool, never offered.
    assert registry.join_links("ABCD2345") == []
    registry.start("telegram", username="dvk_test_bot")
    assert registry.join_links("ABCD2345") == []  # nor before it can fetch files

    async def fetch(file_id: str) -> bytes:
        return b""

    registry.start("telegram", fetch=fetch)
    assert registry.join_links("ABCD2345") == [
        ("telegram", "https://t.me/dvk_test_bot?start=ABCD2345")
    ]
