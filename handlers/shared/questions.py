"""An admin's own questions in a campaign's registration and report forms: forms are data, so a
question is a stored definition that becomes one more field for the form engine.

Definitions live in `Campaign.questions`: [{"id": "q1", "form": "registration" | "report",
"kind": "text" | "number" | "date" | "choice", "label": str, "required": bool, "options": [str]}].
Ids are never reused; a removed question stays with "hidden": true, so answers given to it
still show. Answers live in `Model.extra["questions"]` / `Report.extra["questions"]` as
{id: value}: a number as a plain decimal string ("1500000"), a date as "YYYY-MM-DD", a text or
a choice as text (the option itself). A skipped optional question has no entry. The Excel
export reads exactly this, so the format does not change."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from handlers.core.context import Ctx
from handlers.forms.spec import FieldSpec, Option
from language import vn
from storage.models import Campaign, Conversation

REGISTRATION = "registration"
REPORT = "report"
FORMS = (REGISTRATION, REPORT)
KINDS = ("text", "number", "date", "choice")
MAX_LABEL = 200
MAX_OPTION = 60
MIN_OPTIONS = 2
MAX_OPTIONS = 12
MAX_VISIBLE = 20  # per form: a form is filled in on a phone
MAX_TEXT_ANSWER = 1000
_ID = re.compile(r"q([0-9]{1,6})")
_OPTION_SEPARATORS = re.compile(r"[;\n]")


def of_form(questions: list[dict[str, Any]] | None, form: str) -> list[dict[str, Any]]:
    """The questions a form asks now (hidden ones left out), in the order they were added."""
    return [q for q in questions or [] if q.get("form") == form and not q.get("hidden")]


def next_id(questions: list[dict[str, Any]] | None) -> str:
    numbers = [int(m[1]) for q in questions or [] if (m := _ID.fullmatch(str(q.get("id", ""))))]
    return f"q{max(numbers, default=0) + 1}"


def parse_options(raw: str) -> list[str]:
    """Options typed in one message, separated by ";" or one per line. Blank pieces (a final
    ";") are not options; the rest must be 2–12, each at most 60 characters, all different
    ignoring case. Diacritics count: "Có" and "Cô" are different words."""
    options = [" ".join(piece.split()) for piece in _OPTION_SEPARATORS.split(raw)]
    options = [option for option in options if option]
    if len(options) < MIN_OPTIONS:
        raise vn.InputError("error-question-options-few", min=MIN_OPTIONS)
    if len(options) > MAX_OPTIONS:
        raise vn.InputError("error-question-options-many", max=MAX_OPTIONS, count=len(options))
    seen: set[str] = set()
    for option in options:
        if len(option) > MAX_OPTION:
            raise vn.InputError(
                "error-question-option-long", option=option, max=MAX_OPTION, length=len(option)
            )
        if vn.contains_emoji(option):
            raise vn.InputError("error-emoji")
        key = vn.title_key(option)
        if key in seen:
            raise vn.InputError("error-question-option-twice", option=option)
        seen.add(key)
    return options


def check_label(ctx: Ctx, label: str) -> None:
    # Labels and options go through the text catalog like the built-in ones (ctx.label): one
    # that happens to be a catalog key would show that key's text instead.
    if ctx.t.has(label.strip()):
        raise vn.InputError("error-question-label-reserved", label=label)


def new_question(
    ctx: Ctx,
    questions: list[dict[str, Any]] | None,
    *,
    form: str,
    kind: str,
    label: str,
    required: bool,
    options_text: str | None,
) -> dict[str, Any]:
    """A validated definition with the next free id. Raises vn.InputError."""
    if form not in FORMS or kind not in KINDS:
        raise vn.InputError("error-choice")
    label = vn.clean_text(label, max_length=MAX_LABEL)
    check_label(ctx, label)
    if len(of_form(questions, form)) >= MAX_VISIBLE:
        raise vn.InputError("error-question-too-many", max=MAX_VISIBLE)
    question: dict[str, Any] = {
        "id": next_id(questions),
        "form": form,
        "kind": kind,
        "label": label,
        "required": required,
    }
    if kind == "choice":
        options = parse_options(options_text or "")
        for option in options:
            check_label(ctx, option)
        question["options"] = options
    return question


def hidden(questions: list[dict[str, Any]], question_id: str) -> list[dict[str, Any]]:
    """A new list (a JSON column notices assignment, not mutation) with that question hidden."""
    return [{**q, "hidden": True} if q.get("id") == question_id else dict(q) for q in questions]


# --- in a member's form ---------------------------------------------------------------------


def snapshot(ctx: Ctx, questions: list[dict[str, Any]] | None, form: str) -> list[dict[str, Any]]:
    """What a conversation keeps of the questions it asks, prompts already worded."""
    return [
        {
            "id": q["id"],
            "kind": q["kind"],
            "label": q["label"],
            "required": bool(q.get("required")),
            "options": list(q.get("options") or []),
            "prompt": ctx.t(f"ask-question-{q['kind']}", label=q["label"]),
        }
        for q in of_form(questions, form)
        if q.get("kind") in KINDS
    ]


def fields(asked: list[dict[str, Any]]) -> tuple[FieldSpec, ...]:
    """The conversation's questions as form fields. A choice's options are pressed by their
    position (button data is ASCII and short); the stored answer is the option's text."""
    result = []
    for q in asked:
        common: dict[str, Any] = {"required": q["required"]}
        if q["kind"] == "text":
            common.update(max_length=MAX_TEXT_ANSWER, multiline=True)
        elif q["kind"] == "choice":
            common["options"] = tuple(Option(str(i), text) for i, text in enumerate(q["options"]))
        result.append(FieldSpec(q["id"], q["kind"], q["label"], q["prompt"], **common))
    return tuple(result)


