"""Reading the cells of one row of an import workbook (`excel/rows.py`): texts, names, codes,
dates, amounts and choices, each checked as the chat checks what is typed. A cell that cannot be
read adds a :class:`Problem` naming its sheet, row and column, and reads as None."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from excel.units_import import CODE_MAX, CODE_RE, Problem, cell_text, unreadable_problem
from language.vietnamese import InputError, parse_date, parse_number

_LARGEST = Decimal(10) ** 15  # as the chat's number parser: more digits is a typo
_SHOWN_MAX = 40  # how much of a bad cell a problem quotes


def choice_key(text: str) -> str:
    """How a choice is matched: case and spaces do not count."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def quoted(value: object) -> str:
    """A bad cell as a problem quotes it: a date the Vietnamese way, a text cut short."""
    if isinstance(value, datetime | date):
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    return cell_text(value)[:_SHOWN_MAX]


class Cells:
    """The cells of one row by header, and the problems found reading them."""

    def __init__(
        self, sheet: str, row: int, cells: dict[str, object], problems: list[Problem]
    ) -> None:
        self.sheet = sheet
        self.row = row
        self.cells = cells
        self.problems = problems

    def problem(self, key: str, **params: object) -> None:
        self.problems.append(Problem(self.row, key, params, sheet=self.sheet))

    def text(self, header: str, *, max_length: int, required: bool = True) -> str | None:
        value = cell_text(self.cells.get(header))
        if not value:
            if required:
                self.problem("import-required", column=header)
            return None
        if len(value) > max_length:
            self.problem("import-too-long", column=header, length=len(value), max=max_length)
            return None
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            self.problem("import-control", column=header)
            return None
        return value

    def name(self, header: str, *, max_length: int) -> str | None:
        """A collective's or a person's name: the chat's readability rule too."""
        value = self.text(header, max_length=max_length)
        if value is not None and unreadable_problem(value) is not None:
            self.problem("import-name-unreadable", column=header)
            return None
        return value

    def code(self, header: str) -> str | None:
        value = cell_text(self.cells.get(header))
        if not value:
            self.problem("import-required", column=header)
            return None
        if not CODE_RE.match(value):
            self.problem("import-bad-code-value", column=header, value=quoted(value), max=CODE_MAX)
            return None
        return value

    def day(self, header: str, *, required: bool = True) -> date | None:
        raw = self.cells.get(header)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.problem("import-required", column=header)
            return None
        value: date | None = None
        if isinstance(raw, datetime):
            value = raw.date()
        elif isinstance(raw, date):
            value = raw
        elif isinstance(raw, str):
            try:
                value = parse_date(unicodedata.normalize("NFC", raw))
            except InputError:
                value = None
        if value is None or not 2000 <= value.year <= 2100:
            self.problem("import-bad-date", column=header, value=quoted(raw))
            return None
        return value

    def amount(self, header: str, unit: str | None = None) -> Decimal | None:
        """A number cell, or text the chat would take ("130 tỷ"), read in the row's `unit` as
        the chat reads a target's value: "50 triệu" in «triệu đồng» is 50."""
        raw = self.cells.get(header)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.problem("import-required", column=header)
            return None
        value: Decimal | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            try:
                value = Decimal(str(raw))
            except InvalidOperation:
                value = None
        elif isinstance(raw, str):
            try:
                value = parse_number(raw, minimum=-_LARGEST, units=(unit,) if unit else ())
            except InputError:
                value = None
        if value is None or not value.is_finite() or abs(value) >= _LARGEST:
            self.problem("import-bad-number", column=header, value=quoted(raw))
            return None
        if value < 0:
            self.problem("import-negative", column=header, value=quoted(raw))
            return None
        return value

    def choice(
        self, header: str, labels: Mapping[str, str], allowed: Sequence[str], *, required: bool
    ) -> str | None:
        raw = cell_text(self.cells.get(header))
        if not raw:
            if required:
                self.problem("import-required", column=header)
            return None
        value = labels.get(choice_key(raw))
        if value is None:
            self.problem("import-bad-choice", column=header, value=quoted(raw), allowed=allowed)
        return value
