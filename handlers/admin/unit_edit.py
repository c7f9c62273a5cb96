"""/suadonvi: an admin renames a unit, moves it under another one (or to the top level), or
deactivates it and later reactivates it. A deactivated unit keeps its members and their data, but
nothing new is attached to it: it is not offered when registering, inviting or asking to join,
and its invite links are revoked for good (reactivating it does not reopen them). Every answer is
checked again against the database when the change is applied: another admin may have changed
the tree meanwhile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.core.commands import Role, form
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.options import unit_options
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.invites import audit_revoked
from language import vn
from storage.models import Conversation, Unit
from storage.records.audit import add_audit_entry
from storage.records.invites import revoke_unit_invites
from storage.records.units import active_children, all_units, lock_units, with_descendants

TOP = "top"
AUDITED = {
    "rename": "unit.renamed",
    "move": "unit.moved",
    "deactivate": "unit.deactivated",
    "reactivate": "unit.reactivated",
}


def _marked(ctx: Ctx, units: Sequence[Unit], every: Sequence[Unit]) -> list[Option]:
    inactive = {u.id for u in units if not u.active}
    mark = ctx.t("unit-inactive-mark")
    return [
        Option(o.value, f"{o.label} {mark}" if int(o.value) in inactive else o.label)
        for o in unit_options(units, every)
    ]


class UnitEditFlow(AdminFlow):
    form = FormSpec(
        "unitedit",
        "form-unit-edit",
        (
            FieldSpec("unit", "choice", "label-unit", "ask-edit-unit", source="units"),
            FieldSpec("action", "choice", "label-unit-action", "ask-unit-action", source="actions"),
            FieldSpec(
                "name",
                "text",
                "label-unit-new-name",
                "ask-unit-new-name",
                max_length=200,
                readable=True,
                when=(("action", "rename"),),
            ),
            FieldSpec(
                "parent",
                "choice",
                "label-unit-parent",
                "ask-unit-new-parent",
                source="parents",
                when=(("action", "move"),),
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        every = await all_units(ctx.session, active_only=False)
        unit = _chosen(every, conv.state["answers"])
        actions = ["rename", "move"]
        if unit is not None:
            actions.append("deactivate" if unit.active else "reactivate")
        active = [u for u in every if u.active]
        return FormEnv(
            options={
                "units": _marked(ctx, every, every),
                "actions": [Option(a, f"unit-action-{a}") for a in actions],
                "parents": [Option(TOP, "unit-parent-top"), *unit_options(active, every)],
            }
        )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        answers = conv.state["answers"]
        if spec.name in ("action", "name", "parent"):
            every = await all_units(ctx.session, active_only=False)
            unit = _chosen(every, answers)
            if unit is None:
                raise vn.InputError("error-choice")
            await _check(ctx, every, unit, spec.name, value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        # The whole tree, locked and read fresh (PostgreSQL): two admins moving units into each
        # other at once must not both pass the cycle check.
        every = await lock_units(ctx.session)
        unit = _chosen(every, answers)
        if unit is None:
            raise vn.InputError("error-choice")
        action = answers["action"]
        await _check(ctx, every, unit, "action", action)
        details: dict[str, Any] = {"code": unit.code}
        if action == "rename":
            await _check(ctx, every, unit, "name", answers["name"])
            details |= {"old": unit.name, "new": answers["name"]}
            ctx.say("unit-renamed", code=unit.code, old=unit.name, new=answers["name"])
            unit.name = answers["name"]
        elif action == "move":
            await _check(ctx, every, unit, "parent", answers["parent"])
            parent = None if answers["parent"] == TOP else int(answers["parent"])
            details |= {"from": unit.parent_id, "to": parent}
            unit.parent_id = parent
            if parent is None:
                ctx.say("unit-moved-top", unit=unit.name)
            else:
                ctx.say("unit-moved", unit=unit.name, parent=_by_id(every)[parent].name)
        else:
            unit.active = action == "reactivate"
            # Counted in a campaign's figures while active at some time during it.
            unit.active_until = None if unit.active else ctx.today
            ctx.say("unit-reactivated" if unit.active else "unit-deactivated", unit=unit.name)
        await ctx.session.flush()
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action=AUDITED[action],
            object_type="unit",
            object_id=unit.id,
            details=details,
        )
        if action == "deactivate":
            # For good: reactivating the unit later does not reopen links handed out before.
            revoked = await revoke_unit_invites(ctx.session, unit_id=unit.id)
            if revoked:
                await audit_revoked(ctx, revoked, reason="unit_deactivated")
                ctx.say("unit-invites-revoked", count=vn.format_number(len(revoked)))


register(UnitEditFlow())


def _by_id(units: Sequence[Unit]) -> dict[int, Unit]:
    return {u.id: u for u in units}


def _chosen(units: Sequence[Unit], answers: dict[str, Any]) -> Unit | None:
    value = answers.get("unit")
    return _by_id(units).get(int(value)) if value and str(value).isdigit() else None


async def _check(ctx: Ctx, every: Sequence[Unit], unit: Unit, what: str, value: Any) -> None:
    """Raise vn.InputError when the change cannot be made to the tree as it is now."""
    by_id = _by_id(every)
    if what == "action":
        if value == "deactivate":
            if not unit.active:
                raise vn.InputError("error-unit-inactive-already", unit=unit.name)
            children = await active_children(ctx.session, unit_id=unit.id)
            if children:
                raise vn.InputError("error-unit-active-children", unit=unit.name, count=children)
        elif value == "reactivate":
            if unit.active:
                raise vn.InputError("error-unit-active-already", unit=unit.name)
            parent = by_id.get(unit.parent_id) if unit.parent_id else None
            if parent is not None and not parent.active:
                raise vn.InputError("error-unit-parent-inactive", parent=parent.name)
    elif what == "name":
        if value == unit.name:
            raise vn.InputError("error-unit-same-name")
    elif what == "parent":
        if value == TOP:
            if unit.parent_id is None:
                raise vn.InputError("error-unit-top-already", unit=unit.name)
            return
        parent = by_id.get(int(value)) if str(value).isdigit() else None
        if parent is None or not parent.active:
            raise vn.InputError("error-choice")
        if parent.id == unit.id:
            raise vn.InputError("error-unit-under-itself", unit=unit.name)
        if parent.id in with_descendants(every, [unit.id]):
            raise vn.InputError("error-unit-cycle", unit=unit.name, parent=parent.name)
        if parent.id == unit.parent_id:
            raise vn.InputError("error-unit-same-parent", unit=unit.name, parent=parent.name)


COMMANDS = (form("suadonvi", Role.ADMIN, "unitedit"),)
