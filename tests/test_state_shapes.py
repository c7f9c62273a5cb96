"""The typed shapes of a conversation row (`storage/conversation_state.py`) describe what the
engine really writes: every state met while walking a registration, changing its group from the
summary and taking photos has exactly the declared keys, so code typed against the shapes reads
what is stored. TypedDicts are not checked at run time; this is where they are."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

from handlers.forms import engine
from storage.conversation_state import FormState, GroupAnswer, PhotosAnswer, Snapshot
from tests.test_form_engine import summary_state, walked
from tests.test_form_groups import PHOTOS, THIRD
from tests.test_form_groups import run as run_group


def shape_errors(value: Any, shape: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    keys = set(value)
    required, optional = set(shape.__required_keys__), set(shape.__optional_keys__)
    errors = [f"{where}: missing {sorted(required - keys)}"] if required - keys else []
    if keys - required - optional:
        errors.append(f"{where}: undeclared {sorted(keys - required - optional)}")
    return errors


def state_errors(state: dict[str, Any], where: str = "state") -> list[str]:
    errors = shape_errors(state, FormState, where)
    for i, before in enumerate(state.get("history", [])):
        errors += shape_errors(before, Snapshot, f"{where}.history[{i}]")
        errors += answers_errors(before.get("answers", {}), f"{where}.history[{i}]")
    return errors + answers_errors(state.get("answers", {}), where)


def answers_errors(answers: dict[str, Any], where: str) -> list[str]:
    errors = []
    modes = get_args(get_args(get_type_hints(GroupAnswer)["mode"])[0])
    for name, value in answers.items():
        if isinstance(value, dict):
            shape = GroupAnswer if "current" in value else PhotosAnswer
            errors += shape_errors(value, shape, f"{where}.{name}")
            if value.get("mode") not in (None, *modes):
                errors.append(f"{where}.{name}: mode {value['mode']!r}")
        elif value is not None and not isinstance(value, str):
            errors.append(f"{where}.{name}: {type(value).__name__}")
    return errors


def test_a_walked_registration_has_the_declared_shape() -> None:
    for kind in ("individual", "collective"):
        _, states = walked(kind)
        assert [error for state in states for error in state_errors(state)] == []


def test_a_group_changed_from_the_summary_has_the_declared_shape() -> None:
    states = [
        *run_group(("edit",), ("change", 1), ("skip",), ("text", "%"), ("skip",), ("close",)),
        *run_group(("edit",), ("add",), *[("text", THIRD[k]) for k in THIRD], ("close",)),
        *run_group(("edit",), ("removal",), ("remove", 0), ("close",), ("back",)),
    ]
    assert [error for state in states for error in state_errors(state)] == []


def test_photos_and_a_search_shown_whole_again_have_the_declared_shape() -> None:
    state = engine.add_photo(PHOTOS, engine.new_state(), "a")
    states = [state, engine.close_photos(PHOTOS, state), engine.skip(PHOTOS, state)]
    states.append(engine.show_all({**engine.set_page(summary_state(), 2), "query": "x"}))
    assert [error for state in states for error in state_errors(state)] == []


def test_an_undeclared_key_is_found() -> None:
    state = {**engine.new_state(), "search": "x"}
    state["answers"] = {"targets": {"items": [], "current": {}, "open": True, "more": False}}
    state["answers"]["targets"]["mode"] = "editing"
    assert state_errors(state) == [
        "state: undeclared ['search']",
        "state.targets: mode 'editing'",
    ]
