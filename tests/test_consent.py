"""The personal-data notice (Decree 13/2023): shown before the first personal question of
joining, agreed to or declined on Telegram and Zalo (typed there), recorded with its version
and time; a changed notice, or a member of a database made before it, is asked again."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.core import consent
from storage.models import AuditEntry, Identity, Member, Membership
from storage.records.consents import Consent
from storage.records.units import add_unit
from tests.test_both_channels import demo, join, world  # noqa: F401 (fixtures)

NEWCOMER = 7001
NOTICE = "🔒 Thông báo về dữ liệu cá nhân (phiên bản 2026-12b)"


async def member_before_the_notice(db, clock, *, unit_code: str, unit_name: str) -> Member:
    """Lê Thị Cũ, Telegram 7002, a member of a new unit, as a database made before the notice
    holds her: a profile and no consent."""
    async with db.session() as session:
        unit = await add_unit(session, code=unit_code, name=unit_name, parent_id=None, now=clock())
        member = Member(full_name="Lê Thị Cũ", category="cong_chuc", created_at=clock())
        session.add(member)
        session.add(
            Identity(
                member=member,
                channel="telegram",
                external_id="7002",
                chat_id="7002",
                created_at=clock(),
            )
        )
        await session.flush()
        session.add(
            Membership(member_id=member.id, unit_id=unit.id, role="member", created_at=clock())
        )
    return member


async def answer(world, person, yes: bool) -> list[str]:  # noqa: F811
    """«Đồng ý» / «Không đồng ý»: pressed on Telegram, typed as words on Zalo."""
    if world.name == "zalo":
        return await person.send("đồng ý" if yes else "không đồng ý")
    return await person.choose("Đồng ý" if yes else "Không đồng ý")


async def count(db, what) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(what)) or 0


async def consents(db, world, user_id: int) -> list[Consent]:  # noqa: F811
    async with db.session() as session:
        member_id = await session.scalar(
            select(Identity.member_id).where(
                Identity.channel == world.channel, Identity.external_id == str(user_id)
            )
        )
        rows = await session.scalars(
            select(Consent).where(Consent.member_id == member_id).order_by(Consent.id)
        )
        return list(rows.all())


async def test_the_notice_comes_before_the_name_and_agreeing_is_recorded(world, demo, db, clock):  # noqa: F811
    person = world.person(NEWCOMER, "Bình", agrees=False)
    replies = await person.send("/start DEMO-TV")
    assert NOTICE in replies[0]
    for said in (
        "họ và tên, đối tượng",
        "số điện thoại nếu bạn cho",
        "các mô hình bạn đăng ký và các báo cáo tiến độ",
        "duyệt đăng ký, nhắc hạn báo cáo, thống kê và xét khen thưởng",
        "cán bộ phụ trách đơn vị của bạn và quản trị viên",
        "được xóa sau 90 ngày",
        "gõ /xoadulieu để rút lại sự đồng ý và xóa",
    ):
        assert said in replies[0], said
    assert not any("Họ và tên của bạn?" in reply for reply in replies)
    assert await consents(db, world, NEWCOMER) == []

    replies = await answer(world, person, yes=True)
    assert replies[0].startswith("Xin chào! Bạn được mời tham gia Chi bộ Văn phòng")
    assert "Họ và tên của bạn?" in replies[-1]
    [agreed] = await consents(db, world, NEWCOMER)
    assert (agreed.version, agreed.channel, agreed.withdrawn_at) == (
        "2026-12b",
        world.channel,
        None,
    )
    assert agreed.agreed_at == clock()

    await person.send("Trần Văn Bình")
    await person.choose("Công chức")
    replies = await person.choose("Bỏ qua »")
    assert replies[0].startswith("Chào mừng Trần Văn Bình đã tham gia")
    # Agreed once: the next message is simply answered.
    assert NOTICE not in (await person.send("/mohinh"))[0]


async def test_declining_keeps_no_member_and_no_name(world, demo, db):  # noqa: F811
    members, identities = await count(db, Member), await count(db, Identity)
    person = world.person(NEWCOMER, "Bình", agrees=False)
    assert NOTICE in (await person.send("/start"))[0]  # a join request without an invite

    replies = await answer(world, person, yes=False)

    assert replies == [
        "Bạn không đồng ý, nên bot không hỏi thông tin nào và không lưu gì về bạn. Nếu đổi ý, "
        "hãy gửi lại /start (hoặc mở lại đường link mời)."
    ]
    assert (await count(db, Member), await count(db, Identity)) == (members, identities)
    assert await count(db, Consent) == 3  # the demo's own people only
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    # Asked again, as anyone new, when they come back.
    assert NOTICE in (await person.send("/start DEMO-TV"))[0]


async def test_a_changed_notice_is_agreed_to_again(world, demo, db, monkeypatch):  # noqa: F811
    await join(world, NEWCOMER, "Trần Văn Bình")
    monkeypatch.setattr(consent, "NOTICE_VERSION", "2027-01")
    person = world.person(NEWCOMER, "Bình", agrees=False)

    replies = await person.send("/mohinh")
    assert replies[0].startswith("Thông báo về dữ liệu cá nhân đã thay đổi")
    assert "(phiên bản 2027-01)" in replies[0]
    # /help still works before agreeing; nothing else does.
    assert (await person.send("/help"))[0].startswith("Việc bạn có thể làm:")
    assert "(phiên bản 2027-01)" in (await person.send("/dangky"))[0]

    replies = await answer(world, person, yes=True)
    assert replies[0].startswith("✅ Đã ghi nhận bạn đồng ý với thông báo về dữ liệu cá nhân")
    assert [c.version for c in await consents(db, world, NEWCOMER)] == ["2026-12b", "2027-01"]
    assert "phiên bản" not in (await person.send("/mohinh"))[0]


async def test_a_member_who_declines_keeps_their_data_and_is_asked_again(chat, db, clock):
    """A member of a database made before the notice has not agreed to it."""
    member = await member_before_the_notice(db, clock, unit_code="DUK", unit_name="Đảng ủy Khối")
    person = chat(7002, "Cũ")
    person.agrees = False
    notice = await person.send("Xin chào")
    assert "Thông báo về dữ liệu cá nhân đã thay đổi hoặc bạn chưa đồng ý" in notice[0]

    replies = await person.click("Không đồng ý")
    assert replies[0].startswith("Bạn chưa đồng ý, nên bot tạm dừng mọi việc khác với bạn")
    async with db.session() as session:
        kept = await session.get(Member, member.id)
        assert kept is not None and kept.full_name == "Lê Thị Cũ"
    assert "bạn chưa đồng ý" in (await person.send("/mohinh"))[0]

    # The button of an older notice does not count as agreeing to this one.
    old = person.last_keyboard_message()
    replies = await person.press("cs:y:2025-01", old)
    assert person.last_notice() == "Nút này thuộc một tin nhắn cũ và không còn dùng được."
    assert "(phiên bản 2026-12b)" in replies[0]
    assert await count(db, Consent) == 0

    replies = await person.click("Đồng ý")
    assert replies[0].startswith("✅ Đã ghi nhận")
    assert await count(db, Consent) == 1
