"""An export given up half-way (an error, a Ctrl-C in the terminal chat, a stop) leaves no
half-written sheet behind: no temporary file, and no late traceback from openpyxl's write-only
sheets being closed by the garbage collector."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from excel import export as export_module
from excel.export import ExportScope, export_workbook
from tests.test_export import data  # noqa: F401  (fixture)


async def test_a_failure_half_way_leaves_nothing_behind(
    data,  # noqa: F811
    db,
    tmp_path,
    monkeypatch,
):
    late: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: late.append(report.exc_value))
    written: list[str] = []
    real = export_module.SheetWriter.__init__

    def opened(self, book, name, headers):  # type: ignore[no-untyped-def]
        real(self, book, name, headers)
        sheet = book.worksheets[-1]
        sheet._get_writer()
        written.append(sheet._writer.out)

    async def broken(export, book):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(export_module.SheetWriter, "__init__", opened)
    monkeypatch.setattr(export_module, "results", broken)
    target = tmp_path / "xuat.xlsx"
    async with db.read() as session:
        with pytest.raises(RuntimeError):
            await export_workbook(
                session, target, scope=ExportScope(), timezone=ZoneInfo("Asia/Ho_Chi_Minh")
            )
    gc.collect()
    assert late == []
    assert written and not any(Path(path).exists() for path in written)  # noqa: ASYNC240
    assert not target.exists()
