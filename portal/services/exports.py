"""Spreadsheet downloads: one writer for CSV and Excel (.xlsx), neutralised against formula injection.

Rows carry typed values and each format writes them the same way:

- ``str``: text, neutralised (a cell beginning with =, +, -, @, tab or carriage return gets a leading ').
- ``int`` and ``Decimal``: numbers. A Decimal keeps the places it carries, so money made with
  ``amount(pence)`` is ``10000.00`` in CSV and the number 10000 formatted ``0.00`` in Excel, and a
  one-decimal percentage is ``45.0`` / ``0.0``. Quantities go through ``number(value)`` (234, 5840.5).
- ``date``: ISO 8601 in CSV (2021-04-01), a date cell formatted yyyy-mm-dd in Excel.
- ``None``: an empty cell.

CSV is UTF-8 with a byte order mark (Excel otherwise misreads £ and accented names) and CRLF line
endings (RFC 4180). Every download is an attachment that is never cached.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, TypeVar

from flask import Response, request
from werkzeug.wsgi import wrap_file

if TYPE_CHECKING:
    from docx.document import Document
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet


EXPORT_FORMATS = ("csv", "xlsx")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PENNY = Decimal("0.01")
# Characters XML 1.0 (and so .xlsx and .docx) cannot hold; tab, newline and carriage return are allowed.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_COLUMN_WIDTH = 60

Value = str | int | Decimal | date | None
_T = TypeVar("_T")


def neutralise(value: _T) -> _T | str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def pounds(pence: int | None) -> str:
    """12345 -> '123.45': no currency sign, no thousands separators (a minus sign when negative)."""
    found = amount(pence)
    return "" if found is None else format(found, "f")


def amount(pence: int | None) -> Decimal | None:
    """Pence as a Decimal number of pounds with two places: written 10000.00 in CSV, 0.00 in Excel."""
    if pence is None:
        return None
    return (Decimal(pence) / 100).quantize(PENNY)


def number(value: Decimal | int | None) -> Decimal | int | None:
    """A quantity as plainly as it can be written: 234, or 5840.5 (never 5840.50 or 5.8405E+3)."""
    if value is None or isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()


def xml_safe(text: str) -> str:
    """Drop the control characters an Office file cannot hold, which a pasted narrative may carry."""
    return NOT_XML.sub("", text)


def _csv_cell(value: object) -> object:
    value = neutralise(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _download(data: bytes | Iterable[bytes], filename: str, content_type: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def write_csv(target: IO[bytes], columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> None:
    """Write the table to `target` one row at a time, so `rows` may be a generator over a query."""
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([_csv_cell(column) for column in columns])
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])
        text.flush()
    finally:
        text.detach()  # the target stays open for its owner


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, columns, rows)
    return buffer.getvalue()


def csv_response(filename: str, columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> Response:
    """Written to a temporary file and sent from it in blocks, as the workbook is."""
    return _spooled_response(lambda target: write_csv(target, columns, rows), filename, CSV_TYPE)


def _number_format(value: Decimal) -> str:
    exponent = value.as_tuple().exponent  # "n", "N" or "F" for NaN and infinity
    places = -exponent if isinstance(exponent, int) else 0
    return "0." + "0" * places if places > 0 else "0"


# xlsxwriter, told never to read text as a formula, a number or a link: text is always text.
XLSX_OPTIONS = {
    "constant_memory": True,  # each row goes to a temporary file as it is written: memory flat in the rows
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


def write_xlsx(target: IO[bytes], columns: Sequence[str], rows: Iterable[Sequence[Value]], sheet_title: str) -> None:
    """Write the table to `target` one row at a time, so `rows` may be a generator over a query."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(target, XLSX_OPTIONS)
    sheet = workbook.add_worksheet(SHEET_TITLE_FORBIDDEN.sub("-", sheet_title)[:31] or "Sheet1")
    formats: dict[str, Format] = {}

    def formatted(number_format: str) -> Format:
        if number_format not in formats:
            formats[number_format] = workbook.add_format({"num_format": number_format})
        return formats[number_format]

    sheet.write_row(
        0, 0, [xml_safe(str(neutralise(column))) for column in columns], workbook.add_format({"bold": True})
    )
    widths = [len(column) for column in columns]
    for row_number, row in enumerate(rows, start=1):
        for column_number, raw in enumerate(row):
            if raw is None or raw == "":
                continue  # an empty cell, not an empty string
            shown = _write_cell(sheet, row_number, column_number, neutralise(raw), formatted)
            if column_number < len(widths):
                widths[column_number] = max(widths[column_number], shown)
    for index, width in enumerate(widths):
        sheet.set_column(index, index, min(width + 2, MAX_COLUMN_WIDTH))
    sheet.freeze_panes(1, 0)
    workbook.close()


def _write_cell(sheet: Worksheet, row: int, column: int, value: object, formatted: Callable[[str], Format]) -> int:
    """One typed cell; returns how many characters it shows, for the column's width."""
    if isinstance(value, str):
        sheet.write_string(row, column, xml_safe(value))  # text is never a formula, whatever it begins with
        return len(value)
    if isinstance(value, Decimal):
        sheet.write_number(row, column, value, formatted(_number_format(value)))
        return len(format(value, "f"))
    if isinstance(value, datetime):
        sheet.write_datetime(row, column, value.replace(tzinfo=None), formatted("yyyy-mm-dd hh:mm:ss"))
        return 19
    if isinstance(value, date):
        sheet.write_datetime(row, column, value, formatted("yyyy-mm-dd"))
        return 10
    if isinstance(value, int):
        sheet.write_number(row, column, value)
        return len(str(value))
    sheet.write_string(row, column, xml_safe(str(value)))
    return len(str(value))


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence[Value]], sheet_title: str) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(buffer, columns, rows, sheet_title)
    return buffer.getvalue()


def _spooled_response(write: Callable[[IO[bytes]], None], filename: str, content_type: str) -> Response:
    """The download is written to a temporary file and sent from it in blocks: memory stays flat however long."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response once sent, not here
    try:
        write(spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = _download(wrap_file(request.environ, spool), filename, content_type)
    response.direct_passthrough = True
    response.content_length = size
    return response


def xlsx_response(filename: str, columns: Sequence[str], rows: Iterable[Sequence[Value]], sheet_title: str) -> Response:
    return _spooled_response(lambda target: write_xlsx(target, columns, rows, sheet_title), filename, XLSX_TYPE)


def table_response(
    fmt: str, basename: str, columns: Sequence[str], rows: Iterable[Sequence[Value]], sheet_title: str
) -> Response:
    """The download in one of EXPORT_FORMATS; `load_download_year` has already 404ed any other."""
    if fmt == "csv":
        return csv_response(f"{basename}.csv", columns, rows)
    if fmt == "xlsx":
        return xlsx_response(f"{basename}.xlsx", columns, rows, sheet_title)
    raise ValueError(f"unknown export format {fmt!r}")


def docx_response(filename: str, document: Document) -> Response:
    """A python-docx Document as a Word download."""
    buffer = io.BytesIO()
    document.save(buffer)
    return _download(buffer.getvalue(), filename, DOCX_TYPE)
