"""How a form's answers read in its summary and prompts: numbers, dates and choices the
Vietnamese way, a skipped answer as the default it stands for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import cast

from handlers.core.context import Ctx
from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormEnv
from language import vn
from storage.conversation_state import Item


def value_text(ctx: Ctx, spec: FieldSpec, value: engine.FinalValue, env: FormEnv) -> str:
    if value is None:
        return ctx.t("form-skipped")
    if isinstance(value, list):
        if spec.type == "group":
            items = cast("list[Item]", value)
            return "\n".join(
                f"  {i}. {item_text(ctx, spec, item, env)}" for i, item in enumerate(items, 1)
            )
        return ctx.t("form-photos-count", count=len(value))
    match spec.type:
        case "number":
            return vn.format_number(Decimal(value))
        case "date":
            return vn.format_date(date.fromisoformat(value))
        case "choice":
            for option in env.options_for(spec):
                if option.value == value:
                    return ctx.label(option.label)
    return value


def item_text(ctx: Ctx, spec: FieldSpec, item: Item, env: FormEnv) -> str:
    return " · ".join(value_text(ctx, sub, item.get(sub.name), env) for sub in spec.fields)
