import asyncio
import re
import unicodedata
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.cli import main
from bot.importing import render_problem
from excel import units_import
from excel.units_import import (
    ImportFileError,
    Problem,
    UnitRow,
    import_units,
    read_unit_rows,
    validate_unit_rows,
)
from language.texts import Texts, languages, load_catalog
from storage.models import AuditEntry, Unit
from storage.records.units import add_unit, unit_by_code

HEADER = ("Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên")

HIERARCHY = [
    # The child comes before its parent and grandparent on purpose.
    ("CB.VP", "Chi bộ Văn phòng", "DU-SYT"),
    ("DU-SYT", "Đảng ủy Sở Y tế", "KHOI"),
    ("KHOI", "Đảng bộ Khối các cơ quan và doanh nghiệp tỉnh", None),
]


def write_xlsx(path: Path, rows: list[tuple[object, ...]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_csv(path: Path, rows: list[tuple[object, ...]], *, delimiter: str, bom: bool) -> Path:
    lines = [delimiter.join("" if v is None else str(v) for v in row) for row in rows]
    path.write_bytes(("\ufeff" if bom else "").encode() + "\r\n".join(lines).encode())
    return path


async def stored(db) -> dict[str, tuple[str, str | None]]:
    async with db.session() as session:
        units = (await session.scalars(select(Unit))).all()
    codes = {u.id: u.code for u in units}
    return {u.code: (u.name, codes.get(u.parent_id)) for u in units}


async def audits(db) -> list[dict]:
    async with db.session() as session:
        entries = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "units.imported").order_by(AuditEntry.id)
        )
        return [e.details for e in entries]


async def run_import(db, path: Path, now):
    rows = read_unit_rows(path)
    async with db.session() as session:
        return await import_units(session, rows=rows, now=now)


async def test_xlsx_three_levels_with_title_blank_rows_and_extra_columns(db, clock, tmp_path):
    path = write_xlsx(
        tmp_path / "don-vi.xlsx",
        [
            ("DANH SÁCH ĐƠN VỊ",),
            (),
            (*HEADER, "Ghi chú"),
            (*HIERARCHY[0], "ghi chú bỏ qua"),
            (),
            *HIERARCHY[1:],
        ],
    )
    rows = read_unit_rows(path)
    assert [r.row for r in rows] == [4, 6, 7]

    summary = await run_import(db, path, clock())

    assert (summary.added, summary.updated, summary.unchanged) == (3, 0, 0)
    assert await stored(db) == {
        "KHOI": ("Đảng bộ Khối các cơ quan và doanh nghiệp tỉnh", None),
        "DU-SYT": ("Đảng ủy Sở Y tế", "KHOI"),
        "CB.VP": ("Chi bộ Văn phòng", "DU-SYT"),
    }
    assert await audits(db) == [{"added": 3, "updated": 0, "unchanged": 0}]
    async with db.session() as session:
        unit = await unit_by_code(session, code="khoi")
        assert unit is not None and unit.active and unit.created_at == clock()


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
@pytest.mark.parametrize("bom", [True, False])
async def test_csv_delimiters_with_and_without_bom(db, clock, tmp_path, delimiter, bom):
    rows = [HEADER, *HIERARCHY]
    if delimiter == ";":
        # A comma inside a name must not be taken for the delimiter.
        rows.append(("CB.YT", "Chi bộ Y tế, Dược", "DU-SYT"))
    path = write_csv(tmp_path / "units.csv", rows, delimiter=delimiter, bom=bom)

    summary = await run_import(db, path, clock())

    units = await stored(db)
    assert summary.added == len(rows) - 1 == len(units)
    assert units["CB.VP"] == ("Chi bộ Văn phòng", "DU-SYT")
    assert units["KHOI"][1] is None
    if delimiter == ";":
        assert units["CB.YT"] == ("Chi bộ Y tế, Dược", "DU-SYT")


async def test_columns_in_another_order_headers_loosely_written(db, clock, tmp_path):
    nfd = unicodedata.normalize("NFD", "  TÊN ĐƠN VỊ ")
    path = write_xlsx(
        tmp_path / "units.xlsx",
        [
            ("mã đơn vị cấp trên", "STT", nfd, " mã  đơn vị"),
            (None, 1, "Đảng bộ Khối", "KHOI"),
            # A code typed as a number is read as the digits, not as 101.0.
            ("khoi", 2, unicodedata.normalize("NFD", "  Chi bộ   Kế toán "), 101),
        ],
    )

    summary = await run_import(db, path, clock())

    assert summary.added == 2
    assert await stored(db) == {
        "KHOI": ("Đảng bộ Khối", None),
        "101": ("Chi bộ Kế toán", "KHOI"),
    }


