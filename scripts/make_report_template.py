"""Write the year-end report's Word template, reports/mau-bao-cao.docx: the page and the styles
of a party document (Hướng dẫn 36-HD/VPTW, 2018): A4, margins 2/2/3/1,5 cm, Times New Roman,
body 14 pt, the page number at the top centre from the second page on.

The report builder only fills a body into it, so a committee restyles the report by editing a
copy in Word and naming it in DVK_REPORT_TEMPLATE: fonts, sizes, spacing, margins, the styles
below. Run after changing this script, and commit the result:

    .venv/bin/python -m scripts.make_report_template
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from reports.document import STYLES

CENTER = WD_ALIGN_PARAGRAPH.CENTER

TEMPLATE = Path(__file__).resolve().parents[1] / "reports" / "mau-bao-cao.docx"
FONT = "Times New Roman"


def _font(style, size: float, *, bold: bool = False, italic: bool = False) -> None:
    style.font.name = FONT
    # Word takes Vietnamese letters from the complex-script and East-Asian slots too.
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = italic
    style.font.color.rgb = RGBColor(0, 0, 0)


def _paragraph_style(document, name: str, size: float, *, align, **font) -> None:
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    _font(style, size, **font)
    style.paragraph_format.alignment = align
    style.paragraph_format.first_line_indent = Cm(0)
    style.paragraph_format.space_before = Pt(0)
    style.paragraph_format.space_after = Pt(0)


def _page_number(paragraph) -> None:
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            field = OxmlElement("w:fldChar")
            field.set(qn("w:fldCharType"), kind)
            run._r.append(field)
        else:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = text
            run._r.append(code)


def make_template(path: Path = TEMPLATE) -> Path:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    section.header_distance = Cm(1)
    # No number on the first page; the others carry theirs at the top centre.
    section.different_first_page_header_footer = True
    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(header)

    normal = document.styles["Normal"]
    _font(normal, 14)
    body = normal.paragraph_format
    body.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    body.first_line_indent = Cm(1)
    body.space_before = Pt(6)
    body.space_after = Pt(0)
    body.line_spacing = 1.15

    _paragraph_style(document, STYLES["header"], 13, align=CENTER)
    _paragraph_style(document, STYLES["header_bold"], 13, align=CENTER, bold=True)
    _paragraph_style(document, STYLES["party"], 15, align=CENTER, bold=True)
    _paragraph_style(document, STYLES["date"], 14, align=WD_ALIGN_PARAGRAPH.RIGHT, italic=True)
    _paragraph_style(document, STYLES["title"], 16, align=CENTER, bold=True)
    _paragraph_style(document, STYLES["subject"], 14, align=CENTER, bold=True)
    _paragraph_style(document, STYLES["heading"], 14, align=WD_ALIGN_PARAGRAPH.JUSTIFY, bold=True)
    document.styles[STYLES["heading"]].paragraph_format.space_before = Pt(12)
    _paragraph_style(document, STYLES["caption"], 13, align=CENTER, italic=True)
    document.styles[STYLES["caption"]].paragraph_format.space_before = Pt(6)
    _paragraph_style(document, STYLES["cell"], 12, align=WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph_style(document, STYLES["cell_head"], 12, align=CENTER, bold=True)
    _paragraph_style(document, STYLES["recipients"], 12, align=WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph_style(document, STYLES["signature"], 14, align=CENTER, bold=True)
    # What only people can write: bracketed, in italics, highlighted, so nobody signs it unread.
    to_fill = document.styles.add_style(STYLES["to_fill"], WD_STYLE_TYPE.CHARACTER)
    to_fill.font.italic = True
    to_fill.font.highlight_color = WD_COLOR_INDEX.YELLOW

    # An empty body: the builder writes the report; a committee's copy may keep notes out of it.
    for paragraph in list(document.paragraphs):
        paragraph._element.getparent().remove(paragraph._element)
    document.save(path)
    return path


if __name__ == "__main__":
    print(make_template(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE))
