"""/themdonvi and /cacdonvi: an admin adds units and lists them."""

from __future__ import annotations

from typing import Any

from handlers.core.commands import Command, Role, form
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.options import unit_options
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec
from handlers.shared.codes import check_code
from language import vn
from storage.models import Conversation
from storage.records.audit import add_audit_entry
from storage.records.units import add_unit, all_units, unit_by_code


class UnitFlow(AdminFlow):
    form = FormSpec(
        "unit",
        "form-unit",
        (
            FieldSpec("code", "text", "label-unit-code", "ask-unit-code", max_length=32),
            FieldSpec(
                "name", "text", "label-unit-name", "ask-unit-name", max_length=200, readable=True
            ),
            FieldSpec(
                "parent",
                "choice",
                "label-unit-parent",
                "ask-unit-parent",
                source="units",
                required=False,
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        units = await all_units(ctx.session)
        return FormEnv(options={"units": unit_options(units)})

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "code":
            check_code(value)
            if await unit_by_code(ctx.session, code=value):
                raise vn.InputError("error-unit-code-taken", code=value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if await unit_by_code(ctx.session, code=answers["code"]):
            raise vn.InputError("error-unit-code-taken", code=answers["code"])
        parent = int(answers["parent"]) if answers.get("parent") else None
        unit = await add_unit(
            ctx.session,
            code=answers["code"],
            name=answers["name"],
            parent_id=parent,
            now=ctx.now,
            active_from=ctx.today,
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="unit.added",
            object_type="unit",
            object_id=unit.id,
            details={"code": unit.code},
        )
        ctx.say("unit-added", code=unit.code, name=unit.name)


register(UnitFlow())


async def list_units(ctx: Ctx) -> None:
    units = await all_units(ctx.session, active_only=False)
    if not units:
        ctx.say("units-none")
        return
    by_id = {u.id: u for u in units}
    lines = [ctx.t("units-head", count=vn.format_number(len(units)))]
    for unit in units[:200]:
        parent = by_id.get(unit.parent_id) if unit.parent_id else None
        line = f"• {unit.code} — {unit.name}" + (f" ({parent.code})" if parent else "")
        lines.append(line if unit.active else f"{line} {ctx.t('unit-inactive-mark')}")
    if len(units) > 200:
        lines.append(ctx.t("units-more", count=vn.format_number(len(units) - 200)))
    ctx.result.say("\n".join(lines))


COMMANDS = (
    form("themdonvi", Role.ADMIN, "unit"),
    Command(("cacdonvi",), Role.ADMIN, lambda ctx, conv, a: list_units(ctx)),
)
