"""The year-end report (`dvk report`): the figures of `dvk stats` for a known data set, read
back from the Word document with the library that wrote it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from io import BytesIO

import pytest
from docx import Document
from sqlalchemy import select

from bot.cli import main
from language.vn import format_rounded
from storage.models import AuditEntry, ReportValue, Target
from storage.records.reports import refresh_achieved
from tests.conftest import ADMIN_ID
from tests.test_both_channels import world  # noqa: F401  (Telegram, then Zalo)
from tests.test_statistics import data  # noqa: F401  (the data set with known figures)


@pytest.mark.parametrize(
    ("value", "unit", "written"),
    [
        (130_000_000_000, "đồng", "130 tỷ đồng"),
        (130_512_345_678, "đồng", "hơn 130 tỷ đồng"),
        (11_250_000_000, "đồng", "hơn 11,2 tỷ đồng"),
        (11_000_000_000, "đồng", "11 tỷ đồng"),
        (2_500_000, "đồng", "2,5 triệu đồng"),
        (999_999_999, None, "hơn 999 triệu"),
        (1_061, "căn", "1.061 căn"),
        (Decimal("326.0000"), "căn", "326 căn"),
    ],
)
def test_amounts_rounded_down_the_way_reports_write_them(value, unit, written):
    assert format_rounded(value, unit) == written


def texts(path) -> list[str]:
    """Every paragraph of the document, those in tables too, in order."""
    document = Document(path if isinstance(path, BytesIO) else str(path))
    found: list[str] = []

    def walk(container) -> None:
        for block in container.iter_inner_content():
            if hasattr(block, "rows"):
                for row in block.rows:
                    for cell in row.cells:
                        walk(cell)
            else:
                found.append(block.text)

    walk(document)
    return found


def table_rows(path) -> list[list[str]]:
    return [
        [cell.text for cell in row.cells]
        for table in Document(str(path)).tables
        for row in table.rows
    ]


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, ["report", *argv])


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path, clock):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.setattr("bot.exporting.utc_now", clock)  # the date line: 26/11/2026
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_the_report_of_a_campaign_holds_its_figures(data, db, cli, capsys):  # noqa: F811
    # Half a billion more money reported: 130,5 tỷ is written "hơn 130 tỷ".
    async with db.session() as session:
        money = await session.scalar(
            select(Target).where(Target.indicator == "tiền vận động").limit(1)
        )
        value = await session.scalar(select(ReportValue).where(ReportValue.target_id == money.id))
        value.value += Decimal(512_345_678)
        await session.flush()
        await refresh_achieved(session, target_ids=[money.id])
    out = cli / "bao-cao.docx"
    code = await run(
        "--campaign",
        "DVK26",
        "--committee",
        "Đảng ủy Khối các cơ quan và doanh nghiệp tỉnh",
        "--superior",
        "Đảng bộ tỉnh Vĩnh Long",
        "--place",
        "Vĩnh Long",
        "--signer",
        "Bí thư",
        "-o",
        str(out),
    )
    assert code == 0, capsys.readouterr().err
    assert f"Đã ghi báo cáo tổng kết vào {out}." in capsys.readouterr().out
    lines = texts(out)
    # The header block of a party document.
    assert lines[:4] == [
        "ĐẢNG BỘ TỈNH VĨNH LONG",
        "ĐẢNG ỦY KHỐI CÁC CƠ QUAN VÀ DOANH NGHIỆP TỈNH",
        "*",
        "Số       -BC/…",
    ]
    assert lines[4] == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert lines[6] == "Vĩnh Long, ngày 26 tháng 11 năm 2026"
    assert "BÁO CÁO" in lines
    assert "Tổng kết đợt phát động phong trào thi đua «Dân vận khéo 2026–2027»" in lines
    # The figures in sentences, the same as `dvk stats --campaign DVK26`.
    assert (
        "Có 2/3 đơn vị đăng ký với 3 tập thể và 4 cá nhân; 1/3 đơn vị đã tổ chức hội nghị "
        "tuyên dương, khen thưởng." in lines
    )
    assert "Các mô hình đã gửi 6 báo cáo tiến độ, trong đó 2 báo cáo nộp muộn." in lines
    assert (
        "Kết quả đánh giá: 2 mô hình hoàn thành xuất sắc, 1 mô hình hoàn thành; 2 mô hình được "
        "đề xuất khen thưởng." in lines
    )
    assert "– Nhà đại đoàn kết: 326 căn (chỉ tiêu 400 căn, đạt 82%)." in lines
    assert "– Tiền vận động: hơn 130 tỷ đồng (chỉ tiêu 150 tỷ đồng, đạt 87%)." in lines
    assert (
        "– Cơ sở: đã khen thưởng 1 tập thể và 1 cá nhân; đang đề nghị 0 tập thể và 0 cá nhân."
        in lines
    )
    # Tables by field and by unit, totals included.
    rows = table_rows(out)
    assert ["1", "An sinh xã hội", "3", "1", "4"] in rows
    assert ["2", "Cải cách hành chính", "0", "3", "3"] in rows
    assert ["", "Tổng cộng", "3", "4", "7"] in rows
    assert ["1", "Đơn vị 0", "2", "3"] in rows and ["2", "Đơn vị 1", "5", "4"] in rows
    # The notable models: evaluated excellent first, then by results against their targets.
    notable = [row for row in rows if len(row) == 6 and row[0].isdigit()]
    assert [row[1] for row in notable][:2] == ["Mô hình 3", "Mô hình 1"]
    assert notable[0][2:] == ["", "Đơn vị 1", "Hoàn thành xuất sắc", "90%"]
    # What only people write is a marked place, never invented text.
    marked = [line for line in lines if line.startswith("[CẦN ĐIỀN")]
    assert len(marked) == 6 and "bot không tự viết" in marked[0]
    assert "[CẦN ĐIỀN: họ và tên người ký]" in lines and "BÍ THƯ" in lines
    assert "- Đảng bộ tỉnh Vĩnh Long," in lines
    # The appendices: who was commended, by level.
    assert "DANH SÁCH TẬP THỂ ĐƯỢC KHEN THƯỞNG" in lines
    assert ["1", "", "Mô hình 1", "Đơn vị 0", "Quyết định số 12/QĐ ngày 21/11/2026"] in rows
    assert [
        "1",
        "Chủ mô hình",
        "Mô hình 2",
        "Đơn vị 0",
        "Quyết định số 12/QĐ ngày 21/11/2026",
    ] in rows
    assert ["1", "", "Mô hình 3", "Đơn vị 1", "Đang đề nghị"] in rows
    document = Document(str(out))
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert document.styles["Normal"].font.size.pt == 14
    assert len(document.inline_shapes) == 1  # the chart


async def test_what_is_not_given_is_left_to_fill(data, cli, capsys):  # noqa: F811
    out = cli / "bao-cao.docx"
    assert await run("--years", "2026", "-o", str(out)) == 0
    lines = texts(out)
    assert lines[:2] == ["[CẦN ĐIỀN: cấp ủy cấp trên]", "[CẦN ĐIỀN: tên cấp ủy ban hành]"]
    assert lines[6] == "[CẦN ĐIỀN: địa danh], ngày 26 tháng 11 năm 2026"
    assert "Tổng kết phong trào thi đua «Dân vận khéo» năm 2026" in lines
    # The year 2026 leaves out the registration of December 2025, as `dvk stats` does.
    assert any(
        line.startswith("Có 2/3 đơn vị đăng ký với 3 tập thể và 3 cá nhân;") for line in lines
    )
    document = Document(str(out))
    marks = {
        run.text
        for paragraph in document.paragraphs
        for run in paragraph.runs
        if run.style.name == "DVK To Fill"
    }
    assert (
        "[CẦN ĐIỀN: phương hướng, nhiệm vụ giai đoạn tới; phần này do cán bộ soạn thảo viết.]"
        in marks
    )


async def test_a_committee_restyles_it_with_its_own_template(data, cli, monkeypatch, capsys):  # noqa: F811
    from reports.document import TEMPLATE

    template = Document(str(TEMPLATE))
    template.styles["Normal"].font.name = "Arial"
    template.add_paragraph("Ghi chú của văn phòng: không in.")
    own = cli / "mau-rieng.docx"
    template.save(str(own))
    monkeypatch.setenv("DVK_REPORT_TEMPLATE", str(own))
    out = cli / "bao-cao.docx"
    assert await run("--campaign", "DVK26", "-o", str(out)) == 0
    document = Document(str(out))
    assert document.styles["Normal"].font.name == "Arial"
    assert "Ghi chú của văn phòng: không in." not in texts(out)
    assert "BÁO CÁO" in texts(out)
    monkeypatch.setenv("DVK_REPORT_TEMPLATE", str(cli / "khong-co.docx"))
    assert await run("--campaign", "DVK26", "-o", str(cli / "b.docx")) == 1
    assert "Không đọc được mẫu báo cáo" in capsys.readouterr().err
    assert not (cli / "b.docx").exists()


async def test_an_unknown_campaign_or_unit_is_refused(data, cli, capsys):  # noqa: F811
    out = cli / "bao-cao.docx"
    assert await run("--campaign", "KHONGCO", "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert "Không có đợt phát động mã KHONGCO." in err and "Cách dùng: dvk report" in err
    assert await run("--campaign", "DVK26", "--unit", "XX", "-o", str(out)) == 1
    assert "Không có đơn vị mã XX." in capsys.readouterr().err
    assert not out.exists()
    # A top-level unit names the committee when --committee is not given.
    assert await run("--campaign", "DVK26", "--unit", "U1", "-o", str(out)) == 0
    assert texts(out)[1] == "ĐƠN VỊ 1"


# --- in the chat -------------------------------------------------------------------------------


async def issuer_asked(admin, scope: str) -> None:
    """The first report of U1: who issues it is asked, then the report is drafted."""
    replies = await admin.send(f"/baocaotongket {scope}")
    assert replies[0] == (
        "Báo cáo tổng kết đầu tiên của Đơn vị 1: cho biết cấp ủy ban hành báo cáo (chỉ hỏi một "
        "lần; sửa sau bằng /baocaotongket sua)."
    )
    assert replies[1].startswith("Tên cấp ủy ban hành báo cáo")
    await admin.send("Đảng ủy Khối các cơ quan tỉnh")
    await admin.send("Đảng bộ tỉnh Vĩnh Long")
    await admin.send("Vĩnh Long")
    summary = await admin.send("Phó Bí thư Thường trực")
    assert "• Cấp ủy ban hành: Đảng ủy Khối các cơ quan tỉnh" in summary[0]
    replies = await admin.choose("✅ Lưu")
    assert replies[0] == "✅ Đã lưu cấp ủy ban hành báo cáo của Đơn vị 1."


async def test_admins_get_the_report_as_a_file_or_a_link(data, world, db):  # noqa: F811
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    # Three top-level units: which one issues it is named after the scope.
    replies = await admin.send("/baocaotongket DVK26")
    assert replies[0] == (
        "Có nhiều đơn vị cấp trên cùng (U0, U1, U2): ghi mã đơn vị ban hành báo cáo sau phạm vi, "
        "ví dụ: /baocaotongket DVK2026 U0."
    )
    await issuer_asked(admin, "DVK26 U1")
    await world.settle_jobs()
    assert "⏳ Đang soạn báo cáo tổng kết…" in admin.all_texts()
    assert any(
        text.startswith("📄 Dự thảo báo cáo tổng kết") for text in world.outbox_texts(ADMIN_ID)
    )
    [(name, content)] = await world.files(ADMIN_ID)
    assert name == "bao-cao-tong-ket-DVK26-2026-11-26.docx"
    lines = texts(BytesIO(content))
    assert "Tổng kết đợt phát động phong trào thi đua «Dân vận khéo 2026–2027»" in lines
    # The figures of the issuing unit alone (the whole installation: 2/3 units, 3 and 4).
    assert any(
        line.startswith("Có 1/1 đơn vị đăng ký với 1 tập thể và 3 cá nhân;") for line in lines
    )
    # Who issues it, as given the first time.
    assert lines[:2] == ["ĐẢNG BỘ TỈNH VĨNH LONG", "ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH"]
    assert lines[6] == "Vĩnh Long, ngày 26 tháng 11 năm 2026"
    assert "PHÓ BÍ THƯ THƯỜNG TRỰC" in lines
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "yearend.drafted")
        )
    assert entry.details == {"campaign": "DVK26", "years": None}


async def test_years_in_the_chat_and_a_wrong_argument(data, world, db):  # noqa: F811
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    replies = await admin.send("/baocaotongket năm ngoái U1")
    assert replies[0] == "Không có đợt phát động mã năm ngoái."
    assert replies[1].startswith("Cách dùng: /baocaotongket")
    await issuer_asked(admin, "2025 U1")
    await world.settle_jobs()
    # Asked once: the next report goes straight to drafting, with what was kept.
    replies = await admin.send("/baocaotongket 2026 u1")
    assert not any(reply.startswith("Tên cấp ủy") for reply in replies)
    await world.settle_jobs()
    *_, (name, content) = await world.files(ADMIN_ID)
    assert name == "bao-cao-tong-ket-2026-2026-11-26.docx"
    lines = texts(BytesIO(content))
    assert "Tổng kết phong trào thi đua «Dân vận khéo» năm 2026" in lines
    assert any(
        line.startswith("Có 1/1 đơn vị đăng ký với 1 tập thể và 2 cá nhân;") for line in lines
    )
    assert lines[:2] == ["ĐẢNG BỘ TỈNH VĨNH LONG", "ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH"]
    # `sua` opens what was kept, at its summary, to change any of it.
    replies = await admin.send("/baocaotongket sua U1")
    assert "• Địa danh: Vĩnh Long" in replies[0]


async def test_what_dvk_report_is_given_is_kept_for_its_unit(data, cli, capsys):  # noqa: F811
    first, second = cli / "a.docx", cli / "b.docx"
    given = ["--committee", "Đảng ủy Khối Doanh nghiệp", "--place", "Cần Thơ"]
    assert await run("--campaign", "DVK26", "--unit", "U1", *given, "-o", str(first)) == 0
    assert await run("--years", "2026", "--unit", "U1", "-o", str(second)) == 0
    lines = texts(second)
    assert lines[:2] == ["[CẦN ĐIỀN: cấp ủy cấp trên]", "ĐẢNG ỦY KHỐI DOANH NGHIỆP"]
    # The figures of that unit alone; without --unit, of the whole installation.
    assert any(
        line.startswith("Có 1/1 đơn vị đăng ký với 1 tập thể và 3 cá nhân;")
        for line in texts(first)
    )
    assert lines[6] == "Cần Thơ, ngày 26 tháng 11 năm 2026"


async def test_a_kept_place_without_a_committee_still_drafts_after_asking(data, world, db, clock):  # noqa: F811
    from storage.records.issuers import save_issuer
    from storage.records.units import unit_by_code

    async with db.session() as session:
        unit = await unit_by_code(session, code="U1")
        # As `dvk report --unit U1 --place …` leaves it: a place, no committee.
        await save_issuer(
            session, unit_id=unit.id, values={"place": "Cần Thơ"}, by=None, now=clock()
        )
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    replies = await admin.send("/baocaotongket U1")  # the open campaign
    assert replies[0].startswith("Báo cáo tổng kết đầu tiên của Đơn vị 1")
    await admin.send("Đảng ủy Khối các cơ quan tỉnh")
    await admin.choose("Bỏ qua »")
    await admin.send("Bí thư")
    assert "• Địa danh: Cần Thơ" in (await admin.send("/tieptuc"))[0]
    await admin.choose("✅ Lưu")
    await world.settle_jobs()
    [(_, content)] = await world.files(ADMIN_ID)
    assert texts(BytesIO(content))[6] == "Cần Thơ, ngày 26 tháng 11 năm 2026"
