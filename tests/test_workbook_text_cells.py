"""Every text the bot writes into a workbook stays text: an admin's question labelled
`=HYPERLINK(...)` heads its «Đăng ký» column as the words written, never as a formula Excel would
run — in an admin's export, a coordinator's, `dvk export`, and the template (/maunhap)."""

from __future__ import annotations

import asyncio
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from bot.cli import main
from excel.layout import template_bytes
from language.texts import Texts
from storage.models import Unit
from storage.records.units import unit_by_code
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_export import build_data, finish_jobs, sent_workbook

# What spreadsheets take for the start of a formula.
LABELS = ['=HYPERLINK("http://x","y")', "+1+2", "-1-2", "@SUM(A1)"]


@pytest.fixture
async def labelled(db, clock, chat):
    """The export's data set, with the LABELS added by an admin through /cauhoi to DVK26's
    registration form, and a unit whose name starts with "="."""
    await build_data(db, clock())
    async with db.session() as session:
        await session.execute(update(Unit).where(Unit.code == "CB-VP").values(name="=1+1"))
    admin = chat(ADMIN_ID, "Quản trị")
    for label in LABELS:
        await admin.send("/cauhoi DVK26")
        await admin.click(next(b for b in admin.buttons() if b.startswith("Đăng ký")))
        await admin.click("➕ Thêm câu hỏi")
        await admin.send(label)
        await admin.click("Chữ")
        await admin.click("Không")
        saved = await admin.click("✅ Lưu câu hỏi")
        assert any(label in reply for reply in saved), saved
    return admin


def assert_texts(book) -> None:  # type: ignore[no-untyped-def]
    """The labels head columns as written, as texts; no cell of any sheet is a formula."""
    header = {cell.value: cell for cell in book["Đăng ký"][1]}
    for label in LABELS:
        assert label in header, list(header)
        assert header[label].data_type == "s", (label, header[label].data_type)
    formulas = [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []


async def test_question_labels_head_their_columns_as_text_in_the_chat(
    labelled, db, clock, chat, api, app
):
    await labelled.send("/xuatexcel")
    await finish_jobs(app)
    _, book = sent_workbook(api, ADMIN_ID)
    assert_texts(book)
    assert "=1+1" in [cell.value for cell in book["Đơn vị"]["B"]]

    # A coordinator's export has the same columns.
    async with db.session() as session:
        unit = await unit_by_code(session, code="CB-VP")
    await make_coordinator(db, unit_id=unit.id, telegram_id=9002, now=clock())
    await chat(9002, "Phụ trách VP").send("/xuatexcel DVK26")
    await finish_jobs(app)
    _, book = sent_workbook(api, 9002)
    assert_texts(book)


async def test_question_labels_head_their_columns_as_text_on_the_command_line(
    labelled, database_url, monkeypatch, tmp_path
):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    target = tmp_path / "xuat.xlsx"
    assert await asyncio.to_thread(main, ["export", "-o", str(target)]) == 0
    assert_texts(load_workbook(target))


def test_the_template_writes_texts():
    book = load_workbook(BytesIO(template_bytes(Texts())))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type in ("s", "n", "d") for cell in cells if cell.value is not None)
    assert all(cell.data_type == "s" for cell in cells if isinstance(cell.value, str))


def test_a_text_cell_stays_text_in_an_ordinary_workbook_too():
    # The template is an ordinary (not write-only) workbook: the same function serves it.
    from openpyxl import Workbook

    from excel.layout import text_cell

    book = Workbook()
    book.active.append([text_cell(book.active, label) for label in LABELS])
    buffer = BytesIO()
    book.save(buffer)
    [row] = load_workbook(buffer).active.iter_rows()
    assert [(cell.value, cell.data_type) for cell in row] == [(label, "s") for label in LABELS]
