"""Word documents the portal writes: A4 with margins, the partnership and the subject in the page header, and
tables whose columns are fitted to what they hold (names wide, numbers narrow and right-aligned, no word broken
across lines), with the header row repeated on each page.

Widths are worked out from the text, not left to Word's autofit (which splits "Measure" and "5,840.50" when eight
columns share a page): a number needs its whole text on one line, a name its longest word; what is left of the
page goes to the name columns in proportion to their text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .exports import xml_safe

if TYPE_CHECKING:  # python-docx is imported only when a document is written
    from docx.document import Document
    from docx.table import Table

PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297  # A4, portrait
MARGIN_MM = 20
TEXT_WIDTH_MM = PAGE_WIDTH_MM - 2 * MARGIN_MM
TABLE_FONT_PT = 9
# A generous average glyph width for the default body font (Calibri), in ems: digits are 0.51, capitals up to 0.66.
CHAR_EM = 0.62
# Word's default cell margins (0.19 cm each side) and a little room for the border.
CELL_PADDING_MM = 4.4
MM_PER_PT = 25.4 / 72


def text_width_mm(text: str, font_pt: float = TABLE_FONT_PT) -> float:
    """How wide `text` prints on one line, estimated generously."""
    return len(text) * CHAR_EM * font_pt * MM_PER_PT


def needed_width_mm(text: str, *, numeric: bool, font_pt: float = TABLE_FONT_PT) -> float:
    """The narrowest cell that holds `text` without breaking a word: a number whole, other text by its longest word."""
    words = [text] if numeric else text.split()
    return max((text_width_mm(word, font_pt) for word in words), default=0.0) + CELL_PADDING_MM


def new_document(*, title: str, header: str, author: str) -> Document:
    """An empty A4 document with margins and `header` at the top of every page."""
    from docx import Document
    from docx.shared import Mm

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(MARGIN_MM))
    section.header.paragraphs[0].text = xml_safe(header)
    document.core_properties.title = xml_safe(title)
    document.core_properties.author = xml_safe(author)
    return document


def column_widths_mm(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> list[float]:
    """Numbers as wide as their widest figure; names share the rest of the line by how much they say."""
    columns = list(zip(headers, *rows, strict=True))
    widths = []
    for index, cells in enumerate(columns):
        numeric = index >= numeric_from
        # A header wraps between its words even over a number column.
        widths.append(
            max(
                needed_width_mm(headers[index], numeric=False),
                *(needed_width_mm(cell, numeric=numeric) for cell in cells[1:]),
            )
        )
    names = [index for index in range(len(headers)) if index < numeric_from]
    spare = TEXT_WIDTH_MM - sum(widths)
    if spare > 0 and names:
        wants = [max(text_width_mm(cell) for cell in columns[index]) for index in names]
        extra = [max(want - widths[index] + CELL_PADDING_MM, 0.0) for want, index in zip(wants, names, strict=True)]
        share = min(1.0, spare / sum(extra)) if sum(extra) else 0.0
        for index, more in zip(names, extra, strict=True):
            widths[index] += more * share
        # Whatever is still spare goes to the first name column, so the table spans the page.
        widths[names[0]] += TEXT_WIDTH_MM - sum(widths) if sum(widths) < TEXT_WIDTH_MM else 0.0
    return widths


def add_table(
    document: Document,
    headers: list[str],
    rows: list[list[str]],
    *,
    numeric_from: int,
    footer: Sequence[list[str]] = (),
) -> Table:
    """A real Word table: a bold header row repeated on each page, fitted columns, numbers right-aligned, totals in
    bold. Columns from `numeric_from` on hold numbers."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    lines = [(headers, True), *((row, False) for row in rows), *((row, True) for row in footer)]
    widths = column_widths_mm(headers, [values for values, _ in lines[1:]], numeric_from)
    grid = document.add_table(rows=1, cols=len(headers))
    grid.style = "Table Grid"
    grid.autofit = False
    header_row = grid.rows[0]
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header_row._tr.get_or_add_trPr().append(repeat)
    for number, (values, bold) in enumerate(lines):
        cells = header_row.cells if number == 0 else grid.add_row().cells
        for index, value in enumerate(values):
            cells[index].width = Mm(widths[index])
            paragraph = cells[index].paragraphs[0]
            run = paragraph.add_run(xml_safe(value))
            run.bold, run.font.size = bold, Pt(TABLE_FONT_PT)
            if index >= numeric_from:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = Mm(width)
    return grid
