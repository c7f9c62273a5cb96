"""The declared commands and buttons: every one reachable, /help and the menus read from the same
declarations, and button data read and written by one codec that refuses forged data."""

from __future__ import annotations

import re

import pytest

from bot.demo import seed
from handlers.core import buttons
from handlers.core.buttons import Field, Go, Kind
from handlers.core.commands import registry
from language.texts import Texts
from tests.conftest import ADMIN_ID
from tests.test_registration import join

T = Texts("vi")
MEMBER_ID, COORDINATOR_ID = 6001, 6002


@pytest.fixture
async def people(db, clock, chat):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    return {
        "member": await join(chat, MEMBER_ID, "Phạm Văn Cường"),
        "coordinator": await join(chat, COORDINATOR_ID, "Lê Văn Dũng", code="DEMO-PT"),
        # The admin has joined a unit too, so they hold every role.
        "admin": await join(chat, ADMIN_ID, "Trần Thị Quản Trị"),
    }


def menu_of(api, chat_id: int | None) -> list[str]:
    """The newest command menu sent for this chat (None: everyone's default menu)."""
    menus = [
        c.params
        for c in api.calls
        if c.method == "setMyCommands"
        and c.params.get("scope")
        == ({"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id})
    ]
    return [c["command"] for c in menus[-1]["commands"]]


def listed_in(text: str) -> set[str]:
    """The commands /help gives a line of their own."""
    return {m[1] for m in re.finditer(r"^/(\w+)", text, re.M)}


@pytest.mark.parametrize(
    "who, chat_id", [("member", None), ("coordinator", COORDINATOR_ID), ("admin", ADMIN_ID)]
)
async def test_help_lists_exactly_the_menu_of_each_role(people, api, who, chat_id):
    text = (await people[who].send("/help"))[0]
    menu = menu_of(api, chat_id)
    # /start, /tieptuc and /huy are in every menu; /help names them in its closing lines.
    assert listed_in(text) == {name for name in menu if registry().commands[name].help}
    assert {"start", "tieptuc", "huy"} <= set(menu)
    assert all(f"/{name}" in text for name in ("tieptuc", "huy"))


async def test_an_admins_help_lists_every_command_an_admin_may_use(db, clock, chat):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    admin = chat(ADMIN_ID, "Quản trị")  # an admin of the configuration, in no unit
    text = (await admin.send("/help"))[0]
    assert text.startswith("Với vai trò quản trị:")
    for name in ("duyet", "donvi", "danhgia", "tomtat", "xuatexcel", "moi", "yeucau", "themdonvi"):
        assert f"\n/{name} " in text
    # An admin's wording where a coordinator's would say "your units".
    assert T("help-cmd-xuatexcel-admin") in text and T("help-cmd-xuatexcel") not in text
    assert "/dangky" not in text  # not a member: registering would be refused


async def test_every_declared_command_is_reachable(people):
    admin = people["admin"]  # holds every role: nothing may be unknown or refused
    refused = {T("error-not-allowed"), T("error-not-member")}
    for name in sorted(registry().commands):
        replies = await admin.send(f"/{name}")
        await admin.send("/huy")  # whatever it opened
        assert not any(r.startswith(f"Không có lệnh /{name}") for r in replies), name
        assert not refused & set(replies), name


async def test_a_command_is_refused_by_its_declared_role(people, chat):
    assert await chat(5150, "Bình").send("/dangky") == [T("error-not-member")]
    assert await people["member"].send("/duyet") == [T("error-not-allowed")]
    assert await people["coordinator"].send("/thongbao") == [T("error-not-allowed")]


# --- the codec ----------------------------------------------------------------------------------

# One example per declared kind, as sent today (messages already sent carry these bytes).
SAMPLES = {
    "f": (buttons.FORM, (12, "e:title"), "f:12:e:title"),
    "d": (buttons.DRAFT, (12, "n"), "d:12:n"),
    "jr": (buttons.JOIN_REQUEST, ("a", 7), "jr:a:7"),
    "m": (buttons.MODEL, (5,), "m:5"),
    "iv": (buttons.INVITE, ("y", 3), "iv:y:3"),
    "rp": (buttons.REPORT, (5, True), "rp:5:r"),
    "rv": (buttons.REVIEW, ("x", 123456789), "rv:x:123456789"),
    "ed": (buttons.RESUBMIT, (5,), "ed:5"),
    "ov": (buttons.OVERDUE, (2,), "ov:2"),
    "ev": (buttons.EVALUATE, (5,), "ev:5"),
    "go": (buttons.GO, ("duyet",), "go:duyet"),
    "kt": (buttons.COMMEND, (5,), "kt:5"),
    "resume": (buttons.RESUME, (), "resume"),
    "cd": (buttons.CAMPAIGN_EDIT, (1,), "cd:1"),
    "rr": (buttons.REPORT_VIEW, (45,), "rr:45"),
    "mr": (buttons.MODEL_REPORTS, (12, 2), "mr:12:2"),
    "ur": (buttons.UNIT_REPORTS, (3, 0), "ur:3:0"),
    "ra": (buttons.ANSWER, (45,), "ra:45"),
    "me": (buttons.MINE, ("json",), "me:json"),
    "cs": (buttons.CONSENT, ("y", "2026-12", "ABCD2345"), "cs:y:2026-12:ABCD2345"),
    "qs": (buttons.QUESTIONS, (1, "report", "hy", "q12"), "qs:1:report:hy:q12"),
}


def test_every_declared_button_has_a_sample():
    assert set(SAMPLES) == set(registry().buttons)
    assert all(registry().buttons[p].kind is kind for p, (kind, _, _) in SAMPLES.items())


@pytest.mark.parametrize("prefix", sorted(SAMPLES))
def test_round_trip_keeps_todays_bytes(prefix):
    kind, fields, data = SAMPLES[prefix]
    assert kind(*fields) == data
    assert kind.decode(data) == kind.shape(*fields)
    assert kind.encode(kind.decode(data)) == data


@pytest.mark.parametrize(
    "kind, data, value",
    [
        (buttons.REPORT, "rp:5", buttons.ReportRef(5, False)),
        (buttons.QUESTIONS, "qs:1", buttons.QuestionsRef(1)),
        (buttons.QUESTIONS, "qs:1:registration", buttons.QuestionsRef(1, "registration")),
        (buttons.QUESTIONS, "qs:1:report:a", buttons.QuestionsRef(1, "report", "a")),
        (buttons.FORM, "f:3:o:cong_chuc", buttons.Step(3, "o:cong_chuc")),
        (buttons.MODEL, "m:007", buttons.Ref(7)),
    ],
)
def test_optional_parts(kind, data, value):
    assert kind.decode(data) == value


@pytest.mark.parametrize(
    "kind, data",
    [
        (buttons.REVIEW, "rv:a:1x"),
        (buttons.REVIEW, "rv:q:1"),
        (buttons.REVIEW, "rv:a:1234567890"),  # more than a 32-bit id
        (buttons.REVIEW, "rv:a:١٢"),  # digits, but not ASCII ones
        (buttons.REVIEW, "rv:a:1\n"),
        (buttons.REVIEW, "rv:a"),
        (buttons.REVIEW, "rva:1"),
        (buttons.MODEL, "m:"),
        (buttons.MODEL, "m:-1"),
        (buttons.MODEL, "m:1:2"),
        (buttons.RESUME, "resume:1"),
        (buttons.REPORT, "rp:1:x"),
        (buttons.REPORT, "rp:1:r:r"),
        (buttons.GO, "go:thongke"),
        (buttons.COMMEND, "kt"),
        (buttons.QUESTIONS, "qs:1:"),
        (buttons.QUESTIONS, "qs:1::a"),
        (buttons.QUESTIONS, "qs:1:report:h:x1"),
        (buttons.QUESTIONS, "qs:1:report:a:q1:x"),
        (buttons.FORM, "f:1:"),
        (buttons.FORM, "f:1:a b"),
        (buttons.FORM, "f:x:ok"),
        (buttons.FORM, "f:1:" + "a" * 49),
        (buttons.DRAFT, "f:1:c"),
    ],
)
def test_forged_data_is_refused(kind, data):
    assert kind.decode(data) is None


@pytest.mark.parametrize(
    "kind, fields",
    [
        (buttons.REVIEW, ("q", 1)),
        (buttons.MODEL, (-1,)),
        (buttons.MODEL, (1234567890,)),
        (buttons.QUESTIONS, (1, None, "a")),  # an action needs its form
        (buttons.FORM, (1, "a b")),
    ],
)
def test_encode_refuses_what_would_not_read_back(kind, fields):
    with pytest.raises(ValueError):
        kind(*fields)


def test_encode_refuses_more_than_64_bytes():
    long = Kind("go", Go, Field(r"[a-z]{1,100}"))
    assert long("a" * 61) == "go:" + "a" * 61  # 64 bytes
    with pytest.raises(ValueError, match="64 bytes"):
        long("a" * 62)


async def test_a_forged_press_is_answered_as_stale(people):
    member = people["member"]
    for data in ("rv:a:1x", "zz:1", "resume:1"):
        assert await member.press(data) == []
        assert member.last_notice() == T("button-stale")
    # Well-formed, but not the member's to press: refused by the declared role.
    assert await member.press("rv:a:1") == [T("error-not-allowed")]
