"""The Word documents the portal writes print like the partnership's own: A4 with margins, the partnership and
the year in the page header, columns fitted to what they hold, numbers right-aligned, no word broken.

Measured with python-docx on the demo's annual reports (the published figures, e.g. "5,840.50"); converted to PDF
by LibreOffice when it is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm

from portal.extensions import db
from portal.services import demo
from portal.services.word import CELL_PADDING_MM, MARGIN_MM, TEXT_WIDTH_MM, text_width_mm
from tests.test_csu_reports import user

YEARS = ("2019-20", "2020-21", "2021-22")


@pytest.fixture
def csu_client(app, client, login):
    """The CSU signed in over the demo's years (the partnership's published figures)."""
    demo.load("some-password-123")
    db.session.commit()
    login(client, user("csu@demo.test"))
    return client


def document(client, label: str):
    response = client.get(f"/csu/{label}/annual-report.docx")
    assert response.status_code == 200
    return docx.Document(io.BytesIO(response.data))


def mm(length) -> float:
    return length / Mm(1)


@pytest.mark.parametrize("label", YEARS)
def test_the_page_is_a4_with_margins_and_a_header_naming_the_partnership_and_year(csu_client, app, label):
    (section,) = document(csu_client, label).sections
    assert round(mm(section.page_width)) == 210 and round(mm(section.page_height)) == 297
    for margin in (section.left_margin, section.right_margin, section.top_margin, section.bottom_margin):
        assert round(mm(margin)) == MARGIN_MM
    header = section.header.paragraphs[0].text
    assert app.config["PARTNERSHIP_NAME"] in header and label in header


@pytest.mark.parametrize("label", YEARS)
def test_every_table_fits_the_page_and_no_cell_breaks_a_word(csu_client, label):
    tables = document(csu_client, label).tables
    assert tables
    for table in tables:
        widths = [mm(column.width) for column in table.columns]
        assert sum(widths) <= TEXT_WIDTH_MM + 0.5
        header = [cell.text for cell in table.rows[0].cells]
        numeric_from = 2 if header[0] == "Organisation" else 1
        for number, row in enumerate(table.rows):
            for index, cell in enumerate(row.cells):
                assert round(mm(cell.width), 1) == round(widths[index], 1)
                # A figure must stay whole; a header or a name may wrap between its words.
                words = [cell.text] if index >= numeric_from and number > 0 else cell.text.split()
                for word in words:
                    assert text_width_mm(word) + CELL_PADDING_MM <= mm(cell.width) + 0.01, (label, header, word)
                if index >= numeric_from:
                    assert cell.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
        # The header row is repeated on each page.
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None


def test_names_are_wide_and_numbers_narrow(csu_client):
    tables = document(csu_client, "2020-21").tables
    outputs = next(table for table in tables if table.rows[0].cells[0].text == "Measure")
    widths = [mm(column.width) for column in outputs.columns]
    assert widths[0] == max(widths) and widths[0] > 2 * widths[1]
    funding = next(table for table in tables if table.rows[0].cells[0].text == "Organisation")
    organisation, project, amount = (mm(column.width) for column in funding.columns)
    assert amount < organisation and amount < project
    # Eight columns of figures print on one line each: "5,840.50" is not split.
    assert all("\n" not in cell.text for row in outputs.rows for cell in row.cells[1:])


def test_libreoffice_converts_the_document_to_pdf(csu_client, tmp_path):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        print("LibreOffice is not installed here: the PDF conversion check is skipped")
        pytest.skip("LibreOffice is not installed (soffice/libreoffice not on PATH)")
    source = tmp_path / "report.docx"
    source.write_bytes(csu_client.get("/csu/2021-22/annual-report.docx").data)
    result = subprocess.run(
        [office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
