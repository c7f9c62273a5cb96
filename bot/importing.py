"""`dvk units import FILE`: units from an .xlsx or .csv file, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Settings
from bot.runtime import utc_now
from storage.db import Database
from storage.importing import (
    ImportFileError,
    existing_hierarchy,
    import_units,
    read_unit_rows,
    validate_unit_rows,
)
from storage.migrate import upgrade


def _problems(problems: list[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"nothing imported: {len(problems)} problem(s) / chưa nhập gì: {len(problems)} lỗi",
        file=sys.stderr,
    )
    return 1


async def import_units_command(settings: Settings, path: Path) -> int:
    # The file is read before the database is touched: a mistyped name creates nothing.
    try:
        rows = read_unit_rows(path)
    except ImportFileError as exc:
        return _problems(exc.problems)
    db = Database.from_url(settings.database_url)
    try:
        if settings.sqlite_path() is not None:
            await upgrade(db.engine)
        async with db.session() as session:
            hierarchy = await existing_hierarchy(session)
            problems = validate_unit_rows(rows, set(hierarchy), existing_parents=hierarchy)
            if problems:
                return _problems(problems)
            summary = await import_units(session, rows=rows, now=utc_now(), source=path.name)
    except ImportFileError as exc:
        return _problems(exc.problems)
    finally:
        await db.dispose()
    print(f"units: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged")
    return 0
