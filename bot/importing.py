"""`dvk units import FILE`: units from an .xlsx or .csv file, all or nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Settings
from bot.runtime import utc_now
from bot.texts import Texts
from storage.db import Database
from storage.importing import (
    ImportFileError,
    Problem,
    existing_hierarchy,
    import_units,
    read_unit_rows,
    validate_unit_rows,
)
from storage.migrate import upgrade

# How a sequence param is joined; any other sequence is a plain comma-separated list.
_SEPARATORS = {"chain": " → "}


def render_problem(t: Texts, problem: Problem) -> str:
    """The problem worded in `t`'s language, prefixed by its row when it has one."""
    params = {
        name: _SEPARATORS.get(name, ", ").join(map(str, value))
        if isinstance(value, list | tuple)
        else value
        for name, value in problem.params.items()
    }
    text = t(problem.key, **params)
    return text if problem.row is None else t("import-row", row=problem.row, problem=text)


def _problems(t: Texts, problems: Sequence[Problem]) -> int:
    for problem in problems:
        print(render_problem(t, problem), file=sys.stderr)
    print(t("import-failed", count=len(problems)), file=sys.stderr)
    return 1


async def import_units_command(settings: Settings, path: Path) -> int:
    t = Texts(settings.language)
    # The file is read before the database is touched: a mistyped name creates nothing.
    try:
        rows = read_unit_rows(path)
    except ImportFileError as exc:
        return _problems(t, exc.problems)
    db = Database.from_url(settings.database_url)
    try:
        if settings.sqlite_path() is not None:
            await upgrade(db.engine)
        async with db.session() as session:
            hierarchy = await existing_hierarchy(session)
            problems = validate_unit_rows(rows, set(hierarchy), existing_parents=hierarchy)
            if problems:
                return _problems(t, problems)
            summary = await import_units(session, rows=rows, now=utc_now(), source=path.name)
    except ImportFileError as exc:
        return _problems(t, exc.problems)
    finally:
        await db.dispose()
    print(
        t(
            "import-done",
            added=summary.added,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    )
    return 0
