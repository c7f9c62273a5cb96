"""Changing a repeated group from the summary, as pure functions over the engine's state: one item
changed, added or removed, never the others dropped; and a skip after photos keeps them."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from handlers.forms import engine, groups
from handlers.forms.spec import FieldSpec, FormSpec
from language.vn import InputError
from tests.test_form_engine import ENV, REGISTRATION, TARGETS, summary_state

THIRD = {"indicator": "Người dân được tiếp", "unit": "lượt", "value": "300"}


def apply(state: dict[str, Any], action: tuple[Any, ...]) -> dict[str, Any]:
    """One action; the input state is never touched and the result survives JSON."""
    before = copy.deepcopy(state)
    kind, *args = action
    moves: dict[str, Callable[..., dict[str, Any]]] = {
        "edit": lambda: engine.edit(REGISTRATION, state, "targets"),
        "change": lambda: groups.change(REGISTRATION, state, *args),
        "add": lambda: groups.add(REGISTRATION, state),
        "removal": lambda: groups.choose_removal(REGISTRATION, state),
        "remove": lambda: groups.remove(REGISTRATION, state, *args),
        "close": lambda: groups.close(REGISTRATION, state),
        "skip": lambda: engine.skip(REGISTRATION, state),
        "text": lambda: engine.answer_text(REGISTRATION, state, *args, ENV)[0],
        "back": lambda: engine.back(state),
    }
    new = moves[kind]()
    assert state == before
    assert json.loads(json.dumps(new)) == new
    return new


def run(*actions: tuple[Any, ...], state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    states = [summary_state() if state is None else state]
    for action in actions:
        states.append(apply(states[-1], action))
    return states


def path(state: dict[str, Any]) -> str:
    step = engine.current_step(REGISTRATION, state)
    return step.kind if step.kind in ("items", "remove", "summary") else step.path


def targets(state: dict[str, Any]) -> list[dict[str, str]]:
    return engine.final_answers(REGISTRATION, state)["targets"]


def test_change_one_item_keeping_two_of_its_fields() -> None:
    states = run(("edit",), ("change", 0), ("skip",), ("skip",), ("text", "2.000"), ("close",))
    assert [path(s) for s in states] == [
        "summary",
        "items",
        "targets.indicator",
        "targets.unit",
        "targets.value",
        "items",
        "summary",
    ]
    assert engine.kept_value(states[2], engine.current_step(REGISTRATION, states[2])) == (
        TARGETS[0]["indicator"],
    )
    assert targets(states[-1]) == [{**TARGETS[0], "value": "2000"}, TARGETS[1]]


def test_change_every_field_of_the_second_item() -> None:
    states = run(
        ("edit",),
        ("change", 1),
        ("text", "Mức hài lòng"),
        ("text", "%"),
        ("text", "90"),
        ("close",),
    )
    assert targets(states[-1]) == [
        TARGETS[0],
        {"indicator": "Mức hài lòng", "unit": "%", "value": "90"},
    ]


def test_add_one_then_remove_one() -> None:
    states = run(
        ("edit",),
        ("add",),
        ("text", THIRD["indicator"]),
        ("text", THIRD["unit"]),
        ("text", THIRD["value"]),
        ("removal",),
        ("remove", 0),
        ("close",),
    )
    assert [path(s) for s in states[-4:]] == ["items", "remove", "items", "summary"]
    assert targets(states[5]) == [*TARGETS, THIRD]
    assert targets(states[-1]) == [TARGETS[1], THIRD]
    # The summary goes on showing what was taken out.
    assert states[-1]["answers"]["targets"]["removed"] == [TARGETS[0]]


def test_back_undoes_a_removal() -> None:
    states = run(("edit",), ("removal",), ("remove", 1), ("back",), ("back",), ("close",))
    assert [path(s) for s in states] == [
        "summary",
        "items",
        "remove",
        "items",
        "remove",
        "items",
        "summary",
    ]
    assert targets(states[-1]) == TARGETS
    assert "removed" not in states[-1]["answers"]["targets"]


def test_back_from_the_list_is_the_summary_unchanged() -> None:
    summary = summary_state()
    assert run(("edit",), ("back",), state=summary)[-1] == summary


def refused(state: dict[str, Any], action: tuple[Any, ...]) -> InputError:
    with pytest.raises(InputError) as caught:
        apply(state, action)
    return caught.value


@pytest.mark.parametrize(
    ("before", "action", "key", "params"),
    [
        ((), ("change", 0), "error-choice", {}),  # at the summary
        ((("edit",),), ("change", 2), "error-choice", {}),  # no third item
        ((("edit",),), ("change", -1), "error-choice", {}),
        ((("edit",),), ("remove", 0), "error-choice", {}),  # not choosing a removal
        ((("edit",), ("removal",)), ("close",), "error-choice", {}),
        ((("edit",), ("removal",)), ("remove", 5), "error-choice", {}),
        ((("edit",),), ("text", "1"), "error-use-buttons", {}),
        ((("edit",), ("removal",)), ("text", "1"), "error-use-buttons", {}),
        ((("edit",), ("removal",), ("remove", 0)), ("removal",), "error-group-min", {"min": 1}),
    ],
)
def test_refusals_change_nothing(
    before: tuple[tuple[Any, ...], ...], action: tuple[Any, ...], key: str, params: dict[str, Any]
) -> None:
    state = run(*before)[-1]
    error = refused(state, action)
    assert (error.key, error.params) == (key, params)


def small(max_items: int, min_items: int) -> FormSpec:
    return FormSpec(
        "small",
        "form-register",
        (
            FieldSpec(
                "things",
                "group",
                "label-targets",
                "ask-targets",
                fields=(FieldSpec("name", "text", "label-indicator", "ask-indicator"),),
                max_items=max_items,
                min_items=min_items,
            ),
        ),
    )


def test_a_full_group_adds_nothing_and_a_minimal_one_removes_nothing() -> None:
    form = small(max_items=2, min_items=2)
    state, _ = engine.answer_text(form, engine.new_state(), "một", ENV)
    state = engine.choose(form, state, "yes", ENV)
    state, _ = engine.answer_text(form, state, "hai", ENV)
    state = engine.edit(form, state, "things")
    for move, key in ((groups.add, "error-group-full"), (groups.choose_removal, "error-group-min")):
        with pytest.raises(InputError) as caught:
            move(form, state)
        assert caught.value.key == key
    state = groups.close(form, state)
    assert engine.final_answers(form, state) == {"things": [{"name": "một"}, {"name": "hai"}]}


def test_a_stored_group_without_the_new_keys_is_edited_the_same_way() -> None:
    # A returned registration opens with its targets as `answers_of` builds them.
    state = summary_state()
    state["answers"]["targets"] = {"items": TARGETS, "current": {}, "open": False, "more": False}
    states = run(
        ("edit",), ("change", 1), ("skip",), ("skip",), ("text", "3"), ("close",), state=state
    )
    assert targets(states[-1]) == [TARGETS[0], {**TARGETS[1], "value": "3"}]


# --- photos -----------------------------------------------------------------------------------

PHOTOS = FormSpec(
    "photos",
    "form-report",
    (
        FieldSpec("photos", "photos", "label-report-photos", "ask-report-photos", required=False),
        FieldSpec("note", "text", "label-difficulties", "ask-difficulties", required=False),
    ),
)


def test_skip_after_photos_keeps_them() -> None:
    state = engine.add_photo(PHOTOS, engine.add_photo(PHOTOS, engine.new_state(), "a"), "b")
    skipped = engine.skip(PHOTOS, state)
    assert engine.current_step(PHOTOS, skipped).path == "note"
    assert skipped["answers"]["photos"] == {"items": ["a", "b"], "open": False}
    assert engine.back(skipped)["answers"]["photos"]["items"] == ["a", "b"]


def test_skip_without_photos_skips_the_step() -> None:
    skipped = engine.skip(PHOTOS, engine.new_state())
    assert engine.final_answers(PHOTOS, skipped)["photos"] is None
