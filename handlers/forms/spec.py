"""Forms as data: the fields a conversation asks, their types, validation and conditions.

A form can be declared in code or read from a dict (so an admin's own questions, stored as
JSON, go through the same engine)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from storage.conversation_state import Answers

FieldType = Literal["text", "name", "number", "date", "choice", "phone", "group", "photos"]


@dataclass(frozen=True)
class Option:
    value: str
    label: str


class Paged(list[Option]):
    """A choice's options as the database searched and paged them (thousands of people): only
    those of the page the form's state shows, of `total` matching its search; and, when the
    person typed text this update, the first options matching that text (`typed_found`, of
    `typed_total`), for reading it as an answer."""

    def __init__(
        self,
        shown: list[Option],
        *,
        total: int,
        typed: str | None = None,
        typed_found: list[Option] | None = None,
        typed_total: int = 0,
    ) -> None:
        super().__init__(shown)
        self.total = total
        self.typed = typed
        self.typed_found = typed_found or []
        self.typed_total = typed_total


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    # Catalog keys; a text that is not a key is shown as written (admins' own questions).
    label: str
    prompt: str
    required: bool = True
    max_length: int = 200
    min_length: int = 1
    multiline: bool = False
    integer: bool = False
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    options: tuple[Option, ...] = ()
    # Options looked up at the moment of asking (fields, units), by name, from the caller.
    source: str | None = None
    # Asked only when every (answer name, value) pair holds.
    when: tuple[tuple[str, str], ...] = ()
    # Dates: bounds given as another answer's name or a context key starting with "@".
    not_before: str | None = None
    not_after: str | None = None
    # A named check the caller runs against the database (a title must be new, say).
    check: str | None = None
    fields: tuple[FieldSpec, ...] = ()  # a group's own fields, asked once per item
    page_size: int = 12  # choices shown at once; more are paged and searchable by typing
    min_items: int = 1  # groups: items; photos: pictures before "done" is accepted
    max_items: int = 20
    item_label: str = "form-group-item"  # groups: what each item is called ("Chỉ tiêu {n}:")
    # Texts: a name other people read (a unit's), refused when it cannot be read.
    readable: bool = False
    # Numbers: the units a typed number may carry ("15 người"), catalog keys or texts, the first
    # named in refusals and prompts; or another answer that names the unit (a target's "căn").
    units: tuple[str, ...] = ()
    unit_from: str | None = None
    example: str = "5"  # the number of the example a refusal gives ("15 người")
    clock: bool = False  # an hour of the day (0–23), shown as "09:00" like every other time
    # Skipped, the answer stands for this (a stored value), or for another answer ("starts_on")
    # or a context value ("@campaign_starts_on"); the summary shows it, not "(bỏ trống)".
    default: str | None = None
    default_from: str | None = None

    def applies(self, answers: Answers) -> bool:
        return all(answers.get(name) == value for name, value in self.when)


@dataclass(frozen=True)
class FormSpec:
    name: str
    title: str
    fields: tuple[FieldSpec, ...]
    summary: bool = True
    confirm_label: str = "form-confirm"

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


def field_from_dict(data: dict[str, Any]) -> FieldSpec:
    values = dict(data)
    for key in ("minimum", "maximum"):
        if values.get(key) is not None:
            values[key] = Decimal(str(values[key]))
    values["options"] = tuple(Option(**option) for option in values.get("options", ()))
    values["when"] = tuple(tuple(pair) for pair in values.get("when", ()))
    values["fields"] = tuple(field_from_dict(sub) for sub in values.get("fields", ()))
    values["units"] = tuple(values.get("units", ()))
    return FieldSpec(**values)


def form_from_dict(data: dict[str, Any]) -> FormSpec:
    return FormSpec(
        name=data["name"],
        title=data["title"],
        fields=tuple(field_from_dict(item) for item in data["fields"]),
        summary=data.get("summary", True),
        confirm_label=data.get("confirm_label", "form-confirm"),
    )


@dataclass
class FormEnv:
    """What the engine needs from outside: dynamic options and context values (campaign dates)."""

    options: dict[str, list[Option]] = field(default_factory=dict)
    # Values a date's bounds name with "@" (the campaign's dates, today): the conversation's
    # context, or what the flow adds.
    context: Mapping[str, object] = field(default_factory=dict)
    # Turns an option's label (often a catalog key) into what the person sees and types.
    labeler: Callable[[str], str] = str
    # Values the prompts' placeholders name (the hours /nhacnho can choose).
    params: dict[str, object] = field(default_factory=dict)

    def options_for(self, spec: FieldSpec) -> list[Option]:
        if spec.source is not None:
            return self.options.get(spec.source, [])
        return list(spec.options)


def default_of(
    spec: FieldSpec, answers: Mapping[str, object], context: Mapping[str, object]
) -> str | None:
    """What a skipped answer stands for (see `FieldSpec.default`); None when nothing."""
    ref = spec.default_from
    if ref is None:
        return spec.default
    value = context.get(ref[1:]) if ref.startswith("@") else answers.get(ref)
    return value if isinstance(value, str) and value else None
