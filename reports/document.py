"""Writing into the report's Word template: paragraphs in its named styles, the marked places
people fill in, tables and the chart. The template holds the layout; this module only adds a
body to it, so a committee's own template (DVK_REPORT_TEMPLATE) restyles the whole report."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.shared import Cm
from docx.table import Table
from docx.text.paragraph import Paragraph

TEMPLATE = Path(__file__).with_name("mau-bao-cao.docx")

# The template's styles by role. A template that lacks one gets Normal there (and the marked
# places stay bracketed), so a plain Word document still works as a template.
STYLES = {
    "header": "DVK Header",
    "header_bold": "DVK Header Bold",
    "party": "DVK Party",
    "date": "DVK Date",
    "title": "DVK Title",
    "subject": "DVK Subject",
    "heading": "DVK Heading",
    "caption": "DVK Caption",
    "cell": "DVK Cell",
    "cell_head": "DVK Cell Head",
    "recipients": "DVK Recipients",
    "signature": "DVK Signature",
    "to_fill": "DVK To Fill",
}


class Writer:
    def __init__(self, template: Path | None = None) -> None:
        self.document: DocxDocument = Document(str(template or TEMPLATE))
        # Whatever the template's body holds (a sample, notes) is not part of the report.
        body = self.document.element.body
        for child in list(body):
            if not child.tag.endswith("}sectPr"):
                body.remove(child)
        self._names = {style.name for style in self.document.styles}

    def style(self, role: str) -> Any:
        name = STYLES[role]
        if name in self._names:
            return self.document.styles[name]
        return None if role == "to_fill" else self.document.styles["Normal"]

    def paragraph(
        self,
        text: str = "",
        role: str | None = None,
        *,
        to_fill: str | None = None,
        into: Any = None,
    ) -> Paragraph:
        """A paragraph in the style of `role` (Normal: the body), its text then, if given, a
        marked place to fill."""
        target = into if into is not None else self.document
        paragraph: Paragraph = target.add_paragraph(text, style=self.style(role) if role else None)
        if to_fill is not None:
            self.fill(paragraph, to_fill)
        return paragraph

    def fill(self, paragraph: Paragraph, text: str) -> None:
        """A marked place: text only a person can write, shown as such (highlighted on the run
        as well: LibreOffice does not show a character style's highlight)."""
        run = paragraph.add_run(text, style=self.style("to_fill"))
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    def cell(
        self,
        table: Table,
        row: int,
        column: int,
        text: str,
        *,
        head: bool = False,
        align: WD_ALIGN_PARAGRAPH | None = None,
    ) -> None:
        cell = table.cell(row, column)
        paragraph = cell.paragraphs[0]
        paragraph.style = self.style("cell_head" if head else "cell")
        if align is not None:
            paragraph.alignment = align
        paragraph.add_run(text)

    def table(
        self,
        heads: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        numbers: Sequence[int] = (0,),
    ) -> Table:
        """A table with a head row; the `numbers` columns (the row number by default) are
        right-aligned."""
        table = self.document.add_table(rows=1 + len(rows), cols=len(heads))
        if "Table Grid" in self._names:
            table.style = self.document.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for column, head in enumerate(heads):
            self.cell(table, 0, column, head, head=True)
        for r, row in enumerate(rows, 1):
            for column, text in enumerate(row):
                align = WD_ALIGN_PARAGRAPH.RIGHT if column in numbers else None
                self.cell(table, r, column, text, align=align)
        self._widths(table, widths)
        return table

    @staticmethod
    def _widths(table: Table, widths: Sequence[float]) -> None:
        # Fixed widths, on the grid (what LibreOffice reads) and on every cell (what Word does).
        table.autofit = False
        for column, width in enumerate(widths):
            table.columns[column].width = Cm(width)
            for cell in table.columns[column].cells:
                cell.width = Cm(width)

    def grid(self, columns: int, widths: Sequence[float]) -> Table:
        """A table without borders, to set blocks side by side (the header, the signature)."""
        table = self.document.add_table(rows=1, cols=columns)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        self._widths(table, widths)
        return table

    def picture(self, png: bytes, *, width_cm: float = 15) -> None:
        paragraph = self.document.add_paragraph(style=self.style("caption"))
        paragraph.add_run().add_picture(io.BytesIO(png), width=Cm(width_cm))

    def page_break(self) -> None:
        self.document.add_page_break()

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()
