"""A repeated group changed from the summary: its items are listed, and the person changes one
(field by field, each field keeping its value when skipped), adds one or removes one; every other
item stays as it was. Pure functions over the engine's state, like the engine itself."""

from __future__ import annotations

from handlers.forms.engine import current_step, remember
from handlers.forms.spec import FieldSpec, FormSpec
from language import vn
from storage.conversation_state import FormState, GroupAnswer, group_answer


def _at(form: FormSpec, state: FormState, kind: str) -> tuple[FormState, FieldSpec, GroupAnswer]:
    """A copy of the state to change, the group's field and its answer in that copy."""
    step = current_step(form, state)
    if step.kind != kind or step.field is None:
        raise vn.InputError("error-choice")
    state = remember(state)
    group = group_answer(state["answers"], step.field.name)
    assert group is not None  # the items are listed only for a group that has some
    return state, step.field, group


def _index(group: GroupAnswer, index: int) -> int:
    if not 0 <= index < len(group["items"]):
        raise vn.InputError("error-choice")
    return index


def change(form: FormSpec, state: FormState, index: int) -> FormState:
    state, _, group = _at(form, state, "items")
    at = _index(group, index)
    group["mode"] = "item"
    group["at"] = at
    group["current"] = {}
    return state


def add(form: FormSpec, state: FormState) -> FormState:
    state, spec, group = _at(form, state, "items")
    if len(group["items"]) >= spec.max_items:
        raise vn.InputError("error-group-full", max=spec.max_items)
    group["mode"] = "add"
    group["at"] = None
    group["current"] = {}
    return state


def choose_removal(form: FormSpec, state: FormState) -> FormState:
    state, spec, group = _at(form, state, "items")
    if len(group["items"]) <= spec.min_items:
        raise vn.InputError("error-group-min", min=spec.min_items)
    group["mode"] = "remove"
    return state


def remove(form: FormSpec, state: FormState, index: int) -> FormState:
    state, spec, group = _at(form, state, "remove")
    if len(group["items"]) <= spec.min_items:
        raise vn.InputError("error-group-min", min=spec.min_items)
    removed = group["items"].pop(_index(group, index))
    # Kept for the summary to show until the form is sent; back brings the item back.
    group["removed"] = [*group.get("removed", []), removed]
    group["mode"] = "items"
    return state


def close(form: FormSpec, state: FormState) -> FormState:
    state, spec, group = _at(form, state, "items")
    if len(group["items"]) < spec.min_items:
        raise vn.InputError("error-min-items", min=spec.min_items)
    group["open"] = False
    group.pop("mode", None)
    group.pop("at", None)
    return state