async def test_second_import_changes_nothing(db, clock, tmp_path):
    path = write_xlsx(tmp_path / "units.xlsx", [HEADER, *HIERARCHY])
    await run_import(db, path, clock())
    before = await stored(db)
    clock.advance(days=1)

    summary = await run_import(db, path, clock())

    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 3)
    assert await stored(db) == before
    assert (await audits(db))[-1] == {"added": 0, "updated": 0, "unchanged": 3}


async def test_known_codes_are_updated_case_insensitively(db, clock, tmp_path):
    async with db.session() as session:
        khoi = await add_unit(
            session, code="KHOI", name="Đảng bộ Khối", parent_id=None, now=clock()
        )
        await add_unit(session, code="cb.vp", name="Chi bộ VP", parent_id=None, now=clock())
        await add_unit(session, code="CB.KT", name="Chi bộ Kế toán", parent_id=khoi.id, now=clock())
    path = write_xlsx(
        tmp_path / "units.xlsx",
        [
            HEADER,
            ("CB.VP", "Chi bộ Văn phòng", "khoi"),  # new name, new parent
            ("khoi", "Đảng bộ Khối", None),  # as stored
            ("DU-SYT", "Đảng ủy Sở Y tế", "KHOI"),  # new
        ],
    )

    summary = await run_import(db, path, clock())

    assert (summary.added, summary.updated, summary.unchanged) == (1, 1, 1)
    assert await stored(db) == {
        "KHOI": ("Đảng bộ Khối", None),
        "cb.vp": ("Chi bộ Văn phòng", "KHOI"),  # the stored spelling of the code stays
        "CB.KT": ("Chi bộ Kế toán", "KHOI"),  # not in the file: untouched
        "DU-SYT": ("Đảng ủy Sở Y tế", "KHOI"),
    }


async def test_every_problem_reported_with_row_numbers_and_nothing_stored(db, clock, tmp_path):
    async with db.session() as session:
        await add_unit(session, code="KHOI", name="Đảng bộ Khối", parent_id=None, now=clock())
    path = write_xlsx(
        tmp_path / "units.xlsx",
        [
            HEADER,
            ("OK-1", "Đơn vị hợp lệ", "KHOI"),  # 2: fine on its own
            (None, "Không có mã", None),  # 3
            ("CB-2", None, None),  # 4
            ("mã có dấu", "Mã sai", None),  # 5
            ("DAI", "x" * 201, None),  # 6
            ("ok-1", "Trùng mã", None),  # 7: duplicate of row 2, ignoring case
            ("CB-3", "Cấp trên không tồn tại", "KHONG-CO"),  # 8
            ("TU", "Tự làm cấp trên", "tu"),  # 9
            ("A", "Vòng A", "B"),  # 10
            ("B", "Vòng B", "C"),  # 11
            ("C", "Vòng C", "A"),  # 12
        ],
    )
    rows = read_unit_rows(path)

    async with db.session() as session:
        with pytest.raises(ImportFileError) as caught:
            await import_units(session, rows=rows, now=clock())

    assert caught.value.problems == EVERY_PROBLEM
    assert await stored(db) == {"KHOI": ("Đảng bộ Khối", None)}
    assert await audits(db) == []


EVERY_PROBLEM = [
    Problem(3, "import-missing-code"),
    Problem(4, "import-missing-name"),
    Problem(5, "import-bad-code", {"code": "mã có dấu", "max": 32}),
    Problem(6, "import-name-too-long", {"length": 201, "max": 200}),
    Problem(7, "import-duplicate-code", {"code": "ok-1", "other": 2}),
    Problem(8, "import-unknown-parent", {"parent": "KHONG-CO"}),
    Problem(9, "import-self-parent", {"code": "TU"}),
    Problem(10, "import-cycle", {"chain": ["A", "B", "C", "A"], "rows": [10, 11, 12]}),
]


