"""`dvk demo-seed`: a few units, people and invites to try the bot with. Running it twice
changes nothing. Its invite codes are public (README), so it seeds only a database of its own
and `dvk run` refuses a database where they still work."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from handlers.core.consent import NOTICE_VERSION
from storage import rules
from storage.db import Database
from storage.models import Identity, Invite, Member
from storage.records.campaigns import add_campaign, campaign_by_code
from storage.records.consents import record_consent
from storage.records.invites import invite_by_code
from storage.records.people import add_membership, find_identity
from storage.records.units import add_unit, unit_by_code

UNITS = [
    ("DUK", "Đảng ủy Khối cơ quan và doanh nghiệp tỉnh", None),
    ("CB-VP", "Chi bộ Văn phòng", "DUK"),
    ("DB-SYT", "Đảng bộ Sở Y tế", "DUK"),
    ("CB-BV", "Chi bộ Bệnh viện Đa khoa", "DB-SYT"),
    ("DB-SGD", "Đảng bộ Sở Giáo dục và Đào tạo", "DUK"),
]
PEOPLE = [
    # terminal name, full name, category, admin, unit code, role. All three have agreed to the
    # personal-data notice: `dvk chat --as <role>` is the way into a role, often with a line
    # typed in advance (`dvk chat --as member <<< /mohinh`), which the notice would swallow
    # (what was asked is not done after agreeing). Newcomers of the demo meet the notice.
    ("admin", "Trần Thị Quản Trị", "can_bo", True, None, None),
    ("phutrach", "Lê Văn Phụ Trách", "dang_vien", False, "CB-VP", rules.ROLE_COORDINATOR),
    ("an", "Nguyễn Văn An", "cong_chuc", False, "CB-VP", rules.ROLE_MEMBER),
]
# `dvk chat --as coordinator` and friends, as the first screen suggests.
PEOPLE_BY_ROLE = {"admin": "admin", "coordinator": "phutrach", "member": "an"}
INVITES = [("DEMO-TV", "CB-VP", rules.ROLE_MEMBER), ("DEMO-PT", "CB-VP", rules.ROLE_COORDINATOR)]
CAMPAIGN = "DVK-DEMO"
DEMO_CHANNEL = "terminal"


async def people_besides_demo(db: Database) -> int:
    """How many members the demo did not create (its own are its terminal names); none in a
    database whose tables do not exist yet."""
    async with db.engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table("members")):
            return 0
    demo_people = select(Identity.member_id).where(
        Identity.channel == DEMO_CHANNEL,
        Identity.external_id.in_([handle for handle, *_ in PEOPLE]),
    )
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Member).where(Member.id.not_in(demo_people))
        )
    return count or 0


async def live_demo_invites(session: AsyncSession) -> list[str]:
    """The demo's invite codes that still let someone join here (revoked ones do not)."""
    codes = await session.scalars(
        select(Invite.code)
        .where(Invite.code.in_([code for code, *_ in INVITES]), Invite.revoked.is_(False))
        .order_by(Invite.code)
    )
    return list(codes)


async def seed(session: AsyncSession, *, now: datetime, today: date) -> list[str]:
    """Returns what was created, for the command's output."""
    created: list[str] = []
    units = {}
    for code, name, parent in UNITS:
        unit = await unit_by_code(session, code=code)
        if unit is None:
            parent_id = units[parent].id if parent else None
            unit = await add_unit(session, code=code, name=name, parent_id=parent_id, now=now)
            created.append(f"unit {code}")
        units[code] = unit
    if await campaign_by_code(session, code=CAMPAIGN) is None:
        await add_campaign(
            session,
            code=CAMPAIGN,
            name="Dân vận khéo (đợt thử)",
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=700),
            now=now,
        )
        created.append(f"campaign {CAMPAIGN}")
    for handle, full_name, category, is_admin, unit_code, role in PEOPLE:
        if await find_identity(session, channel=DEMO_CHANNEL, external_id=handle):
            continue
        member = Member(full_name=full_name, category=category, is_admin=is_admin, created_at=now)
        session.add(member)
        session.add(
            Identity(
                member=member,
                channel=DEMO_CHANNEL,
                external_id=handle,
                chat_id=handle,
                display_name=full_name,
                created_at=now,
            )
        )
        await session.flush()
        if unit_code and role:
            await add_membership(
                session, member_id=member.id, unit_id=units[unit_code].id, role=role, now=now
            )
        await record_consent(
            session,
            member_id=member.id,
            version=NOTICE_VERSION,
            channel=DEMO_CHANNEL,
            now=now,
        )
        created.append(f"person {handle}")
    for code, unit_code, role in INVITES:
        if await invite_by_code(session, code=code) is None:
            session.add(
                Invite(
                    code=code,
                    unit_id=units[unit_code].id,
                    role=role,
                    expires_at=now + timedelta(days=3650),
                    max_uses=1000,
                    uses=0,
                    revoked=False,
                    created_at=now,
                )
            )
            created.append(f"invite {code}")
    await session.flush()
    return created


async def demo_invites_left(settings: Settings) -> dict[str, str]:
    """The demo's invites the configured database still has, as `cli-demo-invites` names them
    (empty when none is left): anyone who read the README can use them (DEMO-PT makes a
    coordinator), so `dvk run` refuses such a database."""
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        async with db.session() as session:
            codes = await live_demo_invites(session)
    finally:
        await db.dispose()
    if not codes:
        return {}
    return {"codes": ", ".join(codes), "quoted": ", ".join(f"'{code}'" for code in codes)}
