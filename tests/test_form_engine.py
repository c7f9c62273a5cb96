"""The form engine as pure functions over a JSON-able state (no database, no Telegram)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option, form_from_dict
from handlers.member.registration import REGISTRATION as FULL_REGISTRATION
from language.vn import InputError

FIELDS = [
    Option("1", "Cải cách hành chính"),
    Option("2", "Kinh tế"),
    Option("3", "Kinh tế số"),
    Option("4", "Văn hóa - xã hội"),
    Option("5", "Quốc phòng - an ninh"),
    Option("6", "An ninh trật tự"),
    Option("7", "Xây dựng Đảng"),
    Option("8", "Y tế"),
    Option("9", "Giáo dục"),
    Option("10", "Môi trường"),
]
# A member of one unit has the unit answered before the form starts; the walks below are what
# such a member is asked.
REGISTRATION = FormSpec(
    FULL_REGISTRATION.name,
    FULL_REGISTRATION.title,
    tuple(spec for spec in FULL_REGISTRATION.fields if spec.name != "unit"),
    confirm_label=FULL_REGISTRATION.confirm_label,
)

ENV = FormEnv(
    options={"fields": FIELDS},
    context={"campaign_starts_on": "2026-10-01", "campaign_ends_on": "2027-06-30"},
)

TITLE = "Dân vận khéo trong cải cách hành chính"
APPROACH = "Tiếp dân mỗi sáng thứ Bảy"
OBJECTIVES = "Giảm thời gian chờ của người dân"

Action = tuple[str, ...]


# --- helpers ----------------------------------------------------------------------------------


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state))


def act(
    form: FormSpec, state: dict[str, Any], action: Action, env: FormEnv = ENV
) -> dict[str, Any]:
    """Apply one action; the input state must be untouched and the output JSON-stable."""
    before = copy.deepcopy(state)
    kind, *args = action
    match kind:
        case "text":
            new, _ = engine.answer_text(form, state, args[0], env)
        case "choose":
            new = engine.choose(form, state, args[0], env)
        case "skip":
            new = engine.skip(form, state)
        case "back":
            new = engine.back(state)
        case "edit":
            new = engine.edit(form, state, args[0])
        case _:
            raise AssertionError(kind)
    assert state == before
    assert roundtrip(new) == new
    return new


def walk(
    form: FormSpec,
    actions: list[Action],
    env: FormEnv = ENV,
    state: dict[str, Any] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    states = [engine.new_state() if state is None else state]
    for action in actions:
        states.append(act(form, states[-1], action, env))
    return [path(form, s) for s in states], states


def reach(form: FormSpec, actions: list[Action], env: FormEnv = ENV) -> dict[str, Any]:
    return walk(form, actions, env)[1][-1]


def path(form: FormSpec, state: dict[str, Any]) -> str:
    return engine.current_step(form, state).path


def refusal(fn: Any, *args: Any) -> InputError:
    with pytest.raises(InputError) as exc:
        fn(*args)
    return exc.value


def text_refusal(form: FormSpec, state: dict[str, Any], raw: str, env: FormEnv = ENV) -> InputError:
    before = copy.deepcopy(state)
    error = refusal(engine.answer_text, form, state, raw, env)
    assert state == before
    return error


# --- the registration form --------------------------------------------------------------------

TARGET_1061: list[Action] = [
    ("text", "Hồ sơ giải quyết đúng hạn"),
    ("text", "hồ sơ"),
    ("text", "1.061"),
]
TARGET_HALF: list[Action] = [
    ("text", "Điểm hài lòng tăng thêm"),
    ("text", "điểm"),
    ("text", "2,5"),
]
TAIL: list[Action] = [
    ("text", TITLE),
    ("choose", "1"),
    ("text", APPROACH),
    ("text", OBJECTIVES),
    *TARGET_1061,
    ("choose", "yes"),
    *TARGET_HALF,
    ("choose", "no"),
    ("text", "19/10/2026"),
    ("text", "19-12-2026"),
]
INDIVIDUAL: list[Action] = [("choose", "individual"), *TAIL]
COLLECTIVE: list[Action] = [
    ("choose", "collective"),
    ("text", "  Chi bộ   khu phố 3 "),
    ("text", "12"),
    *TAIL,
]
TAIL_PATHS = [
    "title",
    "field",
    "approach",
    "objectives",
    "targets.indicator",
    "targets.unit",
    "targets.value",
    "targets",
    "targets.indicator",
    "targets.unit",
    "targets.value",
    "targets",
    "starts_on",
    "ends_on",
    "summary",
]
TARGETS = [
    {"indicator": "Hồ sơ giải quyết đúng hạn", "unit": "hồ sơ", "value": "1061"},
    {"indicator": "Điểm hài lòng tăng thêm", "unit": "điểm", "value": "2.5"},
]
COMMON = {
    "title": TITLE,
    "field": "1",
    "approach": APPROACH,
    "objectives": OBJECTIVES,
    "targets": TARGETS,
    "starts_on": "2026-10-19",
    "ends_on": "2026-12-19",
}


@cache
def _walked(kind: str) -> tuple[list[str], list[dict[str, Any]]]:
    return walk(REGISTRATION, INDIVIDUAL if kind == "individual" else COLLECTIVE)


def walked(kind: str) -> tuple[list[str], list[dict[str, Any]]]:
    paths, states = _walked(kind)
    return list(paths), copy.deepcopy(states)


def summary_state(kind: str = "individual") -> dict[str, Any]:
    return walked(kind)[1][-1]


@pytest.mark.parametrize(
    ("kind", "expected_paths", "expected_answers"),
    [
        (
            "individual",
            ["kind", *TAIL_PATHS],
            {"kind": "individual", **COMMON},
        ),
        (
            "collective",
            ["kind", "collective_name", "headcount", *TAIL_PATHS],
            {
                "kind": "collective",
                "collective_name": "Chi bộ khu phố 3",
                "headcount": "12",
                **COMMON,
            },
        ),
    ],
)
def test_registration_walk(
    kind: str, expected_paths: list[str], expected_answers: dict[str, Any]
) -> None:
    paths, states = walked(kind)
    assert paths == expected_paths
    final = engine.final_answers(REGISTRATION, states[-1])
    assert final == expected_answers
    assert list(final) == list(expected_answers)  # form order, only applicable fields
    assert engine.current_step(REGISTRATION, states[-1]).kind == "summary"
    assert states[-1]["answers"]["targets"] == {
        "items": TARGETS,
        "current": {},
        "open": False,
        "more": False,
    }
    assert len(states[-1]["history"]) == len(expected_paths) - 1
    assert states[-1]["editing"] is False


def test_step_kinds_in_the_group() -> None:
    _, states = walked("individual")
    kinds = [engine.current_step(REGISTRATION, s).kind for s in states]
    assert kinds == ["ask"] * 8 + ["more"] + ["ask"] * 3 + ["more"] + ["ask"] * 2 + ["summary"]
    step = engine.current_step(REGISTRATION, states[7])
    assert step.field is REGISTRATION.field("targets")
    assert step.sub is not None and step.sub.name == "value"
    assert step.spec is step.sub


def test_form_without_summary_ends_with_done() -> None:
    form = FormSpec("f", "t", (FieldSpec("a", "text", "l", "p"),), summary=False)
    paths, _ = walk(form, [("text", "xin chào")])
    assert paths == ["a", "done"]


# --- parsing inside the form ------------------------------------------------------------------

AT_VALUE = INDIVIDUAL[:7]  # kind, title, field, approach, objectives, indicator, unit
AT_HEADCOUNT = COLLECTIVE[:2]
AT_STARTS_ON = INDIVIDUAL[:-2]
AT_ENDS_ON = INDIVIDUAL[:-1]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1.061", "1061"),
        ("1061", "1061"),
        ("2,5", "2.5"),
        ("1.061,25", "1061.25"),
        ("0,001", "0.001"),
        ("7", "7"),
        ("50.000.000", "50000000"),
        ("5 triệu", "5000000"),
        ("130 tỷ", "130000000000"),
        ("10", "10"),
        ("10 hồ sơ", "10"),  # the unit named just before
        ("10 HO SO.", "10"),
        ("1,25 k", "1250"),
        ("1,5 tr", "1500000"),
    ],
)
def test_group_value_numbers(raw: str, stored: str) -> None:
    state = reach(REGISTRATION, AT_VALUE)
    assert path(REGISTRATION, state) == "targets.value"
    new, value = engine.answer_text(REGISTRATION, state, raw, ENV)
    assert value == stored
    assert new["answers"]["targets"]["items"][-1]["value"] == stored
    assert path(REGISTRATION, new) == "targets"


@pytest.mark.parametrize(
    ("raw", "key", "params"),
    [
        ("1.5", "error-number-dot", {"raw": "1.5", "comma": "1,5"}),
        ("abc", "error-number-example", {"example": "5 hồ sơ"}),
        ("-3", "error-number-negative", {"min": "0,001"}),
        ("0", "error-number-min", {"min": "0,001"}),
        ("1e5", "error-number-example", {"example": "5 hồ sơ"}),
        ("5 căn", "error-number-unit", {"word": "căn", "unit": "hồ sơ", "example": "5 hồ sơ"}),
        # Money is not a count of files.
        (
            "50.000.000 đồng",
            "error-number-unit",
            {"word": "đồng", "unit": "hồ sơ", "example": "5 hồ sơ"},
        ),
    ],
)
def test_group_value_refusals(raw: str, key: str, params: dict[str, Any]) -> None:
    state = reach(REGISTRATION, AT_VALUE)
    error = text_refusal(REGISTRATION, state, raw)
    assert (error.key, error.params) == (key, params)


@pytest.mark.parametrize(
    ("raw", "stored", "key", "params"),
    [
        ("12", "12", None, None),
        ("2", "2", None, None),
        ("999.999", "999999", None, None),
        ("1.000.000", "1000000", None, None),
        ("2,5", None, "error-integer", {}),
        ("1", None, "error-number-min", {"min": "2"}),
        ("1.000.001", None, "error-number-max", {"max": "1.000.000"}),
        ("20", "20", None, None),
    ],
)
def test_headcount(raw: str, stored: str | None, key: str | None, params: Any) -> None:
    state = reach(REGISTRATION, AT_HEADCOUNT)
    assert path(REGISTRATION, state) == "headcount"
    if key is None:
        new, value = engine.answer_text(REGISTRATION, state, raw, ENV)
        assert value == stored
        assert new["answers"]["headcount"] == stored
        assert path(REGISTRATION, new) == "title"
    else:
        error = text_refusal(REGISTRATION, state, raw)
        assert (error.key, error.params) == (key, params)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("19/10/2026", "2026-10-19"),
        ("19-10-2026", "2026-10-19"),
        ("19.10.2026", "2026-10-19"),
        ("1/10/2026", "2026-10-01"),  # the campaign's first day is allowed
        ("30/06/2027", "2027-06-30"),  # and its last
    ],
)
def test_starts_on_accepted(raw: str, stored: str) -> None:
    state = reach(REGISTRATION, AT_STARTS_ON)
    assert path(REGISTRATION, state) == "starts_on"
    new, value = engine.answer_text(REGISTRATION, state, raw, ENV)
    assert value == stored
    assert new["answers"]["starts_on"] == stored
    assert path(REGISTRATION, new) == "ends_on"


@pytest.mark.parametrize(
    ("raw", "key", "params"),
    [
        ("31/02/2026", "error-date-day", {"day": 31, "month": 2, "year": 2026, "last": 28}),
        ("19/10-2026", "error-date", {}),
        ("2026-10-19", "error-date", {}),
        ("30/09/2026", "error-date-before", {"min": "01/10/2026"}),
        ("01/07/2027", "error-date-after", {"max": "30/06/2027"}),
    ],
)
def test_starts_on_refused(raw: str, key: str, params: dict[str, Any]) -> None:
    state = reach(REGISTRATION, AT_STARTS_ON)
    error = text_refusal(REGISTRATION, state, raw)
    assert (error.key, error.params) == (key, params)


@pytest.mark.parametrize(
    ("raw", "stored", "key", "params"),
    [
        ("18/10/2026", None, "error-date-before", {"min": "19/10/2026"}),
        ("19/10/2026", "2026-10-19", None, None),  # same day as the start
        ("01/07/2027", None, "error-date-after", {"max": "30/06/2027"}),
    ],
)
def test_ends_on_bounded_by_starts_on(
    raw: str, stored: str | None, key: str | None, params: Any
) -> None:
    state = reach(REGISTRATION, AT_ENDS_ON)
    assert path(REGISTRATION, state) == "ends_on"
    if key is None:
        new, value = engine.answer_text(REGISTRATION, state, raw, ENV)
        assert value == stored
        assert path(REGISTRATION, new) == "summary"
    else:
        error = text_refusal(REGISTRATION, state, raw)
        assert (error.key, error.params) == (key, params)


@pytest.mark.parametrize(
    ("raw", "key", "params"),
    [
        ("a" * 201, "error-too-long", {"max": 200, "length": 201}),
        ("Mô hình hay 😀", "error-emoji", {}),
        ("Hay", "error-too-short", {"min": 5}),
        ("   ", "error-empty", {}),
    ],
)
def test_title_refusals(raw: str, key: str, params: dict[str, Any]) -> None:
    state = reach(REGISTRATION, INDIVIDUAL[:1])
    assert path(REGISTRATION, state) == "title"
    error = text_refusal(REGISTRATION, state, raw)
    assert (error.key, error.params) == (key, params)


def test_title_of_exactly_200_chars_and_spaces_collapsed() -> None:
    state = reach(REGISTRATION, INDIVIDUAL[:1])
    _, value = engine.answer_text(REGISTRATION, state, "a" * 200, ENV)
    assert value == "a" * 200
    _, value = engine.answer_text(REGISTRATION, state, "  Mô   hình\thay  ", ENV)
    assert value == "Mô hình hay"


def test_collective_name_must_be_a_name() -> None:
    state = reach(REGISTRATION, COLLECTIVE[:1])
    assert path(REGISTRATION, state) == "collective_name"
    error = text_refusal(REGISTRATION, state, "Tổ dân phố #5")
    assert (error.key, error.params) == ("error-name", {})
    error = text_refusal(REGISTRATION, state, "12345")
    assert (error.key, error.params) == ("error-name-no-letter", {})


# --- back is undo -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["individual", "collective"])
def test_back_from_every_position(kind: str) -> None:
    paths, states = walked(kind)
    for i in range(1, len(states)):
        undone = act(REGISTRATION, states[i], ("back",))
        assert undone["answers"] == states[i - 1]["answers"], paths[i]
        assert undone["history"] == states[i - 1]["history"], paths[i]
        assert path(REGISTRATION, undone) == paths[i - 1]


def test_back_all_the_way_then_first_step_error() -> None:
    paths, states = walked("individual")
    state = states[-1]
    seen = [path(REGISTRATION, state)]
    while state["history"]:
        state = act(REGISTRATION, state, ("back",))
        seen.append(path(REGISTRATION, state))
    assert seen == paths[::-1]
    assert state["answers"] == {}
    error = refusal(engine.back, state)
    assert (error.key, error.params) == ("error-first-step", {})


def test_back_at_the_first_step() -> None:
    error = refusal(engine.back, engine.new_state())
    assert (error.key, error.params) == ("error-first-step", {})


@pytest.mark.parametrize(
    ("index", "expected_path"),
    [
        (15, "ends_on"),  # back from the summary
        (8, "targets.value"),  # back from the "more" step
        (9, "targets"),  # back after "yes": the "more" step again
        (7, "targets.unit"),  # back from inside the group, item 1
        (10, "targets.indicator"),  # inside the group, item 2
        (13, "targets"),  # back after "no": the group is open again
    ],
)
def test_back_in_and_around_the_group(index: int, expected_path: str) -> None:
    paths, states = walked("individual")
    undone = engine.back(states[index])
    assert path(REGISTRATION, undone) == expected_path == paths[index - 1]
    assert undone["answers"] == states[index - 1]["answers"]


def test_back_reopens_a_closed_group_with_its_items() -> None:
    _, states = walked("individual")
    after_no = states[13]
    assert after_no["answers"]["targets"]["open"] is False
    undone = engine.back(after_no)
    assert undone["answers"]["targets"] == {
        "items": TARGETS,
        "current": {},
        "open": True,
        "more": True,
    }


def test_back_after_edit() -> None:
    summary = summary_state()
    edited = act(REGISTRATION, summary, ("edit", "title"))
    assert "title" not in edited["answers"]
    undone = act(REGISTRATION, edited, ("back",))
    assert undone["answers"] == summary["answers"]
    assert undone["history"] == summary["history"]
    assert path(REGISTRATION, undone) == "summary"

    retitled = act(REGISTRATION, edited, ("text", "Mô hình mới hoàn toàn"))
    assert path(REGISTRATION, retitled) == "summary"
    assert retitled["answers"]["title"] == "Mô hình mới hoàn toàn"
    undone = act(REGISTRATION, retitled, ("back",))
    assert undone["answers"] == edited["answers"]
    assert path(REGISTRATION, undone) == "title"
    undone = act(REGISTRATION, undone, ("back",))
    assert undone["answers"] == summary["answers"]


def test_back_undoes_the_edit_flag() -> None:
    summary = summary_state()
    undone = engine.back(engine.edit(REGISTRATION, summary, "title"))
    assert undone == summary


def test_back_clears_a_search() -> None:
    state = reach(REGISTRATION, INDIVIDUAL[:2])
    error = refusal(engine.answer_text, REGISTRATION, state, "an ninh", ENV)
    narrowed = error.params["state"]
    assert narrowed["query"] == "an ninh"
    undone = engine.back(narrowed)
    assert undone["query"] is None
    assert undone["page"] == 0
    assert path(REGISTRATION, undone) == "title"


# --- skip -------------------------------------------------------------------------------------

CONTACT = FormSpec(
    "contact",
    "form-contact",
    (
        FieldSpec("name", "name", "label-name", "ask-name"),
        FieldSpec("phone", "phone", "label-phone", "ask-phone", required=False),
        FieldSpec("note", "text", "label-note", "ask-note"),
    ),
)


def test_skip_optional_field() -> None:
    state = reach(CONTACT, [("text", "Nguyễn Văn An")])
    assert path(CONTACT, state) == "phone"
    skipped = act(CONTACT, state, ("skip",))
    assert skipped["answers"] == {"name": "Nguyễn Văn An", "phone": None}
    assert path(CONTACT, skipped) == "note"
    done = act(CONTACT, skipped, ("text", "Không có"))
    assert path(CONTACT, done) == "summary"
    assert engine.final_answers(CONTACT, done) == {
        "name": "Nguyễn Văn An",
        "phone": None,
        "note": "Không có",
    }
    assert engine.back(skipped)["answers"] == {"name": "Nguyễn Văn An"}


@pytest.mark.parametrize(
    "actions",
    [
        [],  # name
        [("text", "Nguyễn Văn An"), ("skip",)],  # note
    ],
)
def test_skip_required_refused(actions: list[Action]) -> None:
    state = reach(CONTACT, actions)
    error = refusal(engine.skip, CONTACT, state)
    assert (error.key, error.params) == ("error-cannot-skip", {})


def test_skip_at_the_summary_points_to_its_buttons() -> None:
    """The summary asks nothing: «bắt buộc, không bỏ qua được» would name a question there is
    not."""
    state = reach(CONTACT, [("text", "Nguyễn Văn An"), ("skip",), ("text", "Không")])
    error = refusal(engine.skip, CONTACT, state)
    assert (error.key, error.params) == ("error-use-buttons", {})


@pytest.mark.parametrize(
    ("actions", "expected_path"),
    [
        (INDIVIDUAL[:1], "title"),
        (INDIVIDUAL[:6], "targets.unit"),
    ],
)
def test_skip_required_refused_in_registration(actions: list[Action], expected_path: str) -> None:
    state = reach(REGISTRATION, actions)
    assert path(REGISTRATION, state) == expected_path
    error = refusal(engine.skip, REGISTRATION, state)
    assert error.key == "error-cannot-skip"


def test_skip_at_a_groups_more_step_points_to_its_buttons() -> None:
    state = reach(REGISTRATION, INDIVIDUAL[:8])
    assert engine.current_step(REGISTRATION, state).kind == "more"
    assert refusal(engine.skip, REGISTRATION, state).key == "error-use-buttons"


@pytest.mark.parametrize(
    ("raw", "stored", "key"),
    [
        ("+84 912 345 678", "0912345678", None),
        ("0912.345.678", "0912345678", None),
        ("12345", None, "error-phone"),
    ],
)
def test_optional_phone_when_answered(raw: str, stored: str | None, key: str | None) -> None:
    state = reach(CONTACT, [("text", "Nguyễn Văn An")])
    if key is None:
        new, value = engine.answer_text(CONTACT, state, raw, ENV)
        assert value == stored
        assert new["answers"]["phone"] == stored
    else:
        assert text_refusal(CONTACT, state, raw).key == key


# --- edit from the summary --------------------------------------------------------------------


def test_edit_kind_individual_to_collective() -> None:
    summary = summary_state("individual")
    paths, states = walk(
        REGISTRATION,
        [
            ("edit", "kind"),
            ("choose", "collective"),
            ("text", "Tổ dân phố 5"),
            ("text", "3"),
        ],
        state=summary,
    )
    assert paths == ["summary", "kind", "collective_name", "headcount", "summary"]
    assert states[1]["editing"] is True
    assert "kind" not in states[1]["answers"]
    assert engine.final_answers(REGISTRATION, states[-1]) == {
        "kind": "collective",
        "collective_name": "Tổ dân phố 5",
        "headcount": "3",
        **COMMON,
    }


def test_edit_kind_collective_to_individual_drops_collective_fields() -> None:
    summary = summary_state("collective")
    paths, states = walk(REGISTRATION, [("edit", "kind"), ("choose", "individual")], state=summary)
    assert paths == ["summary", "kind", "summary"]
    assert engine.final_answers(REGISTRATION, states[-1]) == {"kind": "individual", **COMMON}


def test_edit_the_group_lists_its_items_instead_of_asking_them_again() -> None:
    # Changing, adding and removing one item: tests/test_form_groups.py.
    edited = act(REGISTRATION, summary_state(), ("edit", "targets"))
    assert engine.current_step(REGISTRATION, edited).kind == "items"
    assert edited["answers"]["targets"]["items"] == TARGETS
    assert engine.back(edited) == summary_state()


@pytest.mark.parametrize(
    ("kind", "actions", "name"),
    [
        ("individual", INDIVIDUAL[:3], "title"),  # not at the summary
        ("individual", INDIVIDUAL[:8], "kind"),  # at the "more" step
        ("individual", None, "headcount"),  # condition false
        ("individual", None, "collective_name"),
    ],
)
def test_edit_refused(kind: str, actions: list[Action] | None, name: str) -> None:
    state = summary_state(kind) if actions is None else reach(REGISTRATION, actions)
    before = copy.deepcopy(state)
    error = refusal(engine.edit, REGISTRATION, state, name)
    assert (error.key, error.params) == ("error-choice", {})
    assert state == before


def test_edit_starts_on_keeps_ends_on_not_before_it() -> None:
    summary = summary_state()
    state = engine.edit(REGISTRATION, summary, "starts_on")
    state, _ = engine.answer_text(REGISTRATION, state, "01/03/2027", ENV)
    step = engine.current_step(REGISTRATION, state)
    answers = engine.final_answers(REGISTRATION, state)
    assert step.path != "summary" or answers["ends_on"] >= answers["starts_on"]


# --- choices ----------------------------------------------------------------------------------

AT_FIELD = INDIVIDUAL[:2]


@pytest.mark.parametrize(
    ("actions", "value"),
    [
        ([], "team"),
        ([], "Cá nhân"),
        (AT_FIELD, "99"),
        (AT_FIELD, "Kinh tế"),  # a label, not a value
        (INDIVIDUAL[:1], "1"),  # a text step
        (INDIVIDUAL, "1"),  # the summary
    ],
)
def test_choose_refused(actions: list[Action], value: str) -> None:
    state = reach(REGISTRATION, actions)
    error = refusal(engine.choose, REGISTRATION, state, value, ENV)
    assert (error.key, error.params) == ("error-choice", {})


def test_choose_by_button() -> None:
    state = reach(REGISTRATION, AT_FIELD)
    new = engine.choose(REGISTRATION, state, "10", ENV)
    assert new["answers"]["field"] == "10"
    assert path(REGISTRATION, new) == "approach"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("cai cach", "1"),
        ("CẢI CÁCH HÀNH CHÍNH", "1"),
        ("  kinh   te ", "2"),  # matches two, exactly one is equal
        ("kinh te so", "3"),
        ("dang", "7"),  # đ folds to d
        ("ĐẢNG", "7"),
        ("y te", "8"),
        ("Môi", "10"),
    ],
)
def test_choice_by_typed_text(raw: str, value: str) -> None:
    state = reach(REGISTRATION, AT_FIELD)
    new, stored = engine.answer_text(REGISTRATION, state, raw, ENV)
    assert stored == value
    assert new["answers"]["field"] == value
    assert path(REGISTRATION, new) == "approach"


@pytest.mark.parametrize(
    ("raw", "labels"),
    [
        ("an ninh", ["Quốc phòng - an ninh", "An ninh trật tự"]),
        (" KINH ", ["Kinh tế", "Kinh tế số"]),
        (
            "a",
            [
                "Cải cách hành chính",
                "Văn hóa - xã hội",
                "Quốc phòng - an ninh",
                "An ninh trật tự",
                "Xây dựng Đảng",
                "Giáo dục",
            ],
        ),
    ],
)
def test_choice_search_narrows(raw: str, labels: list[str]) -> None:
    state = engine.set_page(reach(REGISTRATION, AT_FIELD), 1)
    error = text_refusal(REGISTRATION, state, raw)
    assert error.key == "error-choice-search"
    assert error.params["query"] == raw
    narrowed = error.params["state"]
    assert narrowed == {**state, "query": raw.strip(), "page": 0}
    assert roundtrip(narrowed) == narrowed
    shown, page, pages = engine.page_of(FIELDS, narrowed)
    assert [o.label for o in shown] == labels[: engine.PAGE_SIZE]
    assert (page, pages) == (0, 1)
    assert path(REGISTRATION, narrowed) == "field"
    # A button press from the narrowed list still stores the answer and clears the search.
    chosen = engine.choose(REGISTRATION, narrowed, shown[0].value, ENV)
    assert (chosen["query"], chosen["page"]) == (None, 0)
    assert chosen["answers"]["field"] == shown[0].value


@pytest.mark.parametrize("raw", ["thể thao", "xyz"])
def test_choice_search_no_match(raw: str) -> None:
    state = reach(REGISTRATION, AT_FIELD)
    error = text_refusal(REGISTRATION, state, raw)
    assert (error.key, error.params) == ("error-choice-nomatch", {"query": raw})


def test_choice_with_no_options_in_env() -> None:
    state = reach(REGISTRATION, AT_FIELD)
    error = text_refusal(REGISTRATION, state, "kinh te", FormEnv())
    assert error.key == "error-choice-nomatch"
    error = refusal(engine.choose, REGISTRATION, state, "2", FormEnv())
    assert error.key == "error-choice"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đảng ủy", "dang uy"),
        ("  Văn   HÓA ", "van hoa"),
        ("Thừa Thiên Huế", "thua thien hue"),
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert engine.fold(text) == expected


@pytest.mark.parametrize(
    ("query", "values"),
    [
        (None, [o.value for o in FIELDS]),
        ("", [o.value for o in FIELDS]),
        ("kinh", ["2", "3"]),
        ("NINH", ["5", "6"]),
        ("thể thao", []),
    ],
)
def test_matching_options(query: str | None, values: list[str]) -> None:
    assert [o.value for o in engine.matching_options(FIELDS, query)] == values


# --- paging -----------------------------------------------------------------------------------

MANY = [Option(f"w{i:02d}", f"Phường {i:02d}") for i in range(1, 21)]


def labels_of(page: list[Option]) -> list[str]:
    return [o.label for o in page]


@pytest.mark.parametrize(
    ("page", "expected_page", "numbers"),
    [
        (0, 0, range(1, 9)),
        (1, 1, range(9, 17)),
        (2, 2, range(17, 21)),  # the last, partial page
        (3, 2, range(17, 21)),  # beyond the end clamps
        (99, 2, range(17, 21)),
        (-1, 0, range(1, 9)),  # set_page refuses negatives
    ],
)
def test_page_of(page: int, expected_page: int, numbers: range) -> None:
    assert engine.PAGE_SIZE == 8
    state = engine.set_page(engine.new_state(), page)
    shown, current, pages = engine.page_of(MANY, state)
    assert labels_of(shown) == [f"Phường {i:02d}" for i in numbers]
    assert (current, pages) == (expected_page, 3)


@pytest.mark.parametrize(
    ("page", "expected_page", "numbers"),
    [
        (0, 0, [1, 10, 11, 12, 13, 14, 15, 16]),
        (1, 1, [17, 18, 19]),
        (5, 1, [17, 18, 19]),
    ],
)
def test_page_of_with_query(page: int, expected_page: int, numbers: list[int]) -> None:
    state = {**engine.set_page(engine.new_state(), page), "query": "1"}
    shown, current, pages = engine.page_of(MANY, state)
    assert labels_of(shown) == [f"Phường {i:02d}" for i in numbers]
    assert (current, pages) == (expected_page, 2)


@pytest.mark.parametrize(
    ("options", "query", "page_size", "expected"),
    [
        (MANY, None, 12, ([f"Phường {i:02d}" for i in range(1, 13)], 0, 2)),
        (MANY, "phuong 2", 12, (["Phường 20"], 0, 1)),
        (MANY, "không có", 8, ([], 0, 1)),
        ([], None, 8, ([], 0, 1)),
    ],
)
def test_page_of_sizes_and_empty(
    options: list[Option], query: str | None, page_size: int, expected: tuple[Any, ...]
) -> None:
    state = {**engine.new_state(), "query": query}
    shown, page, pages = engine.page_of(options, state, page_size)
    assert (labels_of(shown), page, pages) == expected


def test_set_page_is_pure_and_json_stable() -> None:
    state = engine.new_state()
    paged = engine.set_page(state, 2)
    assert state["page"] == 0
    assert paged == {**state, "page": 2}
    assert roundtrip(paged) == paged


# --- groups -----------------------------------------------------------------------------------


def small_group(max_items: int, min_items: int = 1) -> FormSpec:
    return FormSpec(
        "g",
        "t",
        (
            FieldSpec(
                "items",
                "group",
                "l",
                "p",
                fields=(FieldSpec("x", "text", "l", "p"),),
                max_items=max_items,
                min_items=min_items,
            ),
            FieldSpec("after", "text", "l", "p"),
        ),
    )


def test_group_max_items_closes_the_group() -> None:
    form = small_group(max_items=2)
    paths, states = walk(form, [("text", "một"), ("choose", "yes"), ("text", "hai")])
    assert paths == ["items.x", "items", "items.x", "after"]
    assert states[-1]["answers"]["items"] == {
        "items": [{"x": "một"}, {"x": "hai"}],
        "current": {},
        "open": False,
        "more": False,
    }
    assert engine.final_answers(form, states[-1]) == {
        "items": [{"x": "một"}, {"x": "hai"}],
        "after": None,
    }


def test_group_max_items_one_never_asks_more() -> None:
    paths, _ = walk(small_group(max_items=1), [("text", "một")])
    assert paths == ["items.x", "after"]


def test_registration_group_closes_at_ten_targets() -> None:
    actions = list(INDIVIDUAL[:5])
    for i in range(10):
        if i:
            actions.append(("choose", "yes"))
        actions += [("text", f"Chỉ tiêu {i}"), ("text", "lần"), ("text", f"{i + 1},5")]
    paths, states = walk(REGISTRATION, actions)
    assert paths[-1] == "starts_on"
    assert paths.count("targets") == 9
    items = engine.final_answers(REGISTRATION, states[-1])["targets"]
    assert [item["value"] for item in items] == [f"{i}.5" for i in range(1, 11)]


def test_more_no_closes_the_group() -> None:
    form = small_group(max_items=5)
    paths, states = walk(form, [("text", "một"), ("choose", "no")])
    assert paths == ["items.x", "items", "after"]
    assert states[-1]["answers"]["items"] == {
        "items": [{"x": "một"}],
        "current": {},
        "open": False,
        "more": False,
    }


@pytest.mark.parametrize("raw", ["không", "no", "có"])
def test_typed_text_at_more_step(raw: str) -> None:
    form = small_group(max_items=5)
    state = reach(form, [("text", "một")])
    assert engine.current_step(form, state).kind == "more"
    error = text_refusal(form, state, raw)
    assert (error.key, error.params) == ("error-use-buttons", {})


@pytest.mark.parametrize("value", ["maybe", "1", ""])
def test_more_step_only_yes_or_no(value: str) -> None:
    form = small_group(max_items=5)
    state = reach(form, [("text", "một")])
    error = refusal(engine.choose, form, state, value, ENV)
    assert (error.key, error.params) == ("error-choice", {})


def test_text_at_summary_needs_buttons() -> None:
    error = text_refusal(REGISTRATION, summary_state(), "xin chào")
    assert (error.key, error.params) == ("error-use-buttons", {})


def test_group_min_items_is_enforced() -> None:
    form = small_group(max_items=5, min_items=2)
    state = reach(form, [("text", "một")])
    with pytest.raises(InputError):
        engine.choose(form, state, "no", ENV)


# --- history ----------------------------------------------------------------------------------


def test_history_is_capped() -> None:
    limit = engine.HISTORY_LIMIT
    assert limit == 80
    count = limit + 15
    form = FormSpec("long", "t", tuple(FieldSpec(f"q{i}", "text", "l", "p") for i in range(count)))
    state = engine.new_state()
    for i in range(count):
        state = act(form, state, ("text", f"trả lời {i}"))
        assert len(state["history"]) == min(i + 1, limit)
    assert path(form, state) == "summary"
    assert state["history"][0]["answers"] == {f"q{i}": f"trả lời {i}" for i in range(15)}
    assert state["history"][-1]["answers"] == {f"q{i}": f"trả lời {i}" for i in range(count - 1)}
    for _ in range(limit):
        state = engine.back(state)
    assert state["answers"] == {f"q{i}": f"trả lời {i}" for i in range(15)}
    assert path(form, state) == "q15"
    assert refusal(engine.back, state).key == "error-first-step"


# --- forms from data --------------------------------------------------------------------------

ADMIN_FORM = {
    "name": "survey",
    "title": "Khảo sát mô hình",
    "fields": [
        {"name": "q1", "type": "text", "label": "Tên mô hình", "prompt": "Nhập tên mô hình"},
        {
            "name": "q2",
            "type": "number",
            "label": "Số người tham gia",
            "prompt": "Bao nhiêu người?",
            "required": False,
            "integer": True,
            "minimum": 1,
        },
        {"name": "q3", "type": "date", "label": "Ngày bắt đầu", "prompt": "Ngày nào?"},
        {
            "name": "q4",
            "type": "choice",
            "label": "Đã nhân rộng?",
            "prompt": "Mô hình đã được nhân rộng chưa?",
            "options": [{"value": "yes", "label": "Rồi"}, {"value": "no", "label": "Chưa"}],
        },
        {
            "name": "q5",
            "type": "text",
            "label": "Nhân rộng ở đâu",
            "prompt": "Ở những đâu?",
            "when": [["q4", "yes"]],
            "multiline": True,
        },
    ],
}
ADMIN_SPEC = FormSpec(
    "survey",
    "Khảo sát mô hình",
    (
        FieldSpec("q1", "text", "Tên mô hình", "Nhập tên mô hình"),
        FieldSpec(
            "q2",
            "number",
            "Số người tham gia",
            "Bao nhiêu người?",
            required=False,
            integer=True,
            minimum=Decimal(1),
        ),
        FieldSpec("q3", "date", "Ngày bắt đầu", "Ngày nào?"),
        FieldSpec(
            "q4",
            "choice",
            "Đã nhân rộng?",
            "Mô hình đã được nhân rộng chưa?",
            options=(Option("yes", "Rồi"), Option("no", "Chưa")),
        ),
        FieldSpec(
            "q5",
            "text",
            "Nhân rộng ở đâu",
            "Ở những đâu?",
            when=(("q4", "yes"),),
            multiline=True,
        ),
    ),
)


def test_form_from_dict_is_equivalent() -> None:
    data = roundtrip(ADMIN_FORM)  # as read back from a JSON column
    before = copy.deepcopy(data)
    form = form_from_dict(data)
    assert data == before
    assert form == ADMIN_SPEC
    assert form.field("q2").minimum == Decimal(1)
    assert isinstance(form.field("q2").minimum, Decimal)
    assert form.field("q5").when == (("q4", "yes"),)
    assert (form.summary, form.confirm_label) == (True, "form-confirm")


@pytest.mark.parametrize(
    ("actions", "paths", "answers"),
    [
        (
            [
                ("text", "Dân vận khéo"),
                ("text", "25"),
                ("text", "01/11/2026"),
                ("choose", "yes"),
                ("text", "Phường A\n\n\n\nPhường B"),
            ],
            ["q1", "q2", "q3", "q4", "q5", "summary"],
            {
                "q1": "Dân vận khéo",
                "q2": "25",
                "q3": "2026-11-01",
                "q4": "yes",
                "q5": "Phường A\n\nPhường B",
            },
        ),
        (
            [("text", "Dân vận khéo"), ("skip",), ("text", "1.11.2026"), ("text", "chua")],
            ["q1", "q2", "q3", "q4", "summary"],
            {"q1": "Dân vận khéo", "q2": None, "q3": "2026-11-01", "q4": "no"},
        ),
    ],
)
def test_engine_walks_a_form_from_dict(
    actions: list[Action], paths: list[str], answers: dict[str, Any]
) -> None:
    form = form_from_dict(roundtrip(ADMIN_FORM))
    seen, states = walk(form, actions)
    assert seen == paths
    assert engine.final_answers(form, states[-1]) == answers


@pytest.mark.parametrize(
    ("actions", "raw", "key", "params"),
    [
        ([("text", "Dân vận khéo")], "0", "error-number-min", {"min": "1"}),
        ([("text", "Dân vận khéo")], "2,5", "error-integer", {}),
        (
            [("text", "Dân vận khéo"), ("skip",)],
            "31/02/2026",
            "error-date-day",
            {"day": 31, "month": 2, "year": 2026, "last": 28},
        ),
        (
            [("text", "Dân vận khéo"), ("skip",), ("text", "1/11/2026")],
            "có",
            "error-choice-nomatch",
            {"query": "có"},
        ),
    ],
)
def test_form_from_dict_validates(
    actions: list[Action], raw: str, key: str, params: dict[str, Any]
) -> None:
    form = form_from_dict(ADMIN_FORM)
    error = text_refusal(form, reach(form, actions), raw)
    assert (error.key, error.params) == (key, params)


def test_form_from_dict_without_summary() -> None:
    form = form_from_dict({**ADMIN_FORM, "summary": False, "confirm_label": "button-send"})
    assert (form.summary, form.confirm_label) == (False, "button-send")
    seen, _ = walk(
        form, [("text", "Dân vận khéo"), ("skip",), ("text", "1/11/2026"), ("choose", "no")]
    )
    assert seen == ["q1", "q2", "q3", "q4", "done"]


# --- JSON -------------------------------------------------------------------------------------


def every_state() -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = [engine.new_state()]
    for kind in ("individual", "collective"):
        _, walked_states = walked(kind)
        states += walked_states
        summary = walked_states[-1]
        states += walk(
            REGISTRATION,
            [("edit", "kind"), ("choose", "collective"), ("back",), ("back",)],
            state=summary,
        )[1]
        state = summary
        while state["history"]:
            state = engine.back(state)
            states.append(state)
    at_field = reach(REGISTRATION, AT_FIELD)
    error = refusal(engine.answer_text, REGISTRATION, at_field, "an ninh", ENV)
    states += [error.params["state"], engine.set_page(at_field, 2)]
    states += walk(CONTACT, [("text", "Nguyễn Văn An"), ("skip",), ("text", "Không")])[1]
    return states


def test_every_state_survives_json() -> None:
    states = every_state()
    assert len(states) > 80
    for state in states:
        text = json.dumps(state, ensure_ascii=False)
        assert json.loads(text) == state
        assert set(state) == {"answers", "history", "editing", "query", "page"}


def test_new_state() -> None:
    assert engine.new_state() == {
        "answers": {},
        "history": [],
        "editing": False,
        "query": None,
        "page": 0,
    }
    assert engine.current_step(REGISTRATION, engine.new_state()).path == "kind"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("1061", Decimal("1061")), ("2.5", Decimal("2.5"))],
)
def test_as_decimal(value: str | None, expected: Decimal | None) -> None:
    assert engine.as_decimal(value) == expected
