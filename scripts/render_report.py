"""Render a year-end report the way a committee opens it: LibreOffice Writer turns the .docx
into a PDF (headless), `pdftotext` reads its first page back, and that page must carry the
header and the figures. `.ci/run` runs it after the tests; `--picture` also writes the first
page as a PNG for docs/year-end-report.md.

The report is built from the figures of the province's real report (DESIGN.md: 89 units,
1.061 collectives, 5.908 individuals, 326 houses, over 130 billion đồng), given directly to the
builder: the database's part is the tests' (tests/test_year_end_report.py); this checks what
Word files become on paper, which no library reading the .docx back can.

    .venv/bin/python -m scripts.render_report [--picture docs/year-end-report.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

from handlers.admin.statistics import stats_chart
from language.texts import Texts
from reports.yearend import Issuer, YearEnd, build_report
from storage.stats import Indicator, OrganisationStats
from storage.unit_figures import UnitRank

# What the first page must show, as pdftotext reads it (whitespace folded).
FIRST_PAGE = (
    "ĐẢNG CỘNG SẢN VIỆT NAM",
    "ĐẢNG ỦY KHỐI CÁC CƠ QUAN VÀ DOANH NGHIỆP TỈNH",
    "Vĩnh Long, ngày 06 tháng 12 năm 2026",
    "BÁO CÁO",
    "Có 89/89 đơn vị đăng ký với 1.061 tập thể và 5.908 cá nhân; 67/89 đơn vị đã tổ chức",
)

FIELDS = (
    ("Phát triển kinh tế, giảm nghèo", 212, 1180),
    ("Cải cách hành chính", 168, 1023),
    ("An sinh xã hội", 161, 874),
    ("Chuyển đổi số", 122, 705),
    ("Xây dựng tổ chức Đảng, chính quyền, đoàn thể", 118, 632),
    ("Nâng cao đạo đức công vụ", 95, 540),
    ("Xây dựng nông thôn mới, đô thị văn minh", 77, 411),
    ("Thực hành tiết kiệm, chống lãng phí", 58, 297),
    ("Phát huy sáng tạo", 31, 148),
    ("Nghiên cứu khoa học", 19, 98),
)


def sample() -> YearEnd:
    stats = OrganisationStats(
        units=89,
        units_registering=89,
        units_conference=67,
        by_kind=Counter(collective=1061, individual=5908),
        by_field=list(FIELDS),
        unit_ranking=[UnitRank(f"CB{n}", f"Chi bộ {n}", 20 + n % 7, 18) for n in range(1, 9)],
        reports=20_418,
        late_reports=1_207,
        evaluations=Counter(excellent=282, done=6_540, not_done=147),
        proposed=282,
        commendations={
            "co_so": Counter({("decided", "collective"): 126, ("decided", "individual"): 156}),
            "dang_uy_khoi": Counter(
                {("decided", "collective"): 61, ("decided", "individual"): 110}
            ),
            "bcd_tinh": Counter({("decided", "individual"): 2}),
            "ubnd_tinh": Counter({("proposed", "individual"): 1}),
        },
        indicators=[
            Indicator("nhà đại đoàn kết", "căn", Decimal(300), Decimal(326)),
            Indicator("tiền vận động giúp hộ nghèo", "đồng", Decimal(0), Decimal(130_512_000_000)),
            Indicator("chi an sinh xã hội", "đồng", Decimal(0), Decimal(11_000_000_000)),
        ],
    )
    assert sum(c for _, c, _ in FIELDS) == 1061 and sum(i for *_, i in FIELDS) == 5908
    return YearEnd(stats=stats, campaign=None, years=(2021, 2023))


def build(folder: Path) -> Path:
    t = Texts("vi")
    data = sample()
    issuer = Issuer(
        committee="Đảng ủy Khối các cơ quan và doanh nghiệp tỉnh",
        superior="Đảng bộ tỉnh Vĩnh Long",
        place="Vĩnh Long",
        signer="Bí thư",
    )
    path = folder / "bao-cao-tong-ket.docx"
    path.write_bytes(
        build_report(
            t, data, issuer=issuer, today=date(2026, 12, 6), chart=stats_chart(t, data.stats)
        )
    )
    return path


def to_pdf(docx: Path) -> Path:
    profile = docx.parent / "lo-profile"  # its own profile: no clash with a running LibreOffice
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(docx.parent),
            str(docx),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return docx.with_suffix(".pdf")


def first_page(pdf: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", type=Path, help="also write the first page as this PNG")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dvk-report-") as folder:
        pdf = to_pdf(build(Path(folder)))
        page = first_page(pdf)
        missing = [expected for expected in FIRST_PAGE if " ".join(expected.split()) not in page]
        if missing:
            print(f"the first page lacks {missing}:\n{page}", file=sys.stderr)
            return 1
        print(f"first page rendered with its header and figures ({len(page)} characters)")
        if args.picture:
            stem = args.picture.with_suffix("")
            subprocess.run(
                [
                    "pdftoppm",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-r",
                    "60",
                    "-png",
                    "-singlefile",
                    str(pdf),
                    str(stem),
                ],
                check=True,
            )
            print(args.picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
