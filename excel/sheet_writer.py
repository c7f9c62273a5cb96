"""Writing a sheet of openpyxl's write-only workbook row by row: each row goes to a temporary
file as it is appended, so memory stays flat however long the sheet. Cells say what they are:
dates as dd/mm/yyyy date cells, amounts as numbers, texts as texts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font

from excel.layout import MAX_SHEET_ROWS, continued_sheet, text_cell

DATE_FORMAT = "dd/mm/yyyy"


class SheetWriter:
    """One sheet with a bold header row; past Excel's row limit it goes on in the next sheet of
    the same name (`continued_sheet`) with the same header."""

    def __init__(
        self, book: Workbook, name: str, headers: Sequence[str], *, max_rows: int = MAX_SHEET_ROWS
    ) -> None:
        self.book = book
        self.name = name
        self.headers = list(headers)
        self.max_rows = max_rows
        self.part = 1
        self._start(name)

    def _start(self, name: str) -> None:
        self.sheet = self.book.create_sheet(name)
        # The headers are texts like any other: a question's label can start with "=".
        self.sheet.append([self.bold(header) for header in self.headers])
        self.rows = 1

    def append(self, row: list[Any]) -> None:
        if self.rows >= self.max_rows:
            self.part += 1
            self._start(continued_sheet(self.name, self.part))
        # A str not given through `text` (a label, a stored value) is made text here.
        self.sheet.append([self.text(v) if isinstance(v, str) else v for v in row])
        self.rows += 1

    def text(self, value: str | None) -> Any:
        """A text that stays text (`text_cell`)."""
        return text_cell(self.sheet, value)

    def date(self, value: date | None) -> Any:
        if value is None:
            return None
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell

    def answer(self, kind: str, value: object) -> Any:
        """An answer to an admin's own question, stored as text (handlers/shared/questions.py): a
        number or a date becomes one; what does not read as one stays text."""
        if value is None:
            return None
        text = str(value)
        if kind == "number":
            try:
                return number(Decimal(text))
            except InvalidOperation:
                pass
        elif kind == "date":
            try:
                return self.date(date.fromisoformat(text))
            except ValueError:
                pass
        return self.text(text)

    def bold(self, value: Any) -> Cell:
        if isinstance(value, str):
            value = self.text(value)
        cell = value if isinstance(value, Cell) else WriteOnlyCell(self.sheet, value=value)
        cell.font = Font(bold=True)
        return cell


def number(value: Decimal | None) -> int | Decimal | None:
    """Whole amounts as integers ("5", not "5.0000"), others exactly as stored."""
    if value is None:
        return None
    value = Decimal(value)
    if not value.is_finite():
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()
