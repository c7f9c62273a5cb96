"""How much an imported workbook may unpack to, for `dvk import` and /nhapexcel alike.

An .xlsx file is a zip of XML parts, and a few hundred kilobytes of zip can unpack to gigabytes:
openpyxl holds the shared strings whole in memory and fills the gaps of a sheet (a lone cell at
row 1.048.576 or column XFD) with empty rows and cells. So a workbook is opened in three fences:
- before anything is parsed, the zip's directory is checked: each part's declared size, their
  total, how much each is compressed, and the compression methods Excel uses;
- openpyxl reads the parts through a counting reader, so that a part unpacking to more than its
  header said still stops at the limits;
- the rows and cells the sheets yield are counted as they are read.
Beyond a limit the file is refused with an ImportFileError naming it; nothing has been stored.

The limits leave room for a real workbook of 200.000 rows: an export of 200.000 registrations
(the widest sheet) unpacks to about 131 MB, a mixed one (registrations and results) to about
66 MB, each part compressed about 15 times (`benchmarks/workbook_limits.py` measures it).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from excel.units_import import ImportFileError, Problem

MB = 1024 * 1024
_CHUNK = MB  # how much of a part a read without a size takes at a time
# Excel, LibreOffice and Google Sheets store or deflate; other methods unpack far more per read.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@dataclass(frozen=True)
class WorkbookLimits:
    max_unpacked_mb: int = 256  # all parts together
    max_part_mb: int = 160  # any one part (the shared strings are held whole in memory)
    max_ratio: int = 100  # unpacked size / compressed size of a part ...
    ratio_from_mb: int = 1  # ... judged only for parts unpacking to at least this
    max_parts: int = 1_000
    max_rows: int = 500_000  # every sheet together, empty rows included
    max_cells: int = 10_000_000

    def raised(self, unpacked_mb: int | None) -> WorkbookLimits:
        """These limits with the unpacked size set to `unpacked_mb` (any one part may then be
        that big), as `dvk import --max-unpacked-mb` asks; raised, the rows and cells a file may
        hold grow in proportion."""
        if unpacked_mb is None:
            return self
        scale = max(Decimal(unpacked_mb) / self.max_unpacked_mb, Decimal(1))
        return replace(
            self,
            max_unpacked_mb=unpacked_mb,
            max_part_mb=unpacked_mb,
            max_rows=int(self.max_rows * scale),
            max_cells=int(self.max_cells * scale),
        )


def _mb(size: int) -> Decimal:
    return round(Decimal(size) / MB, 1)


def check_archive(archive: zipfile.ZipFile, file_name: str, limits: WorkbookLimits) -> None:
    """Refuses (ImportFileError) a zip whose directory declares more than `limits` allow."""
    parts = archive.infolist()
    if len(parts) > limits.max_parts:
        raise ImportFileError(
            Problem(
                None,
                "import-too-many-parts",
                {"file": file_name, "count": Decimal(len(parts)), "max": Decimal(limits.max_parts)},
            )
        )
    total = sum(part.file_size for part in parts)
    if total > limits.max_unpacked_mb * MB:
        raise ImportFileError(
            Problem(
                None,
                "import-unpacked-too-big",
                {"file": file_name, "size": _mb(total), "max": Decimal(limits.max_unpacked_mb)},
            )
        )
    for part in parts:
        if part.file_size > limits.max_part_mb * MB:
            raise ImportFileError(
                Problem(
                    None,
                    "import-part-too-big",
                    {
                        "file": file_name,
                        "part": part.filename,
                        "size": _mb(part.file_size),
                        "max": Decimal(limits.max_part_mb),
                    },
                )
            )
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size >= limits.ratio_from_mb * MB and ratio > limits.max_ratio:
            raise ImportFileError(
                Problem(
                    None,
                    "import-ratio-too-high",
                    {
                        "file": file_name,
                        "part": part.filename,
                        "ratio": Decimal(int(ratio)),
                        "max": Decimal(limits.max_ratio),
                    },
                )
            )
        if part.compress_type not in _METHODS:
            raise ImportFileError(
                Problem(None, "import-zip-method", {"file": file_name, "part": part.filename})
            )


class _Budget:
    """What has been unpacked so far, for one workbook."""

    def __init__(self, file_name: str, limits: WorkbookLimits) -> None:
        self.file_name = file_name
        self.limits = limits
        self.total = 0

    def take(self, read: int, part_so_far: int) -> None:
        self.total += read
        limit = None
        if part_so_far > self.limits.max_part_mb * MB:
            limit = self.limits.max_part_mb
        elif self.total > self.limits.max_unpacked_mb * MB:
            limit = self.limits.max_unpacked_mb
        if limit is not None:
            raise ImportFileError(
                Problem(
                    None, "import-unpacked-over", {"file": self.file_name, "max": Decimal(limit)}
                )
            )


class _BoundedPart:
    """A part being read, counted against the workbook's budget as it unpacks."""

    def __init__(self, source: IO[bytes], budget: _Budget) -> None:
        self._source = source
        self._budget = budget
        self._read = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._count(self._source.read(size))
        chunks = []
        while chunk := self._count(self._source.read(_CHUNK)):
            chunks.append(chunk)
        return b"".join(chunks)

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        self._budget.take(len(data), self._read)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> _BoundedPart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _BoundedZip(zipfile.ZipFile):
    budget: _Budget

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, **kwargs: Any) -> Any:
        handle = super().open(name, mode, pwd, **kwargs)
        if mode != "r":
            return handle
        return _BoundedPart(handle, self.budget)


def open_workbook(source: bytes | Path, file_name: str, limits: WorkbookLimits) -> Any:
    """openpyxl's read-only workbook (values, not formulas) of `source`, its parts read through
    the fences above. Raises ImportFileError for a file that is no zip or is beyond `limits`;
    OSError as opening the path does. The caller closes the workbook."""
    from openpyxl.reader.excel import ExcelReader

    try:
        archive = _BoundedZip(BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ImportFileError(Problem(None, "import-not-xlsx", {"file": file_name})) from exc
    archive.budget = _Budget(file_name, limits)
    try:
        check_archive(archive, file_name, limits)
        # load_workbook(), with the bounded archive in place of the one openpyxl opened itself.
        reader = ExcelReader(
            BytesIO(source) if isinstance(source, bytes) else source,
            read_only=True,
            data_only=True,
        )
        reader.archive.close()
        reader.archive = archive
        reader.valid_files = archive.namelist()
        reader.read()
    except ImportFileError:
        archive.close()
        raise
    except Exception as exc:
        # A zip without a workbook, or a damaged one: openpyxl fails in many ways on such
        # input, none of which the admin can do more about.
        archive.close()
        raise ImportFileError(Problem(None, "import-not-xlsx", {"file": file_name})) from exc
    return reader.wb


class RowCounter:
    """Counts the rows and cells a workbook's sheets yield, all sheets together."""

    def __init__(self, file_name: str, limits: WorkbookLimits) -> None:
        self.file_name = file_name
        self.limits = limits
        self.rows = 0
        self.cells = 0

    def count(self, rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
        for values in rows:
            self.rows += 1
            self.cells += len(values)
            if self.rows > self.limits.max_rows:
                raise ImportFileError(
                    Problem(
                        None,
                        "import-too-many-rows",
                        {"file": self.file_name, "max": Decimal(self.limits.max_rows)},
                    )
                )
            if self.cells > self.limits.max_cells:
                raise ImportFileError(
                    Problem(
                        None,
                        "import-too-many-cells",
                        {"file": self.file_name, "max": Decimal(self.limits.max_cells)},
                    )
                )
            yield values
