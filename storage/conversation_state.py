"""The JSON a conversation row keeps: the form engine's state (`Conversation.state`) and what
the conversation is about (`Conversation.context`). The shapes only describe what is stored, so
a draft saved before they were written loads and resumes unchanged; the engine
(`handlers/forms/engine.py`) is the one writer of the state."""

# No `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations
# only (Python 3.11), and `__required_keys__` should say what a stored row must have.
from typing import Any, Literal, NotRequired, TypedDict, cast

# A plain field's answer: text, a number as plain digits ("1500000"), an ISO date, an option's
# value; None when the field was skipped.
Value = str | None
# One item of a repeated group (a model's targets), by the group's field names.
Item = dict[str, Value]


class GroupAnswer(TypedDict):
    """A repeated group while it is being answered; the engine's summary shows its items."""

    items: list[Item]
    current: Item  # the item being asked, field by field
    open: bool  # False once the person said the group is complete
    more: bool  # asking "one more?"
    # Changed from the summary (`handlers/forms/groups.py`): the list of items, one item being
    # changed or added, or choosing one to remove; which item is being changed; the items taken
    # out, which the summary goes on showing until the form is sent.
    mode: NotRequired[Literal["items", "item", "add", "remove"] | None]
    at: NotRequired[int | None]
    removed: NotRequired[list[Item]]


class PhotosAnswer(TypedDict):
    items: list[str]  # the channel's file ids (the media key where a channel has none)
    open: bool  # more pictures are taken until "done"
    # Beside each item, its key in the media store (storage/media.py); None for a picture
    # taken before the store existed. Absent in drafts saved before then.
    media: NotRequired[list[str | None]]


Answer = Value | GroupAnswer | PhotosAnswer
# By field name. A field without an entry has not been answered yet.
Answers = dict[str, Answer]


class Snapshot(TypedDict):
    """One entry of the undo history: the answers as they were before a step."""

    answers: Answers
    editing: bool


class FormState(TypedDict):
    answers: Answers
    history: list[Snapshot]  # the newest last, at most `engine.HISTORY_LIMIT`
    editing: bool  # an answer is asked again from the summary
    query: str | None  # typed text narrowing a choice's options
    page: int  # which page of a choice's options is shown


def photo_keys(value: Any) -> set[str]:
    """The media store keys a stored form holds (its answers and its undo history): the photos
    of a report being written are in the store before the report is sent."""
    found: set[str] = set()
    if isinstance(value, dict):
        media = value.get("media")
        if isinstance(media, list):
            found |= {key for key in media if isinstance(key, str)}
        for item in value.values():
            found |= photo_keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= photo_keys(item)
    return found


def group_answer(answers: Answers, name: str) -> GroupAnswer | None:
    """The answer of a field of type "group". Which shape an answer has is told by its field's
    type in the form, which the stored JSON does not repeat."""
    return cast("GroupAnswer | None", answers.get(name))


def photos_answer(answers: Answers, name: str) -> PhotosAnswer | None:
    """The answer of a field of type "photos" (see `group_answer`)."""
    return cast("PhotosAnswer | None", answers.get(name))


class ReportTarget(TypedDict):
    """A target of the model a report is about, asked as one value each."""

    id: int
    label: str
    prompt: str
    unit: NotRequired[str]  # what a typed value may carry ("2 căn")


class ConversationContext(TypedDict, total=False):
    """What a conversation is about, set when its form starts; each flow uses its own keys."""

    campaign_id: int  # registration, report, campaign edit, an admin's question
    campaign_starts_on: str  # registration: ISO dates the model's own dates must lie within
    campaign_ends_on: str
    model_id: int  # a correction, a report, a review note, an evaluation, a commendation
    # An admin's own questions as they were when asked (`handlers/member/questions.py`).
    questions: list[dict[str, Any]]
    invite: str  # the profile form: the invite code being accepted
    decision: str  # a review note: the decision it goes with
    targets: list[ReportTarget]  # a report
    period_start: str  # a report: its period and due date, ISO
    period_end: str
    due_on: str
    replace: bool  # a report: replaces the one already sent for the period
    form: str  # an admin's question: which form it joins
    title: str  # an admin's question: the form's title
    channels: list[str]  # reminder settings: the person's channels, when more than one
    unit_id: int  # who issues a year-end report: the top-level unit
    scope: str  # ... and the report to draft once they are kept ("" for none)
    draft: bool
    # A command or a pressed button that waits for this form to be discarded.
    _next: str | None
    _next_choice: str | None
    # /huy asked for confirmation at this version of the conversation (a second /huy confirms).
    _cancel_asked: int
    # Answers given when the form started that cannot be changed (the only possible choice):
    # the summary offers no button for them (`handlers/core/conversation.py` `start`).
    _fixed: list[str]