def test_problems_rendered_from_the_catalog():
    vi = Texts("vi")
    assert [render_problem(vi, p) for p in EVERY_PROBLEM] == [
        "dòng 3: thiếu mã đơn vị",
        "dòng 4: thiếu tên đơn vị",
        "dòng 5: mã đơn vị «mã có dấu» không hợp lệ (tối đa 32 ký tự: chữ cái không dấu, "
        "chữ số, dấu . _ -, bắt đầu bằng chữ hoặc số)",
        "dòng 6: tên đơn vị dài 201 ký tự, tối đa 200 ký tự",
        "dòng 7: mã đơn vị «ok-1» trùng với dòng 2",
        "dòng 8: mã đơn vị cấp trên «KHONG-CO» không có trong tệp, "
        "cũng không có trong cơ sở dữ liệu",
        "dòng 9: đơn vị «TU» không thể là cấp trên của chính nó",
        "dòng 10: cấp trên lặp vòng: A → B → C → A (dòng 10, 11, 12)",
    ]
    en = Texts("en")
    assert render_problem(en, EVERY_PROBLEM[0]) == "row 3: the unit code is missing"
    assert render_problem(en, EVERY_PROBLEM[-1]) == (
        "row 10: parent units form a loop: A → B → C → A (rows 10, 11, 12)"
    )
    # A problem about the whole file has no row prefix.
    assert render_problem(vi, Problem(None, "import-no-rows")) == vi("import-no-rows")


def test_every_problem_key_is_in_every_catalog():
    source = Path(units_import.__file__).read_text(encoding="utf-8")
    keys = set(re.findall(r"\"(import-[a-z-]+)\"", source))
    keys |= {"import-row", "import-done", "import-failed"}
    assert len(keys) > 10
    for language in languages():
        missing = keys - set(load_catalog(language))
        assert not missing, f"{language}: missing {sorted(missing)}"


async def test_cycle_through_stored_units_is_refused(db, clock):
    async with db.session() as session:
        khoi = await add_unit(session, code="KHOI", name="Khối", parent_id=None, now=clock())
        await add_unit(session, code="DU", name="Đảng ủy", parent_id=khoi.id, now=clock())
    rows = [UnitRow(2, "khoi", "Khối", "DU")]

    async with db.session() as session:
        with pytest.raises(ImportFileError) as caught:
            await import_units(session, rows=rows, now=clock())

    assert caught.value.problems == [
        Problem(2, "import-cycle", {"chain": ["khoi", "DU", "khoi"], "rows": [2]})
    ]
    assert render_problem(Texts("vi"), caught.value.problems[0]) == (
        "dòng 2: cấp trên lặp vòng: khoi → DU → khoi (dòng 2)"
    )
    assert (await stored(db))["KHOI"] == ("Khối", None)


@pytest.mark.parametrize(
    ("rows", "existing", "problems"),
    [
        ([UnitRow(2, "A", "Tên", "X")], {"x"}, []),
        ([UnitRow(2, "A", "Tên", "B"), UnitRow(3, "B", "Tên", None)], set(), []),
        ([UnitRow(2, "A", "T" * 200, None)], set(), []),
        ([UnitRow(2, "A" * 33, "Tên", None)], set(), [(2, "import-bad-code")]),
        ([UnitRow(2, ".A", "Tên", None)], set(), [(2, "import-bad-code")]),
        ([UnitRow(2, "A", "Tên\x07", None)], set(), [(2, "import-name-control")]),
        (
            [UnitRow(2, "A", "B", "A"), UnitRow(3, "B", "A", "B")],
            set(),
            [(2, "import-self-parent"), (3, "import-self-parent")],
        ),
        ([UnitRow(4, "", "", None)], set(), [(None, "import-no-rows")]),
        ([], set(), [(None, "import-no-rows")]),
    ],
)
def test_validate_unit_rows(rows, existing, problems):
    found = validate_unit_rows(rows, existing)
    assert [(p.row, p.key) for p in found] == problems, found


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("units.txt", "Mã đơn vị;Tên đơn vị\nA;B\n", "import-wrong-type"),
        ("units.xls", "Mã đơn vị;Tên đơn vị\nA;B\n", "import-wrong-type"),
        ("units.xlsx", "Mã đơn vị;Tên đơn vị\nA;B\n", "import-not-xlsx"),
        ("units.csv", "Mã;Tên\nA;B\n", "import-missing-columns"),
        ("units.csv", b"M\xe3 \xf0\xee\xef", "import-not-csv"),
        ("units.csv", "Mã đơn vị;Tên đơn vị;Mã đơn vị\nA;B;C\n", "import-duplicate-column"),
    ],
)
def test_wrong_files_refused(tmp_path, name, content, key):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_unit_rows(path)
    [problem] = caught.value.problems
    assert (problem.row, problem.key) == (None, key)
    if key != "import-duplicate-column":
        assert problem.params["file"] == name
    for language in languages():
        text = render_problem(Texts(language), problem)
        assert "{" not in text and (name in text or key == "import-duplicate-column")


