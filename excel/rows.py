"""Read the import workbook (the layout of `excel/layout.py`) into typed rows.

No database here. A cell that cannot be read becomes a :class:`Problem` naming its sheet, row and
column; its row is still returned, with None in that place, so that the rows of other sheets
referring to it are not reported a second time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from excel.cells import Cells, choice_key, quoted
from excel.layout import (
    ALLOWED,
    CADENCE_LABELS,
    CAMPAIGN_OPTIONAL_HEADERS,
    COMMENDATION_STATUS_VALUES,
    KIND_VALUES,
    LEVEL_VALUES,
    MODEL_STATUS_LABELS,
    REGISTRATION_STATUS_HEADER,
    SHEETS,
    TARGETS_SHEET,
    UNIT_OPTIONAL_HEADERS,
    continued_sheet,
)
from excel.limits import RowCounter, WorkbookLimits, open_workbook
from excel.units_import import ImportFileError, Problem, UnitRow, cell_text, header_key
from storage.rules import DECIDED, DRAFT

CAMPAIGNS, UNITS, REGISTRATIONS, RESULTS, CONFERENCES, COMMENDATIONS = (s[0] for s in SHEETS)
TARGETS = TARGETS_SHEET[0]
# The order problems and counts are shown in: what later sheets refer to comes first.
SHEET_ORDER = (CAMPAIGNS, UNITS, REGISTRATIONS, TARGETS, RESULTS, CONFERENCES, COMMENDATIONS)
OPTIONAL_SHEETS = frozenset({CAMPAIGNS, TARGETS})
HEADERS: dict[str, list[str]] = {name: list(headers) for name, headers, _ in SHEETS}
HEADERS[TARGETS] = list(TARGETS_SHEET[1])
OPTIONAL_HEADERS: dict[str, list[str]] = {
    REGISTRATIONS: [REGISTRATION_STATUS_HEADER],
    CAMPAIGNS: CAMPAIGN_OPTIONAL_HEADERS,
    UNITS: UNIT_OPTIONAL_HEADERS,
}
# Official templates often put a title and a blank line above the table.
HEADER_SEARCH_ROWS = 30
# The lengths of the columns these cells are stored in (storage/models.py).
NAME_MAX = 200
INDICATOR_MAX = 200
MEASURE_MAX = 50
DECISION_MAX = 64
FIELD_MAX = 120


@dataclass(frozen=True)
class CampaignRow:
    row: int
    code: str | None
    name: str | None
    starts_on: date | None
    ends_on: date | None
    # Optional columns (an export writes them); None where absent or empty.
    cadence: str | None = None
    due_day: int | None = None
    registration_opens_on: date | None = None
    registration_closes_on: date | None = None


@dataclass(frozen=True)
class ModelRow:
    row: int
    code: str | None
    campaign: str | None
    unit: str | None
    kind: str | None
    name: str | None
    title: str | None
    field: str | None  # as written; matched against the stored fields by the import
    registered_on: date | None
    status: str | None  # None: not given


@dataclass(frozen=True)
class TargetRow:
    row: int
    model: str | None
    indicator: str | None
    measure: str | None
    value: Decimal | None


@dataclass(frozen=True)
class ResultRow:
    row: int
    model: str | None
    indicator: str | None
    measure: str | None
    value: Decimal | None
    reported_on: date | None
    # The sheet the row is on: "Kết quả", or "Kết quả (2)", ... past Excel's row limit.
    sheet: str = RESULTS


@dataclass(frozen=True)
class ConferenceRow:
    row: int
    unit: str | None
    campaign: str | None
    held_on: date | None


@dataclass(frozen=True)
class CommendationRow:
    row: int
    model: str | None
    level: str | None
    status: str | None
    decision_number: str | None
    decided_on: date | None


@dataclass
class WorkbookRows:
    file_name: str
    present: set[str] = field(default_factory=set)  # the sheets the file has
    campaigns: list[CampaignRow] = field(default_factory=list)
    units: list[UnitRow] = field(default_factory=list)
    models: list[ModelRow] = field(default_factory=list)
    targets: list[TargetRow] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    conferences: list[ConferenceRow] = field(default_factory=list)
    commendations: list[CommendationRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def row_count(self) -> int:
        return sum(
            len(rows)
            for rows in (
                self.campaigns,
                self.units,
                self.models,
                self.targets,
                self.results,
                self.conferences,
                self.commendations,
            )
        )


def loose_key(text: str) -> str:
    """How a field of activity is matched: case, spaces and diacritics do not count."""
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
    )
    return " ".join(stripped.replace("đ", "d").replace("Đ", "D").casefold().split())


def _labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {choice_key(label): value for label, value in labels.items()}


KINDS = _labels(KIND_VALUES)
LEVELS = _labels(LEVEL_VALUES)
COMMENDATION_STATUSES = _labels(COMMENDATION_STATUS_VALUES)
# A draft is never exported and would vanish from every count: not importable.
IMPORTABLE_STATUS_LABELS = {s: label for s, label in MODEL_STATUS_LABELS.items() if s != DRAFT}
MODEL_STATUSES = _labels({label: status for status, label in IMPORTABLE_STATUS_LABELS.items()})


def _campaign(r: Cells) -> CampaignRow:
    h = HEADERS[CAMPAIGNS]
    cadence_h, due_h, opens_h, closes_h = CAMPAIGN_OPTIONAL_HEADERS
    due_day = None
    if cell_text(r.cells.get(due_h)):
        amount = r.amount(due_h)
        if amount is not None and (amount != int(amount) or not 1 <= amount <= 31):
            r.problem("import-bad-due-day", column=due_h, value=quoted(r.cells.get(due_h)))
        elif amount is not None:
            due_day = int(amount)
    return CampaignRow(
        r.row,
        r.code(h[0]),
        r.text(h[1], max_length=NAME_MAX),
        r.day(h[2]),
        r.day(h[3]),
        r.choice(
            cadence_h,
            _labels({label: value for value, label in CADENCE_LABELS.items()}),
            list(CADENCE_LABELS.values()),
            required=False,
        ),
        due_day,
        r.day(opens_h, required=False),
        r.day(closes_h, required=False),
    )


def _unit(r: Cells) -> UnitRow:
    # Codes, names and parents are checked by the units import's own validation.
    h = HEADERS[UNITS]
    parent = cell_text(r.cells.get(h[2]))
    since_h, until_h = UNIT_OPTIONAL_HEADERS
    since, until = r.day(since_h, required=False), r.day(until_h, required=False)
    if since and until and until < since:
        r.problem("import-unit-dates", since=since_h, until=until_h)
    return UnitRow(
        r.row,
        cell_text(r.cells.get(h[0])),
        cell_text(r.cells.get(h[1])),
        parent or None,
        since,
        until,
    )


def _model(r: Cells) -> ModelRow:
    h = HEADERS[REGISTRATIONS]
    return ModelRow(
        row=r.row,
        code=r.code(h[0]),
        campaign=r.code(h[1]),
        unit=r.code(h[2]),
        kind=r.choice(h[3], KINDS, ALLOWED["Loại"], required=True),
        name=r.name(h[4], max_length=NAME_MAX),
        title=r.text(h[5], max_length=NAME_MAX),
        field=r.text(h[6], max_length=FIELD_MAX),
        registered_on=r.day(h[7]),
        status=r.choice(
            REGISTRATION_STATUS_HEADER,
            MODEL_STATUSES,
            list(IMPORTABLE_STATUS_LABELS.values()),
            required=False,
        ),
    )


def _target(r: Cells) -> TargetRow:
    h = HEADERS[TARGETS]
    code, indicator = r.code(h[0]), r.text(h[1], max_length=INDICATOR_MAX)
    unit = r.text(h[2], max_length=MEASURE_MAX)
    return TargetRow(r.row, code, indicator, unit, r.amount(h[3], unit))


def _result(r: Cells) -> ResultRow:
    h = HEADERS[RESULTS]
    code, indicator = r.code(h[0]), r.text(h[1], max_length=INDICATOR_MAX)
    unit = r.text(h[2], max_length=MEASURE_MAX)
    return ResultRow(r.row, code, indicator, unit, r.amount(h[3], unit), r.day(h[4]), r.sheet)


def _conference(r: Cells) -> ConferenceRow:
    h = HEADERS[CONFERENCES]
    return ConferenceRow(r.row, r.code(h[0]), r.code(h[1]), r.day(h[2]))


def _commendation(r: Cells) -> CommendationRow:
    h = HEADERS[COMMENDATIONS]
    row = CommendationRow(
        r.row,
        r.code(h[0]),
        r.choice(h[1], LEVELS, ALLOWED["Cấp"], required=True),
        r.choice(h[2], COMMENDATION_STATUSES, ALLOWED["Trạng thái"], required=True),
        r.text(h[3], max_length=DECISION_MAX, required=False),
        r.day(h[4], required=False),
    )
    blank = [header for header in h[3:] if not cell_text(r.cells.get(header))]
    if row.status == DECIDED and blank:
        r.problem("import-decision-needed", status=ALLOWED["Trạng thái"][1], columns=blank)
    return row


_READERS: dict[str, Any] = {
    CAMPAIGNS: (_campaign, "campaigns"),
    UNITS: (_unit, "units"),
    REGISTRATIONS: (_model, "models"),
    TARGETS: (_target, "targets"),
    RESULTS: (_result, "results"),
    CONFERENCES: (_conference, "conferences"),
    COMMENDATIONS: (_commendation, "commendations"),
}


def _header_row(
    sheet: str,
    rows: Iterator[tuple[object, ...]],
    problems: list[Problem],
    shown: str | None = None,
) -> tuple[int, dict[str, int]] | None:
    """Finds the header row among the first rows: its number and the column of each header.
    The rows up to it are consumed; the caller reads on from there. `shown` is the sheet's
    own name when it continues `sheet` past Excel's row limit."""
    shown = shown or sheet
    wanted = {header_key(h): h for h in HEADERS[sheet] + OPTIONAL_HEADERS.get(sheet, [])}
    required = HEADERS[sheet]
    best: tuple[int, dict[str, int]] | None = None
    for number, values in enumerate(rows, 1):
        columns: dict[str, int] = {}
        twice: list[str] = []
        for col, cell in enumerate(values):
            header = wanted.get(header_key(cell))
            if header is not None and header in columns:
                twice.append(header)
            elif header is not None:
                columns[header] = col
        if all(h in columns for h in required):
            problems.extend(
                Problem(number, "import-duplicate-column", {"column": h}, sheet=shown)
                for h in twice
            )
            return number, columns
        if columns and (best is None or len(columns) > len(best[1])):
            best = (number, columns)
        if number >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        problems.append(Problem(None, "import-no-header", {"columns": required}, sheet=shown))
    else:
        missing = [h for h in required if h not in best[1]]
        problems.append(
            Problem(best[0], "import-missing-headers", {"columns": missing}, sheet=shown)
        )
    return None


