"""Import units from a spreadsheet (.xlsx) or a CSV file.

Reading and validation are plain functions; `import_units` is the only part that touches the
database, and it writes nothing unless the whole file is valid.

Problems are data, not wording: each is a :class:`Problem` whose ``key`` names a message in the
bot's text catalog (``import-...``) and whose ``params`` fill its placeholders; the bot renders
them in the admin's language.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from language.vietnamese import InputError, readable_name
from storage.models import Unit
from storage.records.audit import add_audit_entry
from storage.records.units import add_unit, lock_units

# The same rule the admin form applies to a unit code typed in the chat.
CODE_MAX = 32
CODE_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CODE_MAX - 1}}}$")
NAME_MAX = 200

CODE_HEADER = "Mã đơn vị"
NAME_HEADER = "Tên đơn vị"
PARENT_HEADER = "Mã đơn vị cấp trên"
# Official templates often put a title and a blank line above the table.
HEADER_SEARCH_ROWS = 30
CSV_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be imported.

    `row` is the spreadsheet row it is about (None for the file as a whole), `key` a message-catalog
    key and `params` its placeholders. A list or tuple param is a sequence the renderer joins.
    `sheet` names the workbook sheet the row is on, for files of several sheets.
    """

    row: int | None
    key: str
    params: dict[str, object] = field(default_factory=dict)
    sheet: str | None = None


class ImportFileError(Exception):
    """The file cannot be imported. `problems` lists every reason, in row order."""

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(", ".join(p.key for p in self.problems))


@dataclass(frozen=True)
class UnitRow:
    row: int  # as the spreadsheet numbers it: the header row counts
    code: str
    name: str
    parent_code: str | None
    # The days the unit was active, where the sheet gives them (the workbook's «Đơn vị»).
    active_from: date | None = None
    active_until: date | None = None


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int
    unchanged: int


# --- reading ----------------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def header_key(value: object) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", cell_text(value))).strip().casefold()


def cell_text(value: object) -> str:
    if value is None:
        return ""
    # A code typed as a number comes back as 101 or 101.0.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACE.sub(" ", unicodedata.normalize("NFC", str(value))).strip()


_WANTED = {header_key(h): h for h in (CODE_HEADER, NAME_HEADER, PARENT_HEADER)}


def _find_header(rows: Sequence[Sequence[object]]) -> tuple[int, dict[str, int]] | None:
    """Index of the header row and the column of each known header found in it."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for col, cell in enumerate(row):
            header = _WANTED.get(header_key(cell))
            if header is not None:
                if header in columns:
                    raise ImportFileError(
                        Problem(None, "import-duplicate-column", {"column": header})
                    )
                columns[header] = col
        if CODE_HEADER in columns and NAME_HEADER in columns:
            return index, columns
    return None


def _rows_from_table(table: Sequence[Sequence[object]], path: Path) -> list[UnitRow]:
    found = _find_header(table)
    if found is None:
        raise ImportFileError(_no_header(path))
    header_index, columns = found

    def cell(row: Sequence[object], header: str) -> str:
        col = columns.get(header)
        return cell_text(row[col]) if col is not None and col < len(row) else ""

    result = []
    for index in range(header_index + 1, len(table)):
        row = table[index]
        code, name, parent = (
            cell(row, CODE_HEADER),
            cell(row, NAME_HEADER),
            cell(row, PARENT_HEADER),
        )
        if code or name or parent:
            result.append(UnitRow(index + 1, code, name, parent or None))
    return result


def _no_header(path: Path) -> Problem:
    return Problem(
        None,
        "import-missing-columns",
        {"file": path.name, "code": CODE_HEADER, "name": NAME_HEADER, "parent": PARENT_HEADER},
    )


def _read_xlsx(path: Path) -> list[list[object]]:
    # Imported here: it imports this module's ImportFileError.
    from excel.limits import RowCounter, WorkbookLimits, open_workbook

    limits = WorkbookLimits()
    workbook = open_workbook(path, path.name, limits)
    try:
        sheet = workbook.worksheets[0]
        # Some tools write wrong sheet dimensions; read what is really there.
        sheet.reset_dimensions()
        rows = RowCounter(path.name, limits).count(sheet.iter_rows(values_only=True))
        return [list(row) for row in rows]
    finally:
        workbook.close()


def _read_csv(path: Path) -> list[list[object]]:
    data = path.read_bytes()
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "binary")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(Problem(None, "import-not-csv", {"file": path.name})) from exc
    for delimiter in CSV_DELIMITERS:
        table: list[list[object]] = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if _find_header(table) is not None:
            return table
    raise ImportFileError(_no_header(path))


def read_unit_rows(path: Path) -> list[UnitRow]:
    """The non-blank rows under the header of the first sheet (xlsx) or of the file (csv)."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ImportFileError(Problem(None, "import-wrong-type", {"file": path.name}))
    try:
        table = _read_xlsx(path) if suffix == ".xlsx" else _read_csv(path)
    except FileNotFoundError as exc:
        raise ImportFileError(Problem(None, "import-not-found", {"file": str(path)})) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ImportFileError(
            Problem(None, "import-unreadable", {"file": str(path), "reason": reason})
        ) from exc
    return _rows_from_table(table, path)


