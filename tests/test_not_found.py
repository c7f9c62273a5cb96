"""Issue 15, "A button for a record that does not exist answers 'not found', not 'not allowed'":
button data is untrusted, so every kind that carries a record id is pressed here with an id no
record has (forged, or the record deleted since the message was sent), by an admin and by a
coordinator: the answer names what was not found, and nothing is changed or audited. A record
that exists in another unit is still refused, as are typed commands that take a number."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from handlers.core import buttons
from handlers.core.buttons import Kind
from handlers.core.commands import Role, registry
from storage.models import Base, Invite, JoinRequest, Model, Report, Unit
from storage.records.invites import add_join_request
from tests.conftest import make_coordinator
from tests.test_commands import T, people  # noqa: F401  (fixture)
from tests.test_followup import unit  # noqa: F401  (fixture)
from tests.test_statistics import thongke

NOWHERE = 987654321  # an id no record has

# Every kind of button that carries a record id: presses with an id no record has, each of its
# actions, and what they answer.
PRESSES: dict[str, tuple[list[str], str]] = {
    "jr": (["jr:a:{id}", "jr:r:{id}"], "join-not-found"),
    "m": (["m:{id}"], "model-not-found"),
    "iv": (["iv:r:{id}", "iv:y:{id}", "iv:n:{id}"], "invite-not-found"),
    "rp": (["rp:{id}", "rp:{id}:r"], "model-not-found"),
    "rv": (["rv:a:{id}", "rv:r:{id}", "rv:x:{id}", "rv:n:{id}"], "model-not-found"),
    "ed": (["ed:{id}"], "model-not-found"),
    "ov": (["ov:{id}"], "unit-not-found"),
    "ev": (["ev:{id}"], "model-not-found"),
    "kt": (["kt:{id}"], "model-not-found"),
    "cd": (["cd:{id}"], "campaign-not-found"),
    "rr": (["rr:{id}"], "report-not-found"),
    "mr": (["mr:{id}", "mr:{id}:1"], "model-not-found"),
    "ur": (["ur:{id}", "ur:{id}:2"], "unit-not-found"),
    "ra": (["ra:{id}"], "report-not-found"),
    "qs": (
        ["qs:{id}", "qs:{id}:report", "qs:{id}:registration:a", "qs:{id}:report:hy:q1"],
        "campaign-not-found",
    ),
}


def kinds_with_an_id() -> dict[str, Kind[Any]]:
    kinds = [kind for kind in vars(buttons).values() if isinstance(kind, Kind)]
    return {kind.prefix: kind for kind in kinds if any(f is buttons.ID for f in kind.fields)}


def test_every_kind_with_an_id_is_pressed_here():
    """A new kind with a record id fails here until it is listed (and answers "not found")."""
    assert set(PRESSES) == set(kinds_with_an_id())
    for prefix, (presses, _) in PRESSES.items():
        kind = kinds_with_an_id()[prefix]
        for data in presses:
            value = kind.decode(data.format(id=NOWHERE))
            assert value is not None, data
            assert NOWHERE in value, data


async def everything(db) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a comparable form."""
    async with db.engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in await conn.execute(select(table))), key=repr
            )
            for table in Base.metadata.sorted_tables
        }


async def unchanged(db, before) -> None:
    after = await everything(db)
    assert [name for name in before if before[name] != after[name]] == []


@pytest.mark.parametrize("who", ["admin", "coordinator"])
@pytest.mark.parametrize("prefix", sorted(PRESSES))
async def test_a_press_for_a_record_that_does_not_exist(people, db, who, prefix):  # noqa: F811
    person = people[who]
    presses, key = PRESSES[prefix]
    # A coordinator does not hold an admin's buttons at all: refused before anything is looked up.
    if who == "coordinator" and registry().buttons[prefix].role is Role.ADMIN:
        key = "error-not-allowed"
    await person.send("/huy")
    before = await everything(db)
    for data in presses:
        assert await person.press(data.format(id=NOWHERE)) == [T(key, id=NOWHERE)], data
    await unchanged(db, before)


@pytest.mark.parametrize("who", ["admin", "coordinator"])
@pytest.mark.parametrize(
    "command, key",
    [
        (f"/chapnhan {NOWHERE}", "join-not-found"),
        (f"/tuchoi {NOWHERE}", "join-not-found"),
        (f"/traloi {NOWHERE}", "report-not-found"),
        (f"/baocao {NOWHERE}", "model-not-found"),
        ("/suadangky MH99999", "model-not-found"),
        (f"/suadangky {NOWHERE}", "model-not-found"),
    ],
)
async def test_a_typed_number_that_does_not_exist(people, db, who, command, key):  # noqa: F811
    person = people[who]
    await person.send("/huy")
    before = await everything(db)
    assert await person.send(command) == [T(key, id=NOWHERE)]
    await unchanged(db, before)


async def test_a_typed_campaign_code_that_does_not_exist(people, db):  # noqa: F811
    admin = people["admin"]
    before = await everything(db)
    unknown = T("stats-no-campaign", code="DVK1999")
    for command in ("/suadot DVK1999", "/cauhoi DVK1999"):
        assert await admin.send(command) == [unknown], command
    # /thongke adds how it is used: the code may be a mistyped year.
    assert (await thongke(admin, "DVK1999"))[0] == unknown
    await unchanged(db, before)


async def test_another_units_records_are_refused_not_hidden(unit, db, clock, chat):  # noqa: F811
    """A coordinator of another unit learns only that a record exists: the same refusal for every
    one of them, and nothing changes."""
    async with db.session() as session:
        here = await session.scalar(select(Unit).where(Unit.code == "CB-VP"))
        elsewhere = await session.scalar(select(Unit).where(Unit.code == "DB-SYT"))
        model_id = await session.scalar(select(Model.id).order_by(Model.id))
        report_id = await session.scalar(select(Report.id))
        invite_id = await session.scalar(select(Invite.id).where(Invite.unit_id == here.id))
        member_id = await session.scalar(select(Model.owner_id).where(Model.id == model_id))
        request = await add_join_request(session, member_id=member_id, unit_id=here.id, now=clock())
        request_id = request.id
        elsewhere_id = elsewhere.id
    await make_coordinator(db, unit_id=elsewhere_id, telegram_id=7400, now=clock())
    other = chat(7400, "Khác")
    await other.send("/help")  # buttons are pressed on a message the bot wrote
    before = await everything(db)
    refused = [T("error-not-allowed")]
    for data in (
        f"rv:a:{model_id}",
        f"rv:n:{model_id}",
        f"ev:{model_id}",
        f"ov:{here.id}",
        f"iv:y:{invite_id}",
        f"jr:a:{request_id}",
    ):
        assert await other.press(data) == refused, data
    for command in (f"/chapnhan {request_id}", f"/traloi {report_id}"):
        assert await other.send(command) == refused, command
    # Where it does not exist at all, the same coordinator is told so.
    assert await other.press(f"iv:y:{NOWHERE}") == [T("invite-not-found")]
    assert await other.send(f"/traloi {NOWHERE}") == [T("report-not-found", id=NOWHERE)]
    await unchanged(db, before)
    async with db.session() as session:
        assert (await session.get(JoinRequest, request_id)).status == "pending"
