"""`dvk units import FILE` (units from an .xlsx or .csv file) and `dvk import FILE.xlsx` (the
workbook of paper records): all or nothing, every problem printed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.runtime import utc_now
from excel.limits import WorkbookLimits
from excel.units_import import (
    ImportFileError,
    Problem,
    existing_hierarchy,
    import_units,
    read_unit_rows,
    validate_unit_rows,
)
from handlers.admin.importing import failure_text, render_problem, summary_text
from language.texts import Texts
from storage.db import Database
from storage.migrate import upgrade


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
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
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


async def import_workbook_command(
    settings: Settings, path: Path, limits: WorkbookLimits | None = None
) -> int:
    from excel.records_import import import_workbook
    from excel.rows import read_workbook

    t = Texts(settings.language)
    # The file is read before the database is touched: a mistyped name creates nothing.
    try:
        data = await asyncio.to_thread(path.read_bytes)
        rows = await asyncio.to_thread(read_workbook, data, path.name, limits or WorkbookLimits())
    except FileNotFoundError:
        return _problems(t, [Problem(None, "import-not-found", {"file": str(path)})])
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return _problems(
            t, [Problem(None, "import-unreadable", {"file": str(path), "reason": reason})]
        )
    except ImportFileError as exc:
        return _problems(t, exc.problems)
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        if settings.sqlite_path() is not None:
            await upgrade(db.engine)
        async with db.session() as session:
            summary = await import_workbook(
                session, rows=rows, now=utc_now(), timezone=ZoneInfo(settings.timezone)
            )
    except ImportFileError as exc:
        print(failure_text(t, path.name, exc.problems, limit=None), file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    print(summary_text(t, summary))
    return 0