# --- validation -------------------------------------------------------------------------------


def _key(code: str) -> str:
    return code.upper()


def _cycles(
    parents: Mapping[str, str | None], starts: Iterable[str], own: set[str]
) -> list[list[str]]:
    """Each parent cycle reachable from `starts` that contains one of `own`, once."""
    seen: set[str] = set()
    cycles = []
    for start in starts:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in seen and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = parents.get(node)
        if node is not None and node in on_path:
            cycle = path[on_path[node] :]
            if len(cycle) > 1 and own.intersection(cycle):
                cycles.append(cycle)
        seen.update(path)
    return cycles


def unreadable_problem(name: str) -> tuple[str, dict[str, object]] | None:
    """The chat's rule for a unit's name (`readable_name`) as an import problem. A file's name is
    stored as written, so invisible characters are refused even at its edges."""
    try:
        if readable_name(name) == name:
            return None
    except InputError as error:
        if error.key.startswith("error-name-"):
            return "import-" + error.key.removeprefix("error-"), dict(error.params)
    return "import-name-invisible", {}


def validate_unit_rows(
    rows: Sequence[UnitRow],
    existing_codes: set[str],
    *,
    existing_parents: Mapping[str, str | None] | None = None,
) -> list[Problem]:
    """Every problem in the file, in row order.

    `existing_parents` (code -> parent code of units already stored) lets a cycle that goes
    through stored units be caught too.
    """
    existing = {_key(code) for code in existing_codes}
    problems: list[Problem] = []
    first_row: dict[str, UnitRow] = {}
    rows = [r for r in rows if r.code or r.name or r.parent_code]
    if not rows:
        return [Problem(None, "import-no-rows")]
    for r in rows:
        if not r.code:
            problems.append(Problem(r.row, "import-missing-code"))
        elif not CODE_RE.match(r.code):
            problems.append(Problem(r.row, "import-bad-code", {"code": r.code, "max": CODE_MAX}))
        elif _key(r.code) in first_row:
            other = first_row[_key(r.code)].row
            problems.append(
                Problem(r.row, "import-duplicate-code", {"code": r.code, "other": other})
            )
        else:
            first_row[_key(r.code)] = r
        if not r.name:
            problems.append(Problem(r.row, "import-missing-name"))
        elif len(r.name) > NAME_MAX:
            problems.append(
                Problem(r.row, "import-name-too-long", {"length": len(r.name), "max": NAME_MAX})
            )
        elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in r.name):
            problems.append(Problem(r.row, "import-name-control"))
        elif (unreadable := unreadable_problem(r.name)) is not None:
            problems.append(Problem(r.row, *unreadable))

    parents = {_key(k): (_key(v) if v else None) for k, v in (existing_parents or {}).items()}
    shown = {_key(code): code for code in existing_parents or {}}
    for key, r in first_row.items():
        if not r.parent_code:
            parents[key] = None
            continue
        parent = _key(r.parent_code)
        if parent == key:
            problems.append(Problem(r.row, "import-self-parent", {"code": r.code}))
            parents[key] = None
        elif parent not in first_row and parent not in existing:
            problems.append(Problem(r.row, "import-unknown-parent", {"parent": r.parent_code}))
            parents[key] = None
        else:
            parents[key] = parent
    for cycle in _cycles(parents, first_row, set(first_row)):
        where = sorted(first_row[k].row for k in cycle if k in first_row)
        names = [first_row[k].code if k in first_row else shown.get(k, k) for k in cycle]
        problems.append(
            Problem(where[0], "import-cycle", {"chain": [*names, names[0]], "rows": where})
        )
    problems.sort(key=lambda p: p.row or 0)
    return problems


