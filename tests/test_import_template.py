"""Issue 12 item 10: the template's examples never import. /maunhap's file sent back unchanged
imports nothing; the same file filled in imports into an empty database."""

from __future__ import annotations

from io import BytesIO

import openpyxl

from excel.layout import GUIDE_SHEET, SHEETS
from tests.conftest import ADMIN_ID
from tests.test_workbook_import import admin_chat, send_file, snapshot, stored


async def the_template(chat, api) -> bytes:
    admin = chat(ADMIN_ID, "Quản trị")
    [reply] = await admin.send("/maunhap")
    assert "Trang «Hướng dẫn» có cách điền và một dòng ví dụ cho mỗi trang" in reply
    call = next(c for c in api.calls if c.method == "sendDocument")
    return call.params["_files"]["document"][1]


def examples(book: openpyxl.Workbook) -> dict[str, list[object]]:
    """The example row under each sheet's headers on the instructions sheet."""
    rows = [list(row) for row in book[GUIDE_SHEET].iter_rows(values_only=True)]
    found = {}
    for name, headers, _ in SHEETS:
        at = next(i for i, row in enumerate(rows) if row[: len(headers)] == headers)
        found[name] = rows[at + 1][: len(headers)]
    return found


async def test_the_unchanged_template_imports_nothing(db, chat, api):
    content = await the_template(chat, api)
    book = openpyxl.load_workbook(BytesIO(content))
    assert book.sheetnames == [GUIDE_SHEET, *(name for name, _, _ in SHEETS)]
    # The data sheets hold their headers alone; the examples are on the instructions sheet.
    for name, headers, example in SHEETS:
        assert [list(row) for row in book[name].iter_rows(values_only=True)] == [headers]
        assert examples(book)[name] == example
    before = await snapshot(db)

    admin = await admin_chat(chat)
    [reply] = await send_file(admin, "mau-nhap-dan-van-kheo.xlsx", content)

    assert "mau-nhap-dan-van-kheo.xlsx: không có dòng dữ liệu nào" in reply
    assert await snapshot(db) == before


async def test_a_filled_template_imports_into_an_empty_database(db, chat, api):
    book = openpyxl.load_workbook(BytesIO(await the_template(chat, api)))
    # Filled in as the instructions say: the examples, with the parent unit in the file too.
    for name, row in examples(book).items():
        book[name].append(row)
    book["Đơn vị"].append(["DUK", "Đảng ủy Khối", None])
    buffer = BytesIO()
    book.save(buffer)

    admin = await admin_chat(chat)
    [reply] = await send_file(admin, "da-dien.xlsx", buffer.getvalue())

    assert reply.startswith("✅ Đã nhập «da-dien.xlsx»:"), reply
    assert "• Đơn vị: thêm mới 2, cập nhật 0, giữ nguyên 0" in reply
    assert "• Khen thưởng: thêm mới 1, cập nhật 0, giữ nguyên 0" in reply
    what = await stored(db)
    assert sorted(unit[0] for unit in what["units"]) == ["CB-VP", "DUK"]
    assert len(what["models"]) == 1
