"""/linhvuc: the fields of activity (lĩnh vực) models are registered under. An admin adds one,
renames one, hides one or shows it again. Names are unique whatever their case and diacritics
("chuyen doi so" is "Chuyển đổi số"). A hidden field is no longer offered when registering;
the models that have it keep it, and statistics still count them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.core import conversation
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.forms.engine import fold
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from language import vn
from storage.models import Conversation, Field
from storage.records.audit import add_audit_entry
from storage.records.fields import add_field, all_fields, models_per_field

ACTIONS = ("add", "rename", "hide", "show")
# The answer holding the chosen field, per action.
PICKED = {"rename": "renamed", "hide": "to_hide", "show": "to_show"}
AUDITED = {
    "add": "field.added",
    "rename": "field.renamed",
    "hide": "field.hidden",
    "show": "field.shown",
}


def _pick(name: str, prompt: str, source: str, action: str) -> FieldSpec:
    return FieldSpec(
        name, "choice", "label-field", prompt, source=source, when=(("action", action),)
    )


class FieldsFlow(AdminFlow):
    form = FormSpec(
        "fields",
        "form-fields",
        (
            FieldSpec(
                "action",
                "choice",
                "label-field-action",
                "ask-field-action",
                options=tuple(Option(a, f"field-action-{a}") for a in ACTIONS),
            ),
            _pick("renamed", "ask-field-rename", "fields", "rename"),
            _pick("to_hide", "ask-field-hide", "visible", "hide"),
            _pick("to_show", "ask-field-show", "hidden", "show"),
            FieldSpec(
                "name",
                "text",
                "label-field-name",
                "ask-field-name",
                max_length=120,
                when=(("action", "add"),),
            ),
            FieldSpec(
                "new_name",
                "text",
                "label-field-new-name",
                "ask-field-new-name",
                max_length=120,
                when=(("action", "rename"),),
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        fields = await all_fields(ctx.session)
        mark = ctx.t("field-hidden-mark")
        return FormEnv(
            options={
                "fields": [
                    Option(str(f.id), f"{f.name} {mark}" if f.hidden else f.name) for f in fields
                ],
                "visible": [Option(str(f.id), f.name) for f in fields if not f.hidden],
                "hidden": [Option(str(f.id), f.name) for f in fields if f.hidden],
            }
        )

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        await _check(ctx, conv.state["answers"], spec.name, value)

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        action = answers["action"]
        await _check(ctx, answers, "action", action)
        if action == "add":
            await _check(ctx, answers, "name", answers["name"])
            try:
                async with ctx.session.begin_nested():
                    field = await add_field(ctx.session, name=answers["name"])
            except IntegrityError as error:
                # Another admin added the same name a moment ago: the unique constraint decides.
                raise vn.InputError("error-field-name-taken", name=answers["name"]) from error
            details: dict[str, Any] = {"name": field.name}
            ctx.say("field-added", name=field.name)
        else:
            picked = answers[PICKED[action]]
            await _check(ctx, answers, PICKED[action], picked)
            field = await ctx.session.get(Field, int(picked))
            if field is None:
                raise vn.InputError("error-choice")
            details = {"name": field.name}
            if action == "rename":
                await _check(ctx, answers, "new_name", answers["new_name"])
                details["new"] = answers["new_name"]
                ctx.say("field-renamed", old=field.name, new=answers["new_name"])
                field.name = answers["new_name"]
            else:
                field.hidden = action == "hide"
                ctx.say("field-hidden" if action == "hide" else "field-shown", name=field.name)
            await ctx.session.flush()
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action=AUDITED[action],
            object_type="field",
            object_id=field.id,
            details=details,
        )


register(FieldsFlow())


async def _check(ctx: Ctx, answers: dict[str, Any], what: str, value: Any) -> None:
    """Raise vn.InputError when the answer does not fit the fields as they are now."""
    fields = await all_fields(ctx.session)
    if what == "action":
        if value == "show" and not any(f.hidden for f in fields):
            raise vn.InputError("fields-none-hidden")
        if value == "hide" and all(f.hidden for f in fields):
            raise vn.InputError("fields-none-visible")
    elif what in PICKED.values():
        field = next((f for f in fields if str(f.id) == str(value)), None)
        if field is None:
            raise vn.InputError("error-choice")
        if what == "to_hide" and field.hidden:
            raise vn.InputError("field-hidden-already", name=field.name)
        if what == "to_show" and not field.hidden:
            raise vn.InputError("field-shown-already", name=field.name)
    elif what == "name":
        _unique(fields, value, None)
    elif what == "new_name":
        field = next((f for f in fields if str(f.id) == str(answers.get("renamed"))), None)
        if field is None:
            raise vn.InputError("error-choice")
        if value == field.name:
            raise vn.InputError("error-field-same-name")
        _unique(fields, value, field.id)


def _unique(fields: Sequence[Field], name: str, except_id: int | None) -> None:
    for field in fields:
        if field.id != except_id and fold(field.name) == fold(name):
            raise vn.InputError("error-field-name-taken", name=field.name)


async def start(ctx: Ctx) -> None:
    """The fields with how many models each has, then what to change."""
    fields = await all_fields(ctx.session)
    counts = await models_per_field(ctx.session)
    lines = [ctx.t("fields-head", count=vn.format_number(len(fields)))]
    for i, field in enumerate(fields, 1):
        line = ctx.t(
            "fields-line", n=i, name=field.name, models=vn.format_number(counts.get(field.id, 0))
        )
        lines.append(f"{line} {ctx.t('field-hidden-mark')}" if field.hidden else line)
    ctx.result.say("\n".join(lines))
    await conversation.start(ctx, "fields")


COMMANDS = (Command(("linhvuc",), Role.ADMIN, lambda ctx, conv, a: start(ctx), opens="fields"),)