# --- writing ----------------------------------------------------------------------------------


def _hierarchy(units: Iterable[Unit]) -> dict[str, str | None]:
    units = list(units)
    codes = {unit.id: unit.code for unit in units}
    return {unit.code: codes.get(unit.parent_id) if unit.parent_id else None for unit in units}


async def existing_hierarchy(session: AsyncSession) -> dict[str, str | None]:
    """Stored unit code -> its parent's code, inactive units included."""
    return _hierarchy((await session.scalars(select(Unit))).all())


def _parents_first(rows: Sequence[UnitRow]) -> list[UnitRow]:
    by_key = {_key(r.code): r for r in rows}
    ordered: list[UnitRow] = []
    placed: set[str] = set()
    for r in rows:
        chain = []
        key: str | None = _key(r.code)
        while key is not None and key in by_key and key not in placed:
            chain.append(by_key[key])
            placed.add(key)
            parent = by_key[key].parent_code
            key = _key(parent) if parent else None
        ordered.extend(reversed(chain))
    return ordered


async def import_units(
    session: AsyncSession, *, rows: Sequence[UnitRow], now: datetime, source: str | None = None
) -> ImportSummary:
    """Add new units, update the name and parent of known ones. Never commits."""
    # Checked against the tree as it is, locked: an admin's move meanwhile cannot make a loop.
    units = await lock_units(session)
    hierarchy = _hierarchy(units)
    problems = validate_unit_rows(rows, set(hierarchy), existing_parents=hierarchy)
    if problems:
        raise ImportFileError(problems)
    summary, _ = await write_units(session, rows=rows, units=units, now=now)
    details: dict[str, object] = {
        "added": summary.added,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
    }
    if source:
        details["source"] = source
    await add_audit_entry(
        session, at=now, actor_id=None, action="units.imported", object_type="unit", details=details
    )
    return summary


async def write_units(
    session: AsyncSession, *, rows: Sequence[UnitRow], units: Sequence[Unit], now: datetime
) -> tuple[ImportSummary, dict[str, Unit]]:
    """Store rows already validated against `units` (every stored unit): new codes are added,
    known ones get the row's name and parent. Returns the counts and every unit by code key."""
    stored = {_key(unit.code): unit for unit in units}
    rows = [r for r in rows if r.code]
    added = updated = unchanged = 0
    for r in _parents_first(rows):
        parent_id = stored[_key(r.parent_code)].id if r.parent_code else None
        unit = stored.get(_key(r.code))
        if unit is None:
            stored[_key(r.code)] = await add_unit(
                session,
                code=r.code,
                name=r.name,
                parent_id=parent_id,
                now=now,
                active_from=r.active_from,
                active_until=r.active_until,
            )
            added += 1
        elif (
            unit.name != r.name
            or unit.parent_id != parent_id
            or (r.active_from and unit.active_from != r.active_from)
            or (r.active_until and unit.active_until != r.active_until)
        ):
            unit.name = r.name
            unit.parent_id = parent_id
            # Dates the file leaves empty keep what is known.
            unit.active_from = r.active_from or unit.active_from
            unit.active_until = r.active_until or unit.active_until
            updated += 1
        else:
            unchanged += 1
    await session.flush()
    return ImportSummary(added, updated, unchanged), stored