def _read_sheet(
    sheet: str,
    worksheet: Any,
    result: WorkbookRows,
    counter: RowCounter,
    shown: str | None = None,
) -> None:
    # Some tools write wrong sheet dimensions; read what is really there.
    worksheet.reset_dimensions()
    rows = counter.count(worksheet.iter_rows(values_only=True))
    found = _header_row(sheet, rows, result.problems, shown)
    if found is None:
        return
    header_row, columns = found
    reader, attribute = _READERS[sheet]
    target: list[Any] = getattr(result, attribute)
    for number, values in enumerate(rows, header_row + 1):
        cells = {h: values[c] if c < len(values) else None for h, c in columns.items()}
        if all(not cell_text(v) for v in cells.values()):
            continue  # an empty row
        target.append(reader(Cells(shown or sheet, number, cells, result.problems)))


def read_workbook(data: bytes, file_name: str, limits: WorkbookLimits) -> WorkbookRows:
    """Every sheet of the layout found in the file, read into rows; the problems of the file's
    shape (a missing sheet or header) and of its cells are in `problems`. A file that is not an
    .xlsx workbook, or that unpacks to more than `limits` allow, raises ImportFileError."""
    if not file_name.lower().endswith(".xlsx"):
        raise ImportFileError(Problem(None, "import-workbook-wrong-type", {"file": file_name}))
    result = WorkbookRows(file_name)
    workbook = open_workbook(data, file_name, limits)
    counter = RowCounter(file_name, limits)
    try:
        by_key = {header_key(ws.title): ws for ws in workbook.worksheets}
        for sheet in SHEET_ORDER:
            worksheet = by_key.get(header_key(sheet))
            if worksheet is None:
                if sheet not in OPTIONAL_SHEETS:
                    result.problems.append(
                        Problem(
                            None,
                            "import-missing-sheet",
                            {"sheet": sheet, "found": [ws.title for ws in workbook.worksheets]},
                        )
                    )
                continue
            result.present.add(sheet)
            _read_sheet(sheet, worksheet, result, counter)
            # An export past Excel's row limit goes on in "Kết quả (2)", "Kết quả (3)", ...
            part = 2
            while (more := by_key.get(header_key(continued_sheet(sheet, part)))) is not None:
                _read_sheet(sheet, more, result, counter, continued_sheet(sheet, part))
                part += 1
    except ImportFileError:
        raise
    except Exception as exc:  # a sheet's XML damaged past its first rows
        raise ImportFileError(Problem(None, "import-not-xlsx", {"file": file_name})) from exc
    finally:
        workbook.close()
    if not result.problems and result.row_count() == 0:
        result.problems.append(Problem(None, "import-workbook-empty", {"file": file_name}))
    return result
