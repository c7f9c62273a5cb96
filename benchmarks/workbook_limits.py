"""Workbook limits: a zip bomb is refused quickly in little memory, a real workbook still imports.

The bomb is an import workbook (the `dvk template` layout) whose xl/sharedStrings.xml unpacks to
--bomb-mb of repeated text (1 GB by default), LZMA-compressed by default to a few hundred KB, as
the one that took the bot to 1 GB of memory for 70 s. It is written with streaming zip writes:
building it holds one chunk of the text at a time.

The real workbook has --rows rows (200.000 by default) in the import layout, written by the
export's own sheet writer (`excel/sheet_writer.py`), as `dvk export` makes them: one campaign,
90 units, a quarter of the rows registrations, the rest their results (three months each).

    python -m benchmarks.workbook_limits [--rows 200000] [--bomb-mb 1024] [--method lzma|deflate]
                                         [--database-url URL]

Each file goes through `dvk import` in a fresh child process (a temporary SQLite file by
default; a PostgreSQL URL must be a database of its own: the real import fills it), which
reports its own time and peak RSS (`ru_maxrss` of RUSAGE_SELF). The last line is
`bomb_refused=1 bomb_s=... bomb_peak_mb=... bomb_file_kb=... real_rows=... real_imported=1
real_s=... real_peak_mb=... real_unpacked_mb=... real_max_ratio=...`.
Targets: the bomb refused in under 10 s, its process under 300 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

CHUNK_MB = 1
STRINGS = "xl/sharedStrings.xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
METHODS = {"lzma": zipfile.ZIP_LZMA, "deflate": zipfile.ZIP_DEFLATED}


def build_bomb(path: Path, unpacked_mb: int, method: int) -> None:
    """The template workbook with a shared-strings part of `unpacked_mb` of repeated text."""
    from excel.layout import template_bytes
    from language.texts import Texts

    base = zipfile.ZipFile(io.BytesIO(template_bytes(Texts())))
    one = "<si><t>Dân vận khéo — bom giải nén </t></si>".encode()
    chunk = one * (CHUNK_MB * 1024 * 1024 // len(one))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in base.infolist():
            data = base.read(info.filename)
            if info.filename == "[Content_Types].xml" and STRINGS_TYPE.encode() not in data:
                override = f'<Override PartName="/{STRINGS}" ContentType="{STRINGS_TYPE}"/>'
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            bomb.writestr(info.filename, data)
        part = zipfile.ZipInfo(STRINGS, date_time=(2026, 1, 1, 0, 0, 0))
        part.compress_type = method
        with bomb.open(part, "w", force_zip64=True) as out:
            out.write(SST)
            written = len(SST)
            while written < unpacked_mb * 1024 * 1024:
                out.write(chunk)
                written += len(chunk)
            out.write(b"</sst>")


def build_real(path: Path, rows: int) -> int:
    """A workbook of `rows` data rows in the import layout; returns the rows written."""
    from openpyxl import Workbook

    from excel.layout import REGISTRATION_STATUS_HEADER, SHEETS
    from excel.sheet_writer import SheetWriter, number

    headers = {name: list(h) for name, h, _ in SHEETS}
    book = Workbook(write_only=True)
    out = SheetWriter(book, "Đợt phát động", headers["Đợt phát động"])
    out.append(
        [
            out.text("DVK26"),
            out.text("Dân vận khéo 2026–2027"),
            out.date(date(2026, 1, 1)),
            out.date(date(2027, 12, 31)),
        ]
    )
    written = 1
    units = 90
    out = SheetWriter(book, "Đơn vị", headers["Đơn vị"])
    out.append([out.text("DUK"), out.text("Đảng ủy Khối các cơ quan và doanh nghiệp tỉnh"), None])
    for u in range(1, units):
        out.append([out.text(f"CB-{u:03d}"), out.text(f"Chi bộ cơ quan số {u}"), out.text("DUK")])
    written += units
    fields = ("An sinh xã hội", "Chuyển đổi số", "Cải cách hành chính")
    models = max((rows - written) // 4, 1)
    out = SheetWriter(book, "Đăng ký", [*headers["Đăng ký"], REGISTRATION_STATUS_HEADER])
    for m in range(models):
        kind = m % 3 == 0
        out.append(
            [
                out.text(f"MH-{m:06d}"),
                out.text("DVK26"),
                out.text(f"CB-{1 + m % (units - 1):03d}"),
                "Tập thể" if kind else "Cá nhân",
                out.text(f"Chi bộ cơ quan số {1 + m % (units - 1)}" if kind else f"Người {m}"),
                out.text(f"Chuyển đổi số trong giải quyết thủ tục hành chính, mô hình {m}"),
                out.text(fields[m % len(fields)]),
                out.date(date(2026, 2, 15)),
                "Đang thực hiện",
            ]
        )
    written += models
    out = SheetWriter(book, "Kết quả", headers["Kết quả"])
    results = max(rows - written, 0)
    for r in range(results):
        out.append(
            [
                out.text(f"MH-{r // 3 % models:06d}"),
                out.text("hồ sơ giải quyết trực tuyến"),
                out.text("hồ sơ"),
                number(Decimal(100 + r % 977)),
                out.date(date(2026, 3 + r % 3 + 3 * (r // (3 * models)), 20)),
            ]
        )
    written += results
    for name in ("Hội nghị", "Khen thưởng"):
        SheetWriter(book, name, headers[name])
    book.save(path)
    return written


def unpacked(path: Path) -> tuple[float, float]:
    """What the file unpacks to (MB) and the largest compression ratio of a part over 1 MB."""
    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
    ratios = [p.file_size / max(p.compress_size, 1) for p in parts if p.file_size >= 1 << 20]
    return sum(p.file_size for p in parts) / (1 << 20), max(ratios, default=0.0)


def child(path: Path) -> None:
    """`dvk import PATH` in this process; prints its outcome, time and peak RSS as JSON."""
    from bot.cli import main as cli

    started = time.perf_counter()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli(["import", str(path)])
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(json.dumps({"code": code, "s": seconds, "peak_mb": peak_mb, "err": err.getvalue()}))


def run_child(path: Path, url: str) -> dict[str, object]:
    env = {**os.environ, "DVK_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.workbook_limits", "--child", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit("the child process failed")
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--bomb-mb", type=int, default=1024)
    parser.add_argument("--method", choices=sorted(METHODS), default="lzma")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        bomb = folder / "bom.xlsx"
        started = time.perf_counter()
        build_bomb(bomb, args.bomb_mb, METHODS[args.method])
        print(
            f"bomb: {bomb.stat().st_size / 1024:.0f} KB unpacking to {args.bomb_mb} MB, "
            f"built in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        bomb_kb = bomb.stat().st_size / 1024
        refused = run_child(bomb, url)
        print(f"bomb refused: {str(refused['err']).strip()}", file=sys.stderr)

        real = folder / "real.xlsx"
        started = time.perf_counter()
        rows = build_real(real, args.rows)
        size_mb, ratio = unpacked(real)
        print(
            f"real: {rows} rows, {real.stat().st_size / 2**20:.1f} MB unpacking to "
            f"{size_mb:.1f} MB (largest ratio {ratio:.1f}), built in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        imported = run_child(real, url)
        if imported["code"] != 0:
            print(str(imported["err"])[-3000:], file=sys.stderr)
    print(
        f"bomb_refused={int(refused['code'] == 1 and 'giải nén' in str(refused['err']))} "
        f"bomb_s={float(refused['s']):.2f} bomb_peak_mb={float(refused['peak_mb']):.0f} "
        f"bomb_file_kb={bomb_kb:.0f} "
        f"real_rows={rows} real_imported={int(imported['code'] == 0)} "
        f"real_s={float(imported['s']):.1f} real_peak_mb={float(imported['peak_mb']):.0f} "
        f"real_unpacked_mb={size_mb:.1f} real_max_ratio={ratio:.1f}"
    )


if __name__ == "__main__":
    main()
