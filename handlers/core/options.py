"""Choice lists built from records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from handlers.forms.spec import Option
from storage.models import Unit


def unit_options(units: Sequence[Unit], all_units: Sequence[Unit] | None = None) -> list[Option]:
    """Units by name; where names repeat ("Chi bộ Văn phòng" under many parents), the parent's
    name and then the code tell them apart, so a person never faces two identical buttons."""
    by_id = {unit.id: unit for unit in (all_units if all_units is not None else units)}
    names = Counter(unit.name for unit in units)
    labels = {}
    for unit in units:
        label = unit.name
        if names[unit.name] > 1:
            parent = by_id.get(unit.parent_id) if unit.parent_id else None
            label = f"{unit.name} — {parent.name}" if parent else f"{unit.name} ({unit.code})"
        labels[unit.id] = label
    repeated = Counter(labels.values())
    return [
        Option(
            str(unit.id),
            labels[unit.id]
            if repeated[labels[unit.id]] == 1
            else f"{labels[unit.id]} ({unit.code})",
        )
        for unit in units
    ]


def people_options(people: Sequence[tuple[int, str, list[str]]], no_unit: str) -> list[Option]:
    """People by name with their units, so namesakes can be told apart (and typed search finds
    a person by unit as well); identical labels get the person's number."""
    labels = {}
    for member_id, name, units in people:
        shown = ", ".join(units[:2]) + (f" +{len(units) - 2}" if len(units) > 2 else "")
        labels[member_id] = f"{name} — {shown or no_unit}"
    repeated = Counter(labels.values())
    return [
        Option(str(member_id), label if repeated[label] == 1 else f"{label} (#{member_id})")
        for member_id, label in labels.items()
    ]
