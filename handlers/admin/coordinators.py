"""/phutrach: an admin makes a person coordinator of one or more units, or removes a coordinator
from a unit. The person is found among thousands by typing part of their name (diacritics
optional), shown with their units so namesakes are told apart; they are told through the outbox
and their command menu is refreshed."""

from __future__ import annotations

from typing import Any

from handlers.core import conversation, menu
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.options import unit_options
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.invites import audit_revoked
from handlers.shared.people import choose_person, name_of, person_field, roles_changed, tell
from language import vn
from storage import rules
from storage.conversation_state import group_answer
from storage.models import Conversation, Member, Membership, Unit
from storage.records.audit import add_audit_entry
from storage.records.invites import revoke_orphaned
from storage.records.people import add_membership, coordinator_assignments, remove_coordinator
from storage.records.units import all_units, units_by_ids

LISTED = 30


class CoordinatorsFlow(AdminFlow):
    form = FormSpec(
        "coordinators",
        "form-coordinators",
        (
            FieldSpec(
                "action",
                "choice",
                "label-coordinator-action",
                "ask-coordinator-action",
                options=(
                    Option("assign", "coordinator-action-assign"),
                    Option("remove", "coordinator-action-remove"),
                ),
            ),
            person_field(("action", "assign")),
            FieldSpec(
                "units",
                "group",
                "label-coordinator-units",
                "ask-coordinator-units",
                fields=(
                    FieldSpec(
                        "unit", "choice", "label-unit", "ask-coordinator-unit", source="units"
                    ),
                ),
                item_label="coordinator-unit-item",
                when=(("action", "assign"),),
            ),
            FieldSpec(
                "assignment",
                "choice",
                "label-coordinator-assignment",
                "ask-coordinator-assignment",
                source="assignments",
                when=(("action", "remove"),),
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        action = conv.state["answers"].get("action")
        options: dict[str, list[Option]] = {}
        if action == "assign":
            options["people"] = await choose_person(ctx, conv, self.form, admins=None)
            every = await ctx.once("units", lambda: all_units(ctx.session, active_only=False))
            options["units"] = unit_options([u for u in every if u.active], every)
        elif action == "remove":
            options["assignments"] = await _assignments(ctx)
        return FormEnv(options=options)

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        answers = conv.state["answers"]
        if spec.name == "action" and value == "remove":
            if not await coordinator_assignments(ctx.session):
                raise vn.InputError("coordinators-none")
        elif spec.name == "unit":
            group = group_answer(answers, "units")
            if any(item["unit"] == value for item in (group["items"] if group else [])):
                raise vn.InputError("coordinator-unit-twice")
            await _not_yet(ctx, int(answers["person"]), [int(value)])

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if answers["action"] == "assign":
            await _assign(
                ctx, conv, int(answers["person"]), [int(i["unit"]) for i in answers["units"]]
            )
        else:
            await _remove(ctx, conv, int(answers["assignment"]))


register(CoordinatorsFlow())


async def _assignments(ctx: Ctx) -> list[Option]:
    mark = ctx.t("unit-inactive-mark")
    return [
        Option(
            str(membership.id),
            f"{name_of(ctx, member)} — {unit.name}" + ("" if unit.active else f" {mark}"),
        )
        for membership, member, unit in await coordinator_assignments(ctx.session)
    ]


async def _not_yet(ctx: Ctx, person_id: int, unit_ids: list[int]) -> None:
    held = {
        unit.id: unit
        for _, _, unit in await coordinator_assignments(ctx.session, member_id=person_id)
    }
    for unit_id in unit_ids:
        if unit_id in held:
            person = await ctx.session.get(Member, person_id)
            name = name_of(ctx, person) if person else ""
            raise vn.InputError("coordinator-already", name=name, unit=held[unit_id].name)


async def _assign(ctx: Ctx, conv: Conversation, person_id: int, unit_ids: list[int]) -> None:
    person = await ctx.session.get(Member, person_id)
    units = await units_by_ids(ctx.session, ids=unit_ids)
    if person is None or set(units) != set(unit_ids):
        raise vn.InputError("error-choice")
    for unit in units.values():
        if not unit.active:
            raise vn.InputError("error-unit-inactive", unit=unit.name)
    await _not_yet(ctx, person_id, unit_ids)
    names = []
    for unit_id in dict.fromkeys(unit_ids):
        unit = units[unit_id]
        await add_membership(
            ctx.session,
            member_id=person.id,
            unit_id=unit.id,
            role=rules.ROLE_COORDINATOR,
            now=ctx.now,
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="coordinator.assigned",
            object_type="member",
            object_id=person.id,
            details={"unit_id": unit.id, "code": unit.code},
        )
        names.append(unit.name)
    units_text = ", ".join(names)
    ctx.say("coordinator-assigned", name=name_of(ctx, person), units=units_text)
    text = (
        ctx.t("coordinator-assigned-notice", units=units_text)
        + "\n\n"
        + menu.help_section(ctx.t, Role.STAFF)
    )
    await tell(ctx, conv, person.id, text)
    await roles_changed(ctx, person.id)


async def _remove(ctx: Ctx, conv: Conversation, membership_id: int) -> None:
    membership = await ctx.session.get(Membership, membership_id)
    if membership is None or membership.role != rules.ROLE_COORDINATOR:
        raise vn.InputError("coordinator-gone")
    person = await ctx.session.get(Member, membership.member_id)
    unit = await ctx.session.get(Unit, membership.unit_id)
    assert person is not None and unit is not None
    if not await remove_coordinator(ctx.session, membership_id=membership_id):
        raise vn.InputError("coordinator-gone")
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="coordinator.removed",
        object_type="member",
        object_id=person.id,
        details={"unit_id": unit.id, "code": unit.code},
    )
    ctx.say("coordinator-removed", name=name_of(ctx, person), unit=unit.name)
    # The links they handed out would go on admitting people in their name.
    revoked = await revoke_orphaned(ctx.session, creator_id=person.id)
    if revoked:
        await audit_revoked(ctx, revoked, reason="coordinator_removed")
        ctx.say("coordinator-invites-revoked", count=vn.format_number(len(revoked)))
    await tell(ctx, conv, person.id, ctx.t("coordinator-removed-notice", unit=unit.name))
    await roles_changed(ctx, person.id)


async def start(ctx: Ctx) -> None:
    """Who coordinates what, then what to change."""
    by_person: dict[int, tuple[Member, list[str]]] = {}
    for _, member, unit in await coordinator_assignments(ctx.session):
        by_person.setdefault(member.id, (member, []))[1].append(unit.name)
    if by_person:
        lines = [ctx.t("coordinators-head", count=vn.format_number(len(by_person)))]
        for member, names in list(by_person.values())[:LISTED]:
            lines.append(f"• {name_of(ctx, member)} — {', '.join(names)}")
        if len(by_person) > LISTED:
            lines.append(
                ctx.t("coordinators-more", count=vn.format_number(len(by_person) - LISTED))
            )
        ctx.result.say("\n".join(lines))
    else:
        ctx.say("coordinators-none")
    await conversation.start(ctx, "coordinators")


COMMANDS = (
    Command(("phutrach",), Role.ADMIN, lambda ctx, conv, a: start(ctx), opens="coordinators"),
)