async def refresh(ctx: Ctx, conv: Conversation, *, campaign_id: int, form: str) -> bool:
    """Bring the conversation's questions up to date with the campaign's; True if they changed.
    Answers are kept by question id: a question that disappeared is no longer asked and its
    answer is left out; a new one is asked before the summary."""
    campaign = await ctx.session.get(Campaign, campaign_id)
    fresh = snapshot(ctx, campaign.questions if campaign else [], form)
    if conv.context.get("questions", []) == fresh:
        return False
    conv.context = {**conv.context, "questions": fresh}
    # Now, so that the buttons shown next carry the row's new version.
    await ctx.session.flush()
    return True


def to_stored(asked: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, str]:
    stored = {}
    for q in asked:
        value = answers.get(q["id"])
        if value is None:
            continue
        if q["kind"] == "choice":
            index = int(value)
            if not 0 <= index < len(q["options"]):
                continue
            value = q["options"][index]
        stored[q["id"]] = str(value)
    return stored


def to_answers(asked: list[dict[str, Any]], stored: dict[str, Any] | None) -> dict[str, Any]:
    """Stored answers as form answers, to correct a returned registration. An optional question
    without an answer counts as skipped; a required one (added since) is asked, and so is a
    choice whose stored text is not one of its options."""
    answers: dict[str, Any] = {}
    for q in asked:
        value = (stored or {}).get(q["id"])
        if value is None:
            if not q["required"]:
                answers[q["id"]] = None
        elif q["kind"] != "choice":
            answers[q["id"]] = value
        elif value in q["options"]:
            answers[q["id"]] = str(q["options"].index(value))
    return answers


def merged(
    old: dict[str, Any] | None, asked: list[dict[str, Any]], new: dict[str, str]
) -> dict[str, Any]:
    """New answers over old ones; answers to questions no longer asked (hidden) are kept."""
    ids = {q["id"] for q in asked}
    return {**{k: v for k, v in (old or {}).items() if k not in ids}, **new}


# --- showing answers --------------------------------------------------------------------------


def value_text(kind: str, value: Any) -> str:
    try:
        if kind == "number":
            return vn.format_number(Decimal(str(value)))
        if kind == "date":
            return vn.format_date(date.fromisoformat(str(value)))
    except (InvalidOperation, ValueError):
        pass
    return str(value)


def detail_lines(
    questions: list[dict[str, Any]] | None,
    stored: dict[str, Any] | None,
    form: str,
    *,
    indent: str = "",
    bullet: str = "•",
) -> list[str]:
    """ "• label: value" for each answered question of the form, hidden ones included."""
    answers = stored or {}
    lines = []
    for q in questions or []:
        if q.get("form") != form or answers.get(q.get("id")) is None:
            continue
        shown = value_text(q.get("kind", "text"), answers[q["id"]])
        separator = "\n" if "\n" in shown else " "
        lines.append(f"{indent}{bullet} {q.get('label', q['id'])}:{separator}{shown}")
    return lines
