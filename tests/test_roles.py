"""Every admin command and every admin button is refused for a coordinator and for a member,
and the refusal changes nothing: the role is read from the database at the moment of acting."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.demo import seed
from handlers.core import menu
from storage.models import AuditEntry, Conversation, OutboxMessage
from tests.test_registration import join

NOT_ALLOWED = "Bạn không có quyền thực hiện việc này."
COORDINATOR_ID = 5151
# Commands that only admins may use, typed with and without arguments.
ADMIN_ONLY = sorted(set(menu.ADMIN) - set(menu.COORDINATOR) - set(menu.MEMBER))
ADMIN_TYPED = ["/chapnhan 1", "/tuchoi 1", "/thongke 2026", "/nhatky model", "/thongke DVK-DEMO"]
# Button data only admins' messages carry, with ids that exist in the seeded database.
# (The forms admins fill in — units, campaigns, broadcasts, management — carry the form's
# version in their buttons and re-check the role at every step; their own tests press them.)
ADMIN_BUTTONS = [
    "kt:1",
    "cd:1",
    "qs:1",
    "qs:1:registration",
    "qs:1:registration:a",
    "qs:1:report:h:q1",
    "qs:1:registration:hy:q1",
]


@pytest.fixture
async def people(db, clock, chat):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    member = await join(chat)
    coordinator = await join(chat, COORDINATOR_ID, "Lê Văn Phụ Trách", code="DEMO-PT")
    return {"member": member, "coordinator": coordinator}


async def _footprint(db):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return [
            await session.scalar(select(func.count()).select_from(table))
            for table in (AuditEntry, OutboxMessage, Conversation)
        ]


def test_the_admin_menu_is_covered():
    # A new admin command lands in the menu, and so in this test.
    assert {
        "thongke",
        "khenthuong",
        "hoinghi",
        "nhatky",
        "maunhap",
        "nhapexcel",
        "taodot",
        "thongbao",
        "suadonvi",
        "phutrach",
        "quantri",
        "linhvuc",
        "cauhoi",
    } <= set(ADMIN_ONLY)


@pytest.mark.parametrize("who", ["member", "coordinator"])
@pytest.mark.parametrize("command", [f"/{name}" for name in ADMIN_ONLY] + ADMIN_TYPED)
async def test_admin_commands_are_refused(people, db, who, command):
    person = people[who]
    before = await _footprint(db)
    replies = await person.send(command)
    if command.startswith(("/chapnhan", "/tuchoi")) and who == "coordinator":
        # Coordinators decide join requests of their own units: request 1 is not one of them.
        assert replies == ["Không tìm thấy yêu cầu tham gia này."]
    else:
        assert replies == [NOT_ALLOWED]
    assert await _footprint(db) == before


@pytest.mark.parametrize("who", ["member", "coordinator"])
@pytest.mark.parametrize("data", ADMIN_BUTTONS)
async def test_forged_admin_buttons_are_refused(people, db, who, data):
    person = people[who]
    before = await _footprint(db)
    replies = await person.press(data)
    assert replies == [NOT_ALLOWED]
    assert await _footprint(db) == before
