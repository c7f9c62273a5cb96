"""Numbers as people answer them: with the unit the question expects ("15 người", "5 căn",
"7 giờ") or an amount word ("5 triệu"); a refusal names that unit and gives an example that
fits the question (a headcount's example is not "50.000.000 đồng")."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from handlers.forms.spec import FieldSpec
from language import vn
from storage.conversation_state import Value

_MONEY = frozenset({"dong", "vnd", "d"})


def units_of(
    spec: FieldSpec,
    answers: Mapping[str, object],
    item: Mapping[str, Value] | None,
    labeler: Callable[[str], str] = str,
) -> tuple[str, ...]:
    """The units a number typed at `spec` may carry, the one to name first. `item` is the group
    item being answered, whose own answers come before the form's."""
    named = [labeler(unit) for unit in spec.units]
    source: object = None
    if spec.unit_from is not None:
        # A group's own answer only: the form's "unit" may be something else entirely.
        source = item.get(spec.unit_from) if item is not None else answers.get(spec.unit_from)
        if isinstance(source, str) and source.strip():
            named.insert(0, source.strip())
    return tuple(named)


def example(spec: FieldSpec, units: tuple[str, ...]) -> str:
    return f"{spec.example} {units[0]}" if units else spec.example


def _money(units: tuple[str, ...]) -> bool:
    return bool(units) and bool(_MONEY & set(vn.fold(units[0]).split()))


def parse(spec: FieldSpec, raw: str, units: tuple[str, ...]) -> str:
    try:
        number = vn.parse_number(
            raw, integer=spec.integer, minimum=spec.minimum, maximum=spec.maximum, units=units
        )
    except vn.InputError as error:
        if error.key == "error-number-unit":
            error.params["example"] = example(spec, units)
        elif error.key == "error-number" and (spec.integer or units) and not _money(units):
            # Amounts keep the amount examples; a count or a measure gets its own.
            raise vn.InputError("error-number-example", example=example(spec, units)) from None
        raise
    # Plain digits: "1000", never "1E+3", so int() and Decimal() both read it back.
    return format(number.normalize(), "f")
