"""The workbook layout shared by `dvk template`, import and export: sheet names and headers
exactly as organisers write them, and one example row each, which the template shows on its
instructions sheet, apart from the data sheets, so an unchanged template imports nothing."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

SHEETS: list[tuple[str, list[str], list[object]]] = [
    (
        "Đợt phát động",
        ["Mã đợt", "Tên đợt", "Ngày bắt đầu", "Ngày kết thúc"],
        ["DVK2026", "Dân vận khéo 2026–2027", "01/01/2026", "31/12/2027"],
    ),
    (
        "Đơn vị",
        ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên"],
        ["CB-VP", "Chi bộ Văn phòng", "DUK"],
    ),
    (
        "Đăng ký",
        [
            "Mã mô hình",
            "Mã đợt",
            "Mã đơn vị",
            "Loại",
            "Tên tập thể hoặc cá nhân",
            "Tên mô hình",
            "Lĩnh vực",
            "Ngày đăng ký",
        ],
        [
            "MH-001",
            "DVK2026",
            "CB-VP",
            "Tập thể",
            "Chi bộ Văn phòng",
            "Vận động xây nhà đại đoàn kết",
            "An sinh xã hội",
            "15/02/2026",
        ],
    ),
    (
        "Kết quả",
        ["Mã mô hình", "Chỉ tiêu", "Đơn vị tính", "Giá trị", "Ngày báo cáo"],
        ["MH-001", "nhà đại đoàn kết", "căn", 5, "30/06/2026"],
    ),
    ("Hội nghị", ["Mã đơn vị", "Mã đợt", "Ngày tổ chức"], ["CB-VP", "DVK2026", "19/10/2027"]),
    (
        "Khen thưởng",
        ["Mã mô hình", "Cấp", "Trạng thái", "Số quyết định", "Ngày"],
        ["MH-001", "Đảng ủy Khối", "Đã khen", "123-QĐ/ĐUK", "25/10/2027"],
    ),
]
# What the choice columns accept (case and surrounding spaces ignored).
ALLOWED = {
    "Loại": ["Tập thể", "Cá nhân"],
    "Cấp": ["Cơ sở", "Đảng ủy Khối", "BCĐ tỉnh", "UBND tỉnh"],
    "Trạng thái": ["Đề nghị", "Đã khen"],
}
# The stored values behind those labels (storage/rules.py), in the same order.
KIND_VALUES = dict(zip(ALLOWED["Loại"], ("collective", "individual"), strict=True))
LEVEL_VALUES = dict(
    zip(ALLOWED["Cấp"], ("co_so", "dang_uy_khoi", "bcd_tinh", "ubnd_tinh"), strict=True)
)
COMMENDATION_STATUS_VALUES = dict(zip(ALLOWED["Trạng thái"], ("proposed", "decided"), strict=True))

# Beyond the paper layout, an export writes what a bot keeps and an import reads it back when
# present (a file without them imports as paper records: models approved, no targets):
# - "Đăng ký" gets a "Trạng thái" column (the model's status, labels below) and one column per
#   question an admin added to the campaign's registration form, headed by the question's text;
# - a "Chỉ tiêu" sheet holds each model's targets.
REGISTRATION_STATUS_HEADER = "Trạng thái"
MODEL_STATUS_LABELS = {
    "draft": "Bản nháp",
    "submitted": "Chờ duyệt",
    "approved": "Đã duyệt",
    "returned": "Trả lại",
    "rejected": "Không duyệt",
    "in_progress": "Đang thực hiện",
    "completed": "Đã hoàn thành",
    "evaluated": "Đã đánh giá",
}
TARGETS_SHEET = ("Chỉ tiêu", ["Mã mô hình", "Chỉ tiêu", "Đơn vị tính", "Mục tiêu"])
# - "Đợt phát động" gets the campaign's reporting rhythm and registration window, without which
#   a quarterly campaign would come back monthly (paper files leave them out: monthly, due 25).
# - "Đơn vị" gets the days a unit was active, so that a campaign counts the units of its time.
UNIT_OPTIONAL_HEADERS = ["Hoạt động từ", "Hoạt động đến"]
CAMPAIGN_OPTIONAL_HEADERS = ["Chu kỳ báo cáo", "Ngày hạn báo cáo", "Mở đăng ký", "Đóng đăng ký"]
CADENCE_LABELS = {"monthly": "Hằng tháng", "quarterly": "Hằng quý"}
# Export only: what each report said, after "Kết quả"'s own columns (the import ignores them),
# on every row of the report so that each row reads on its own when filtered.
RESULT_EXPORT_HEADERS = ["Nội dung báo cáo", "Khó khăn", "Đề xuất"]
# Export only, when a campaign asks questions of its own in its report form (/cauhoi): one row
# per answer (not read by the import, which has no place for the questions themselves).
REPORT_ANSWERS_SHEET = ("Trả lời báo cáo", ["Mã mô hình", "Ngày báo cáo", "Câu hỏi", "Trả lời"])
# Export only: one row per unit with its figures (not read by the import).
SUMMARY_SHEET = "Tổng hợp theo đơn vị"
# Excel shows at most 1.048.576 rows of a sheet (the header included). A longer sheet of an
# export ("Kết quả" of a whole country) goes on in "Kết quả (2)", "Kết quả (3)", ..., each with
# the same header row.
MAX_SHEET_ROWS = 1_048_576


def continued_sheet(name: str, part: int) -> str:
    """The name of the `part`-th sheet (1, 2, ...) holding the rows of sheet `name`."""
    return name if part == 1 else f"{name} ({part})"


def text_cell(sheet: Any, value: str | None) -> Any:
    """How every text the bot writes into a sheet is written, headers included: characters XML
    cannot carry are dropped, and a leading "=" (a question an admin labelled "=HYPERLINK(...)",
    somebody's title) does not make it a formula, which openpyxl would take it for. A text that
    cannot be taken for one stays a plain str (cheap, for sheets of a million rows)."""
    if value is None:
        return None
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


# The instructions sheet of the template: the import reads only the sheets above, so nothing on
# it is ever imported (its name is not one of theirs).
GUIDE_SHEET = "Hướng dẫn"


def template_bytes(t: Callable[..., str]) -> bytes:
    """The import workbook for people to fill: a first sheet of instructions, in the catalog's
    language, with an example row under each sheet's headers, then the data sheets with their
    headers alone, so the examples never import."""
    book = Workbook()
    guide = book.active
    guide.title = GUIDE_SHEET
    bold = Font(bold=True)
    guide.append([t("template-guide-title")])
    guide["A1"].font = Font(bold=True, size=13)
    for key in ("template-guide-fill", "template-guide-dates", "template-guide-parent"):
        guide.append([t(key)])
    for header, labels in ALLOWED.items():
        guide.append([t("template-guide-choices", column=header, labels=" / ".join(labels))])
    for name, headers, example in SHEETS:
        guide.append([])
        guide.append([t("template-guide-sheet", sheet=name)])
        guide.cell(guide.max_row, 1).font = bold
        guide.append([text_cell(guide, h) for h in headers])
        for cell in guide[guide.max_row]:
            cell.font = bold
        guide.append([text_cell(guide, v) if isinstance(v, str) else v for v in example])
    guide.column_dimensions["A"].width = 24
    for name, headers, _ in SHEETS:
        sheet = book.create_sheet(name)
        sheet.append([text_cell(sheet, h) for h in headers])
        for cell, header in zip(sheet[1], headers, strict=True):
            cell.font = bold
            sheet.column_dimensions[cell.column_letter].width = min(len(header) + 4, 48)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
