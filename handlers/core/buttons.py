"""What a button carries back when it is pressed: one kind of data per kind of button, each with
its prefix and typed fields. Data comes back untrusted (anyone can forge a press), so decoding
reads only these shapes and answers None to anything else; encoding refuses what would not read
back, and what Telegram would refuse (more than 64 bytes). The formats never change: messages
already sent carry them."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

MAX_BYTES = 64  # Telegram's limit on callback_data
V = TypeVar("V", bound=tuple[Any, ...])


@dataclass(frozen=True)
class Field:
    """One part of the data between colons: what it looks like written, and its typed value."""

    pattern: str
    read: Callable[[str], Any] = str
    write: Callable[[Any], str | None] = str  # None: left out (an optional last part)

    def matches(self, text: str) -> bool:
        return re.fullmatch(self.pattern, text, re.ASCII) is not None


# A record id: ASCII digits, and few enough to fit a 32-bit column. A kind that carries one
# answers a press whose record does not exist with "not found" (tests/test_not_found.py).
ID = Field(r"[0-9]{1,9}", int)
# A form's version: written like an id, but no record of its own.
VERSION = Field(ID.pattern, int)
# A page of a list, from 0.
PAGE = Field(r"[0-9]{1,5}", int)
# A form's own action ("ok", "o:3", "e:title"): it may hold colons, so it is always last.
ACTION = Field(r"[A-Za-z0-9_:.-]{1,48}")


def one_of(*words: str) -> Field:
    return Field("|".join(re.escape(word) for word in words))


def maybe(field: Field) -> Field:
    """An optional last part: absent when the value is None."""
    return Field(field.pattern, field.read, lambda value: None if value is None else str(value))


# A part that is there (":r") or not.
FLAG_R = Field("r", lambda text: True, lambda value: "r" if value else None)


class Kind(Generic[V]):
    def __init__(
        self, prefix: str, shape: Callable[..., V], *fields: Field, optional: int = 0
    ) -> None:
        self.prefix = prefix
        self.shape = shape
        self.fields = fields
        self.required = len(fields) - optional

    def encode(self, value: V) -> str:
        texts = [field.write(item) for field, item in zip(self.fields, value, strict=True)]
        parts = list(itertools.takewhile(lambda text: text is not None, texts))
        if len(parts) < self.required or any(text is not None for text in texts[len(parts) :]):
            raise ValueError(f"{self.prefix}: a missing part in {value!r}")
        for field, text in zip(self.fields, parts, strict=False):
            if not field.matches(text):
                raise ValueError(f"{self.prefix}: {text!r} does not match {field.pattern}")
        data = ":".join([self.prefix, *parts])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data longer than {MAX_BYTES} bytes: {data!r}")
        return data

    def __call__(self, *fields: Any) -> str:
        """The data of one button: `REVIEW("a", model.id)` is `rv:a:<id>`."""
        return self.encode(self.shape(*fields))

    def decode(self, data: str) -> V | None:
        if not self.fields:
            return self.shape() if data == self.prefix else None
        prefix, colon, rest = data.partition(":")
        if prefix != self.prefix or not colon:
            return None
        parts = rest.split(":", len(self.fields) - 1)
        if len(parts) < self.required:
            return None
        if not all(field.matches(part) for field, part in zip(self.fields, parts, strict=False)):
            return None
        return self.shape(
            *(field.read(part) for field, part in zip(self.fields, parts, strict=False))
        )


def prefix_of(data: str) -> str:
    return data.partition(":")[0]


class Step(NamedTuple):
    """A press inside a form (or on the prompt about an open form), for one version of it."""

    version: int
    action: str


class Act(NamedTuple):
    """An action (one letter) on a record."""

    action: str
    id: int


class Ref(NamedTuple):
    id: int


class ReportRef(NamedTuple):
    id: int
    replace: bool = False


class Page(NamedTuple):
    """A page of a list about one record (a model's reports, a unit's)."""

    id: int
    page: int = 0


class Go(NamedTuple):
    command: str


class Bare(NamedTuple):
    pass


class ConsentAnswer(NamedTuple):
    """Yes or no to one version of the personal-data notice; the invite code that brought a
    newcomer, to go on with once they agree."""

    answer: str
    version: str
    code: str | None = None


class QuestionsRef(NamedTuple):
    campaign: int
    form: str | None = None
    action: str | None = None
    question: str | None = None


FORM = Kind("f", Step, VERSION, ACTION)
DRAFT = Kind("d", Step, VERSION, ACTION)
JOIN_REQUEST = Kind("jr", Act, one_of("a", "r"), ID)
MODEL = Kind("m", Ref, ID)
INVITE = Kind("iv", Act, one_of("r", "y", "n"), ID)
REPORT = Kind("rp", ReportRef, ID, FLAG_R, optional=1)
REVIEW = Kind("rv", Act, one_of("a", "r", "x", "n"), ID)
RESUBMIT = Kind("ed", Ref, ID)
OVERDUE = Kind("ov", Ref, ID)
EVALUATE = Kind("ev", Ref, ID)
GO = Kind("go", Go, one_of("duyet"))
COMMEND = Kind("kt", Ref, ID)
RESUME = Kind("resume", Bare)
# Reading reports (handlers/coordinator/reading.py): one report, a model's, a unit's this period.
REPORT_VIEW = Kind("rr", Ref, ID)
MODEL_REPORTS = Kind("mr", Page, ID, maybe(PAGE), optional=1)
UNIT_REPORTS = Kind("ur", Page, ID, maybe(PAGE), optional=1)
ANSWER = Kind("ra", Ref, ID)
MINE = Kind("me", Go, one_of("json", "edit"))
CONSENT = Kind(
    "cs",
    ConsentAnswer,
    one_of("y", "n"),
    Field(r"[0-9A-Za-z.-]{1,16}"),
    maybe(Field(r"[A-Z0-9_]{1,32}")),  # an invite code as stored (storage.records.invites)
    optional=1,
)
CAMPAIGN_EDIT = Kind("cd", Ref, ID)
QUESTIONS = Kind(
    "qs",
    QuestionsRef,
    ID,
    maybe(one_of("registration", "report")),
    maybe(one_of("a", "h", "hy")),
    maybe(Field(r"q[0-9]{1,6}")),
    optional=3,
)
