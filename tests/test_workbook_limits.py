"""What a workbook may unpack to (excel/limits.py): a zip bomb, a part that lies about
its size, a sheet read several times, too many rows or cells — each refused through /nhapexcel
and `dvk import` with a message naming the limit, nothing stored; a normal file still imports."""

from __future__ import annotations

import random
import struct
import zipfile
from dataclasses import replace
from io import BytesIO

import openpyxl
import pytest

from excel.limits import WorkbookLimits
from handlers.admin import importing as import_handler
from tests.test_workbook_import import (
    CLEAN,
    DONE,
    admin_chat,
    cli,
    send_file,
    snapshot,
    stored,
    workbook,
)

STRINGS = "xl/sharedStrings.xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
OVERRIDE = f'<Override PartName="/{STRINGS}" ContentType="{STRINGS_TYPE}"/>'.encode()
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
MB = 1024 * 1024
FAILED = "❌ Chưa nhập gì từ «{file}»: 1 lỗi. Sửa tệp rồi nhập lại."
NOT_XLSX = "{file} không phải tệp Excel .xlsx hợp lệ"


def with_strings(data: bytes, strings: bytes, *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The workbook with a shared-strings part holding `strings` besides its own cells (openpyxl
    writes its texts inline): openpyxl reads the part whole on opening, where a bomb puts it."""
    source = zipfile.ZipFile(BytesIO(data))
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", OVERRIDE + b"</Types>")
            out.writestr(info.filename, content)
        out.writestr(STRINGS, SST + strings + b"</sst>", compress_type=method)
    return buffer.getvalue()


def padding(size: int) -> bytes:
    """`size` bytes of shared strings that compress as little as real text does (about 2:1)."""
    rng = random.Random(size)
    one = 1024
    return b"".join(
        b"<si><t>" + rng.randbytes((one - 16) // 2).hex().encode() + b"</t></si>"
        for _ in range(size // one)
    )


def repeated(size: int) -> bytes:
    """`size` bytes of one repeated string: it compresses about a thousand times."""
    return b"<si><t>" + b"A" * (size - 16) + b"</t></si>"


def declare(data: bytes, name: str, size: int) -> bytes:
    """The zip with part `name` declaring `size` bytes unpacked, in its local header and in the
    central directory, whatever it really unpacks to."""
    out = bytearray(data)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        info = archive.getinfo(name)
    struct.pack_into("<I", out, info.header_offset + 22, size)
    encoded = name.encode()
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", out, at + 28)[0]
        if out[at + 46 : at + 46 + length] == encoded:
            struct.pack_into("<I", out, at + 24, size)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the central directory")


RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def sheet_read_thrice(rows: int) -> bytes:
    """CLEAN with `rows` more results, its "Kết quả" sheet listed three times in the workbook
    ("Kết quả (2)" and "(3)" point at the same part): small on disk, read three times over."""
    sheets = {name: [list(row) for row in table] for name, table in CLEAN.items()}
    sheets["Kết quả"] += [["MH-001", f"chỉ tiêu {n}", "lần", n, "15/06/2026"] for n in range(rows)]
    data = workbook(sheets)
    source = zipfile.ZipFile(BytesIO(data))
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/workbook.xml":
                # The prefix declared as openpyxl declares it: lxml (which python-docx brings,
                # and openpyxl then parses with) refuses an undeclared one.
                more = "".join(
                    f'<sheet xmlns:r="{RELATIONSHIPS}" name="Kết quả ({n})" sheetId="{10 + n}" '
                    'state="visible" r:id="rId4" />'
                    for n in (2, 3)
                )
                content = content.replace(b"</sheets>", more.encode() + b"</sheets>")
            out.writestr(info.filename, content)
    return buffer.getvalue()


def with_cell(sheet: str, row: int, column: int) -> bytes:
    """CLEAN with one more cell, far away."""
    book = openpyxl.load_workbook(BytesIO(workbook(CLEAN)))
    book[sheet].cell(row=row, column=column, value="x")
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def cli_env(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DVK_DATABASE_URL", settings.database_url)
    monkeypatch.chdir(tmp_path)  # no .env from the project directory


@pytest.fixture
def lowered(monkeypatch):
    """Limits small enough for files a test builds in a moment."""

    def lower(**limits: int) -> None:
        monkeypatch.setattr(import_handler, "LIMITS", replace(WorkbookLimits(), **limits))

    return lower


async def refused(admin, db, name: str, content: bytes) -> str:  # type: ignore[no-untyped-def]
    """Sends the file; asserts the import was refused with one problem and stored nothing, and
    the step is still open. Returns the problem."""
    before = await snapshot(db)
    [reply] = await send_file(admin, name, content)
    problem, failed, blank, again = reply.split("\n")
    assert failed == FAILED.format(file=name), reply
    assert (blank, again) == ("", "Gửi tệp đã sửa, hoặc /huy để thoát.")
    assert await snapshot(db) == before
    return problem


# --- through /nhapexcel, with the bot's own limits ------------------------------------------------


async def test_a_bomb_declaring_a_gigabyte_is_refused_before_it_is_read(db, chat):
    # The bomb's shape (1 GB of shared strings) without its weight: only the header says so.
    bomb = declare(with_strings(workbook(CLEAN), padding(4096)), STRINGS, 1024 * MB)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "bom.xlsx", bomb)
    assert problem == (
        "Tệp «bom.xlsx» quá lớn khi giải nén (1.024 MB, tối đa 256 MB). Hãy chia dữ liệu thành "
        "nhiều tệp nhỏ hơn; trên máy chủ có thể nâng giới hạn bằng «dvk import --max-unpacked-mb»."
    )
    assert (await stored(db))["units"] == []


async def test_a_part_compressed_a_thousand_times_is_refused(db, chat):
    bomb = with_strings(workbook(CLEAN), repeated(3 * MB))
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "nen.xlsx", bomb)
    assert problem.startswith(
        "Tệp «nen.xlsx» bị nén bất thường: phần «xl/sharedStrings.xml» giải nén ra gấp "
    ), problem
    assert problem.endswith(
        "lần (tệp Excel thật chỉ khoảng 5–20 lần, tối đa 100 lần). Có thể là tệp độc hại; "
        "bot không mở."
    )


async def test_a_part_lying_about_its_size_is_refused(db, chat):
    # Declares 1 KB, unpacks to 3 MB: it is never read past what it declared.
    liar = declare(with_strings(workbook(CLEAN), padding(3 * MB)), STRINGS, 1024)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "gia.xlsx", liar)
    assert problem.startswith(NOT_XLSX.format(file="gia.xlsx")), problem


async def test_a_compression_excel_does_not_use_is_refused(db, chat):
    # LZMA packs a gigabyte of text into a hundred kilobytes, and unpacks a lot per read.
    odd = with_strings(workbook(CLEAN), padding(8192), method=zipfile.ZIP_LZMA)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "lzma.xlsx", odd)
    assert problem == (
        "Tệp «lzma.xlsx»: phần «xl/sharedStrings.xml» được nén theo cách Excel không dùng. "
        "Hãy mở tệp bằng Excel và lưu lại dưới dạng Excel Workbook (.xlsx)."
    )


# --- through /nhapexcel, with lowered limits ------------------------------------------------------


async def test_a_part_beyond_the_part_limit_is_refused(db, chat, lowered):
    lowered(max_unpacked_mb=8, max_part_mb=1)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "lon.xlsx", with_strings(workbook(CLEAN), padding(2 * MB)))
    assert problem == (
        "Tệp «lon.xlsx» quá lớn khi giải nén: phần «xl/sharedStrings.xml» ra 2 MB, tối đa 1 MB "
        "một phần. Hãy chia dữ liệu thành nhiều tệp nhỏ hơn."
    )


async def test_a_sheet_read_again_and_again_stops_at_the_limit(db, chat, lowered):
    # Every part is within the limits as declared; reading them is not.
    lowered(max_unpacked_mb=1, max_part_mb=1)
    content = sheet_read_thrice(3000)
    with zipfile.ZipFile(BytesIO(content)) as archive:
        assert 0.5 * MB < sum(i.file_size for i in archive.infolist()) < MB
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "lap.xlsx", content)
    assert problem.startswith("Tệp «lap.xlsx» quá lớn khi giải nén: khi đọc đã vượt 1 MB"), problem


async def test_rows_are_counted_empty_ones_included(db, chat, lowered):
    # One cell at row 5.000: openpyxl yields the 4.990 empty rows before it.
    lowered(max_rows=1000)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "dong.xlsx", with_cell("Kết quả", 5000, 1))
    assert problem == (
        "Tệp «dong.xlsx» có quá nhiều dòng (hơn 1.000 dòng, kể cả các dòng trống giữa dữ liệu). "
        "Hãy xóa các dòng thừa hoặc chia thành nhiều tệp."
    )


async def test_cells_are_counted_empty_ones_included(db, chat, lowered):
    # One cell in column 3.000: openpyxl yields its row 3.000 cells wide.
    lowered(max_cells=1000)
    admin = await admin_chat(chat)
    problem = await refused(admin, db, "o.xlsx", with_cell("Đăng ký", 2, 3000))
    assert problem == (
        "Tệp «o.xlsx» có quá nhiều ô (hơn 1.000 ô, kể cả các ô trống trước ô cuối mỗi dòng). "
        "Hãy xóa các cột thừa hoặc chia thành nhiều tệp."
    )


async def test_a_normal_file_imports_within_the_limits(db, chat, lowered):
    lowered(max_unpacked_mb=1, max_part_mb=1, max_rows=100, max_cells=1000)
    admin = await admin_chat(chat)
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [DONE]


# --- through `dvk import` -------------------------------------------------------------------------


async def test_the_command_line_refuses_bombs_and_raises_its_limit_on_request(
    db, cli_env, tmp_path, capsys
):
    before = await snapshot(db)
    files = {
        "bom.xlsx": declare(with_strings(workbook(CLEAN), padding(4096)), STRINGS, 1024 * MB),
        "nen.xlsx": with_strings(workbook(CLEAN), repeated(3 * MB)),
        "gia.xlsx": declare(with_strings(workbook(CLEAN), padding(3 * MB)), STRINGS, 1024),
    }
    expected = {
        "bom.xlsx": "Tệp «bom.xlsx» quá lớn khi giải nén (1.024 MB, tối đa 256 MB).",
        "nen.xlsx": "Tệp «nen.xlsx» bị nén bất thường: phần «xl/sharedStrings.xml»",
        "gia.xlsx": NOT_XLSX.format(file="gia.xlsx"),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        assert await cli("import", str(tmp_path / name)) == 1
        err = capsys.readouterr().err
        assert expected[name] in err and "chưa nhập gì: 1 lỗi" in err, err
    assert await snapshot(db) == before

    # 2 MB of real text: too much for a limit lowered to 1 MB, fine for the default.
    big = tmp_path / "du-lieu.xlsx"
    big.write_bytes(with_strings(workbook(CLEAN), padding(2 * MB)))
    assert await cli("import", "--max-unpacked-mb", "1", str(big)) == 1
    assert "Tệp «du-lieu.xlsx» quá lớn khi giải nén (2 MB, tối đa 1 MB)." in capsys.readouterr().err
    assert await snapshot(db) == before
    assert await cli("import", str(big)) == 0
    assert capsys.readouterr().out.strip() == DONE


async def test_the_units_import_has_the_same_fences(db, cli_env, tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.append(["Mã đơn vị", "Tên đơn vị"])
    book.active.append(["CB-VP", "Chi bộ Văn phòng"])
    buffer = BytesIO()
    book.save(buffer)
    path = tmp_path / "don-vi.xlsx"
    path.write_bytes(with_strings(buffer.getvalue(), repeated(3 * MB)))
    assert await cli("units", "import", str(path)) == 1
    assert "Tệp «don-vi.xlsx» bị nén bất thường" in capsys.readouterr().err
    assert (await stored(db))["units"] == []


@pytest.mark.parametrize(
    ("unpacked_mb", "expected"),
    [
        (None, (256, 160, 500_000, 10_000_000)),
        (1, (1, 1, 500_000, 10_000_000)),  # lowered: rows as they were
        (1024, (1024, 1024, 2_000_000, 40_000_000)),  # raised: rows in proportion
    ],
)
def test_the_command_line_flag_sets_the_limits(unpacked_mb, expected):
    limits = WorkbookLimits().raised(unpacked_mb)
    assert (
        limits.max_unpacked_mb,
        limits.max_part_mb,
        limits.max_rows,
        limits.max_cells,
    ) == expected
