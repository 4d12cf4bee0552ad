"""Spreadsheet downloads are written one row at a time: memory stays flat however many rows a year has."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from portal.services.exports import Value, write_xlsx, xlsx_bytes

COLUMNS = ("organisation", "project", "award", "people", "paid_on")


def rows(count: int) -> Iterator[tuple[Value, ...]]:
    """Rows made as they are asked for, as a query's rows would be."""
    for index in range(count):
        yield (
            f"Organisation {index}",
            f"A project with a name of ordinary length {index}",
            Decimal(index) / 100,
            index,
            date(2021, 4, 1),
        )


def peak_memory_writing(count: int) -> int:
    tracemalloc.start()
    try:
        with tempfile.TemporaryFile() as target:
            write_xlsx(target, COLUMNS, rows(count), "Projects")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_rows():
    peak_memory_writing(10)  # the writer's modules are imported before anything is measured
    small, large = peak_memory_writing(2_000), peak_memory_writing(20_000)
    # Ten times the rows: a writer that held the sheet in memory (openpyxl's default) would peak about ten times
    # higher; written row by row, the peak stays where it was.
    assert large < small * 1.5, (small, large)


def test_the_streamed_workbook_keeps_its_types_widths_and_frozen_header():
    book = load_workbook(io.BytesIO(xlsx_bytes(COLUMNS, rows(3), "Projects: 2021/22")))
    sheet = book.active
    assert sheet.title == "Projects- 2021-22"
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet["C3"].value == 0.01 and sheet["C3"].number_format == "0.00"
    assert sheet["D4"].value == 2 and sheet["D4"].data_type == "n"
    assert sheet["E2"].number_format == "yyyy-mm-dd"
    # Names get wide columns, numbers narrow ones.
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["D"].width


def test_text_that_looks_like_a_formula_a_number_or_a_link_stays_text():
    book = load_workbook(io.BytesIO(xlsx_bytes(("a", "b", "c"), [("=HYPERLINK(1)", "0123", "https://x.test")], "T")))
    sheet = book.active
    assert [sheet[ref].value for ref in ("A2", "B2", "C2")] == ["'=HYPERLINK(1)", "0123", "https://x.test"]
    assert all(sheet[ref].data_type == "s" for ref in ("A2", "B2", "C2"))
    assert not sheet._hyperlinks
