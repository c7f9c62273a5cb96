"""How a form's answers read in its summary and prompts: numbers, dates and choices the
Vietnamese way, a skipped answer as the default it stands for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import cast

from handlers.core.context import Ctx
from handlers.forms import engine, numbers
from handlers.forms.spec import FieldSpec, FormEnv
from language import vn
from storage.conversation_state import Item


def value_text(
    ctx: Ctx, spec: FieldSpec, value: engine.FinalValue, env: FormEnv, item: Item | None = None
) -> str:
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
            if spec.clock:
                return f"{int(Decimal(value)):02}:00"
            # With the unit it counts, the way the rest of the bot writes it ("15 người", "5 căn",
            # "2,5 tỷ đồng"). `item`: the group item whose own answer names the unit.
            units = numbers.units_of(spec, {}, item, ctx.label)
            if not units:
                return vn.format_number(Decimal(value))
            return vn.format_amount(Decimal(value), units[0])
        case "date":
            return vn.format_date(date.fromisoformat(value))
        case "phone":
            return vn.format_phone(value)
        case "choice":
            for option in env.options_for(spec):
                if option.value == value:
                    return ctx.label(option.label)
    return value


def item_text(ctx: Ctx, spec: FieldSpec, item: Item, env: FormEnv) -> str:
    """A target reads "nhà đại đoàn kết: 5 căn": the answer naming the unit goes with its
    number, and a name followed by a single value takes a colon."""
    naming = {sub.unit_from for sub in spec.fields if sub.unit_from}
    shown = [
        (sub, value_text(ctx, sub, item.get(sub.name), env, item))
        for sub in spec.fields
        if sub.name not in naming
    ]
    if len(shown) == 2 and shown[0][0].type in ("text", "name"):
        return f"{shown[0][1]}: {shown[1][1]}"
    return " · ".join(text for _, text in shown)


def shortened(label: str, limit: int = 60) -> str:
    """A button's label cut to `limit` characters, "…" marking the cut."""
    return label if len(label) <= limit else label[: limit - 1] + "…"