def test_missing_and_unreadable_files_refused(tmp_path):
    missing = tmp_path / "missing.xlsx"
    with pytest.raises(ImportFileError) as caught:
        read_unit_rows(missing)
    assert caught.value.problems == [Problem(None, "import-not-found", {"file": str(missing)})]
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ImportFileError) as caught:
        read_unit_rows(folder)
    [problem] = caught.value.problems
    assert problem.key == "import-unreadable" and problem.params["file"] == str(folder)
    assert problem.params["reason"]


def test_workbook_renamed_csv_refused(tmp_path):
    path = write_xlsx(tmp_path / "units.xlsx", [HEADER, HIERARCHY[2]])
    renamed = path.rename(tmp_path / "units.csv")
    with pytest.raises(ImportFileError) as caught:
        read_unit_rows(renamed)
    assert [p.key for p in caught.value.problems] == ["import-not-csv"]


# --- the command line -------------------------------------------------------------------------


async def cli(*argv: str) -> int:
    # main() runs its own event loop with asyncio.run, so it needs a thread without one.
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def cli_env(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DVK_DATABASE_URL", settings.database_url)
    monkeypatch.chdir(tmp_path)  # no .env from the project directory


async def test_cli_imports_file(db, cli_env, tmp_path, capsys):
    path = write_xlsx(tmp_path / "units.xlsx", [HEADER, *HIERARCHY])

    assert await cli("units", "import", str(path)) == 0

    t = Texts("vi")
    assert (
        capsys.readouterr().out.strip().endswith(t("import-done", added=3, updated=0, unchanged=0))
    )
    assert (await stored(db))["CB.VP"] == ("Chi bộ Văn phòng", "DU-SYT")
    assert await cli("units", "import", str(path)) == 0
    assert t("import-done", added=0, updated=0, unchanged=3) in capsys.readouterr().out


async def test_cli_speaks_the_configured_language(db, cli_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DVK_LANGUAGE", "en")
    path = write_xlsx(tmp_path / "units.xlsx", [HEADER, *HIERARCHY])

    assert await cli("units", "import", str(path)) == 0
    assert "units: 3 added, 0 updated, 0 unchanged" in capsys.readouterr().out

    bad = write_xlsx(tmp_path / "bad.xlsx", [HEADER, ("X", "", None)])
    assert await cli("units", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert "row 2: the unit name is missing" in err
    assert "nothing imported: 1 problem(s)" in err


async def test_cli_reports_problems_and_stores_nothing(db, cli_env, tmp_path, capsys):
    path = write_csv(
        tmp_path / "units.csv",
        [HEADER, ("KHOI", "Khối", None), ("CB", "", "KHOI"), ("DU", "Đảng ủy", "NOWHERE")],
        delimiter=",",
        bom=False,
    )

    assert await cli("units", "import", str(path)) == 1

    err = capsys.readouterr().err
    assert "dòng 3: thiếu tên đơn vị" in err
    assert "dòng 4: mã đơn vị cấp trên «NOWHERE»" in err
    assert Texts("vi")("import-failed", count=2) in err
    assert await stored(db) == {}


async def test_cli_refuses_missing_and_wrong_files(db, cli_env, tmp_path, capsys):
    missing = tmp_path / "missing.xlsx"
    assert await cli("units", "import", str(missing)) == 1
    assert Texts("vi")("import-not-found", file=missing) in capsys.readouterr().err
    (tmp_path / "units.xlsx").write_text("not a workbook", encoding="utf-8")
    assert await cli("units", "import", str(tmp_path / "units.xlsx")) == 1
    assert "không phải tệp Excel" in capsys.readouterr().err
    assert await stored(db) == {}
