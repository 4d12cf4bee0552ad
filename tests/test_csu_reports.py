"""The annual-report tables (page and .docx) and the CSU's CSV and Excel exports."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import docx
import openpyxl
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import CsuRating, MonitoringReturn, OutputMeasure, Payment, Project, User
from portal.models.monitoring_return import MeasureValue
from portal.services import demo
from portal.services.exports import amount, neutralise, number, pounds

PROJECT_COLUMNS = [
    "financial_year",
    "organisation",
    "project",
    "priority",
    "funding_stream",
    "award",
    "paid",
    "reported_spend",
    "spend_pct_of_award",
    "spend_pct_of_profile",
    "spend_rag",
    "delivery_pct_of_target",
    "delivery_rag",
    "partner_rag",
    "csu_rag",
    "q1_status",
    "q2_status",
    "q3_status",
    "q4_status",
]
MEASURE_COLUMNS = [
    "financial_year",
    "organisation",
    "project",
    "measure",
    "unit",
    "combine",
    "q1",
    "q2",
    "q3",
    "q4",
    "total",
    "annual_target",
    "pct_of_target",
    "provisional_quarters",
]
DAVSS = "Domestic Abuse Volunteer Support Services"
DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
PAS = "Protection Against Stalking"
PAS_PROJECT = "Stalking advocacy support service"
STREAM = "PCC Crime Reduction Grant"
# DESIGN.md's table for 2021-22, in the order the annual report prints it (organisations by full name).
PCC_FUNDING_2021_22 = [
    [DAVSS, DAVSS_PROJECT, "£10,000.00"],
    ["Kenward Trust", "Youth Diversionary & Targeted Youth Project against substance misuse", "£10,000.00"],
    ["Kent Community Domestic Abuse Perpetrators Programme", "Support males through the CDAP programme", "£1,500.00"],
    ["Sevenoaks Community Safety Unit", "CSU Crime Reduction initiatives", "£312.00"],
    [PAS, "Training sessions on Cyber crime and stalking", "£1,000.00"],
]
PCC_FUNDING_FOOTER = [["Total awarded", "£22,812.00"], ["Not allocated", "£11,406.00"]]
HYPERLINK = '=HYPERLINK("x")'
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REPORT_PATHS = [
    "/csu/{year}/projects.csv",
    "/csu/{year}/projects.xlsx",
    "/csu/{year}/measures.csv",
    "/csu/{year}/measures.xlsx",
    "/csu/{year}/annual-report",
    "/csu/{year}/annual-report.docx",
]


@pytest.fixture
def loaded(app):
    demo.load("some-password-123")
    db.session.commit()


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def csu_client(loaded, client, login):
    login(client, user("csu@demo.test"))
    return client


# -- reading what came back -----------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every <table> on a page: its attributes and its rows of cell text, by section."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._section = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"attrs": dict(attrs), "thead": [], "tbody": [], "tfoot": []})
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][self._section].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str, kind: str) -> list[dict]:
    parser = _Tables()
    parser.feed(html)
    return [table for table in parser.tables if table["attrs"].get("data-table") == kind]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CSV_TYPE
    assert response.data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def xlsx_sheet(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX_TYPE
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def xlsx_rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def by_project_and_measure(rows: list[list]) -> dict[tuple[str, str], list]:
    return {(row[2], row[3]): row[6:] for row in rows[1:]}


# -- the annual report ----------------------------------------------------------------------------


def test_pcc_funding_table_2021_22_on_the_page(csu_client):
    page = csu_client.get("/csu/2021-22/annual-report")

    assert page.status_code == 200
    (table,) = html_tables(page.text, "funding")
    assert table["thead"] == [["Organisation", "Project Name", "Amount"]]
    assert table["tbody"] == PCC_FUNDING_2021_22
    assert table["tfoot"] == PCC_FUNDING_FOOTER
    assert "funded Sevenoaks District Community Safety Partnership £34,218.00 in 2021-22" in page.text
    assert "£11,406.00 of the £34,218.00 has not been allocated." in page.text
    assert 'href="/csu/2021-22/annual-report.docx"' in page.text
    # No return is in for 2021-22, so no project prints a table of blanks (tests/test_annual_report.py).
    assert html_tables(page.text, "outputs") == []


def test_pcc_funding_table_2021_22_in_the_docx(csu_client):
    response = csu_client.get("/csu/2021-22/annual-report.docx")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == DOCX_TYPE
    assert response.headers["Content-Disposition"] == "attachment; filename=annual-report-2021-22.docx"
    assert response.headers["Cache-Control"] == "no-store"
    document = docx.Document(io.BytesIO(response.data))
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    funding = [rows for rows in tables if rows[0] == ["Organisation", "Project Name", "Amount"]]
    assert len(funding) == 1
    assert funding[0][1:] == [*PCC_FUNDING_2021_22, *([label, "", value] for label, value in PCC_FUNDING_FOOTER)]
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "funded Sevenoaks District Community Safety Partnership £34,218.00 in 2021-22." in text
    assert "£11,406.00 of the £34,218.00 has not been allocated." in text
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert STREAM in headings
    assert f"{DAVSS}: {DAVSS_PROJECT}" in headings
    # No return is in for 2021-22, so no project prints a table of blanks (tests/test_annual_report.py).
    assert [rows for rows in tables if rows[0][0] == "Measure"] == []


def test_seed_quarterly_tables_in_the_annual_report_2020_21(csu_client):
    page = csu_client.get("/csu/2020-21/annual-report")
    document = docx.Document(io.BytesIO(csu_client.get("/csu/2020-21/annual-report.docx").data))

    on_page = {row[0]: row[1:] for table in html_tables(page.text, "outputs") for row in table["tbody"]}
    in_docx = {row.cells[0].text: [cell.text for cell in row.cells[1:]] for t in document.tables for row in t.rows}
    # One outputs table per project, with the measures as rows.
    header = ["Measure", "Q1", "Q2", "Q3", "Q4", "Total", "Annual target", "% of target"]
    assert [table["thead"] for table in html_tables(page.text, "outputs")] == [[header]] * 2
    assert [[c.text for c in t.rows[0].cells] for t in document.tables if t.rows[0].cells[0].text == "Measure"] == [
        header
    ] * 2
    for found in (on_page, in_docx):
        assert found["Referrals"] == ["203", "274", "", "", "477", "", ""]
        assert found["High risk"] == ["6", "32", "53", "43", "134", "", ""]
        assert found["Volunteer case work hours"] == ["5,524", "6,257", "", "", "11,781", "", ""]


def test_an_over_allocated_stream_says_so(
    app, make_year, make_stream, make_org, make_project, make_user, client, login
):
    year = make_year(2022)
    stream = make_stream(year, amount_pence=1_000_00)
    make_project(make_org("ORG"), stream, "Big project", amount_pence=1_500_00)
    login(client, make_user())

    page = client.get("/csu/2022-23/annual-report").text
    document = docx.Document(io.BytesIO(client.get("/csu/2022-23/annual-report.docx").data))

    (table,) = html_tables(page, "funding")
    assert table["tfoot"] == [["Total awarded", "£1,500.00"], ["Over-allocated", "£500.00"]]
    assert "The awards exceed the £1,000.00 received by £500.00." in page
    assert "Not allocated" not in page
    assert "The awards exceed the £1,000.00 received by £500.00." in [p.text for p in document.paragraphs]


@pytest.fixture
def narrated(make_year, make_stream, make_org, make_project):
    """A project with an approved Q1, a submitted Q2 and a draft Q3, each with progress text."""
    year = make_year(2022)
    project = make_project(
        make_org("ORG", "Narrating Trust"),
        make_stream(year),
        "Narrated project",
        measures=[{"name": "Sessions", "unit": "sessions", "annual_target": 40}],
    )
    (measure,) = project.measures
    for quarter, status, value in ((1, "approved", 9), (2, "submitted", 12), (3, "draft", 99)):
        mreturn = MonitoringReturn(
            project=project, quarter=quarter, status=status, progress=f"Progress text of the {status} Q{quarter}."
        )
        db.session.add_all([mreturn, MeasureValue(monitoring_return=mreturn, measure=measure, value=Decimal(value))])
    db.session.commit()
    return project


def test_only_approved_progress_is_published(narrated, make_user, client, login):
    login(client, make_user())

    page = client.get("/csu/2022-23/annual-report").text
    document = docx.Document(io.BytesIO(client.get("/csu/2022-23/annual-report.docx").data))

    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "Q1: Progress text of the approved Q1." in text
    assert "Progress text of the approved Q1." in page
    for hidden in ("submitted Q2", "draft Q3"):
        assert hidden not in page
        assert hidden not in text
    # The submitted quarter's figure counts, marked provisional; the draft's does not.
    (outputs,) = html_tables(page, "outputs")
    assert outputs["tbody"] == [["Sessions", "9", "12*", "", "", "21", "40", "52.5%"]]
    assert "Figures marked * are provisional" in page
    (docx_outputs,) = [t for t in document.tables if t.rows[0].cells[0].text == "Measure"]
    assert [cell.text for cell in docx_outputs.rows[1].cells] == ["Sessions", "9", "12*", "", "", "21", "40", "52.5%"]


# -- the exports ------------------------------------------------------------------------------------


def test_projects_csv_2020_21(csu_client):
    response = csu_client.get("/csu/2020-21/projects.csv")

    assert response.headers["Content-Disposition"] == "attachment; filename=projects-2020-21.csv"
    assert response.headers["Cache-Control"] == "no-store"
    davss = ["2020-21", DAVSS, DAVSS_PROJECT, "Domestic Abuse", STREAM]
    pas = ["2020-21", PAS, PAS_PROJECT, "Domestic Abuse", STREAM]
    no_targets_no_ratings = ["", "", "", ""]
    # No spend is in the seeds: 0.0% of a profile that, every quarter being due, is the whole award.
    no_spend = ["0.00", "0.0", "0.0", "Red"]
    assert csv_rows(response) == [
        PROJECT_COLUMNS,
        [
            *davss,
            "10000.00",
            "0.00",
            *no_spend,
            *no_targets_no_ratings,
            "Approved",
            "Approved",
            *["Overdue"] * 2,  # DAVSS's Q3 and Q4 of 2020-21 were due long ago and never reported
        ],
        [*pas, "1000.00", "0.00", *no_spend, *no_targets_no_ratings, *["Approved"] * 4],
    ]
    assert response.data.endswith(b"\r\n")


def test_projects_xlsx_2020_21(csu_client):
    response = csu_client.get("/csu/2020-21/projects.xlsx")

    assert response.headers["Content-Disposition"] == "attachment; filename=projects-2020-21.xlsx"
    assert response.headers["Cache-Control"] == "no-store"
    sheet = xlsx_sheet(response)
    rows = xlsx_rows(sheet)
    assert rows[0] == PROJECT_COLUMNS
    davss = ["2020-21", DAVSS, DAVSS_PROJECT, "Domestic Abuse", STREAM]
    pas = ["2020-21", PAS, PAS_PROJECT, "Domestic Abuse", STREAM]
    no_targets_no_ratings = [None, None, None, None]
    assert rows[1:] == [
        [*davss, 10000, 0, 0, 0, 0, "Red", *no_targets_no_ratings, "Approved", "Approved", "Overdue", "Overdue"],
        [*pas, 1000, 0, 0, 0, 0, "Red", *no_targets_no_ratings, *["Approved"] * 4],
    ]
    award, paid, spend, spend_pct = sheet["F2"], sheet["G2"], sheet["H2"], sheet["I2"]
    of_profile = sheet["J2"]
    assert [cell.data_type for cell in (award, paid, spend, spend_pct, of_profile)] == ["n"] * 5
    assert [cell.number_format for cell in (award, paid, spend)] == ["0.00"] * 3
    assert spend_pct.number_format == of_profile.number_format == "0.0"


def test_projects_exports_2021_22_have_the_five_awards(csu_client):
    from_csv = csv_rows(csu_client.get("/csu/2021-22/projects.csv"))
    from_xlsx = xlsx_rows(xlsx_sheet(csu_client.get("/csu/2021-22/projects.xlsx")))

    expected = {
        DAVSS: "10000.00",
        "Kent Community Domestic Abuse Perpetrators Programme": "1500.00",
        "Kenward Trust": "10000.00",
        PAS: "1000.00",
        "Sevenoaks Community Safety Unit": "312.00",
    }
    assert from_csv[0] == from_xlsx[0] == PROJECT_COLUMNS
    # Ordered by organisation name, then project name.
    assert [(row[1], row[5]) for row in from_csv[1:]] == list(expected.items())
    assert [(row[1], row[5]) for row in from_xlsx[1:]] == [(name, float(award)) for name, award in expected.items()]
    assert {row[0] for row in from_csv[1:]} == {"2021-22"}
    assert all(row[15:] == ["Overdue"] * 4 for row in from_csv[1:])  # no 2021-22 return is in the seeds


def test_measures_csv_2020_21(csu_client):
    response = csu_client.get("/csu/2020-21/measures.csv")

    assert response.headers["Content-Disposition"] == "attachment; filename=measures-2020-21.csv"
    rows = csv_rows(response)
    assert rows[0] == MEASURE_COLUMNS
    assert rows[1][:6] == ["2020-21", DAVSS, DAVSS_PROJECT, "Referrals", "people", "sum"]
    found = by_project_and_measure(rows)
    assert found[(DAVSS_PROJECT, "Referrals")] == ["203", "274", "", "", "477", "", "", ""]
    assert found[(DAVSS_PROJECT, "Volunteer case work hours")] == ["5524", "6257", "", "", "11781", "", "", ""]
    assert found[(PAS_PROJECT, "High risk")] == ["6", "32", "53", "43", "134", "", "", ""]
    assert len(rows) == 1 + 6 + 6


def test_measures_xlsx_2020_21(csu_client):
    sheet = xlsx_sheet(csu_client.get("/csu/2020-21/measures.xlsx"))

    rows = xlsx_rows(sheet)
    assert rows[0] == MEASURE_COLUMNS
    found = by_project_and_measure(rows)
    assert found[(DAVSS_PROJECT, "Referrals")] == [203, 274, None, None, 477, None, None, None]
    assert found[(PAS_PROJECT, "High risk")] == [6, 32, 53, 43, 134, None, None, None]
    assert sheet["G2"].data_type == "n"
    assert sheet["I2"].value is None  # an unreported quarter is an empty cell, not an empty string


# -- formula injection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 1732", "'+44 1732"),
        ("-5 cases", "'-5 cases"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Plain text = fine", "Plain text = fine"),
        ("", ""),
        (None, ""),
        (12, 12),
        (-12, -12),
        (Decimal("-1.50"), Decimal("-1.50")),
    ],
)
def test_neutralise(value, written):
    assert neutralise(value) == written
    assert type(neutralise(value)) is type(written)


def test_money_and_quantities_are_written_plainly():
    assert pounds(123456789) == "1234567.89"
    assert pounds(5) == "0.05"
    assert pounds(0) == "0.00"
    assert pounds(None) == ""
    assert str(amount(1_000_000)) == "10000.00"
    assert number(Decimal("234.00")) == 234
    assert isinstance(number(Decimal("234.00")), int)
    assert str(number(Decimal("5840.50"))) == "5840.5"
    assert str(number(Decimal("1000.00"))) == "1000"
    assert number(None) is None


@pytest.fixture
def hostile(make_year, make_stream, make_org, make_project, make_user):
    """A project whose name is a formula, in a small year with one approved quarter."""
    year = make_year(2022)
    stream = make_stream(year)
    project = make_project(
        make_org("ORG", "@Org Ltd"),
        stream,
        HYPERLINK,
        amount_pence=1_000_000,
        measures=[{"name": "-5 cases", "unit": "hours", "annual_target": 10000}],
    )
    (measure,) = project.measures
    mreturn = MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=123_456, partner_rag="green")
    csu = make_user()
    db.session.add_all(
        [
            mreturn,
            MeasureValue(monitoring_return=mreturn, measure=measure, value=Decimal("5840.50")),
            Payment(project=project, amount_pence=250_000, paid_on=date(2022, 4, 20), reference="BACS 1"),
            CsuRating(project=project, quarter=1, rag="amber", reason="Spend is behind", set_by=csu),
        ]
    )
    db.session.commit()
    return {"project": project, "csu": csu}


def test_formula_names_are_neutralised_in_csv(hostile, client, login):
    login(client, hostile["csu"])

    projects = csv_rows(client.get("/csu/2022-23/projects.csv"))
    measures = csv_rows(client.get("/csu/2022-23/measures.csv"))

    named = ["2022-23", "'@Org Ltd", "'" + HYPERLINK]
    # 2022-23 is long past: Q2-Q4 are due and missing, so the profile and the target to date are the year's.
    amounts = ["10000.00", "2500.00", "1234.56", "12.3", "12.3", "Red", "58.4"]
    statuses = ["Approved", "Overdue", "Overdue", "Overdue"]
    assert projects[1] == [*named, "", STREAM, *amounts, "Red", "Green", "Amber", *statuses]
    assert measures[1] == [*named, "'-5 cases", "hours", "sum", "5840.5", "", "", "", "5840.5", "10000", "58.4", ""]


def test_formula_names_are_neutralised_in_xlsx_and_numbers_stay_numbers(hostile, client, login):
    login(client, hostile["csu"])

    projects = xlsx_sheet(client.get("/csu/2022-23/projects.xlsx"))
    measures = xlsx_sheet(client.get("/csu/2022-23/measures.xlsx"))

    name = projects["C2"]
    assert name.value == '\'=HYPERLINK("x")'
    assert name.data_type == "s"
    assert projects["B2"].value == "'@Org Ltd"
    assert [projects[ref].value for ref in ("F2", "G2", "H2", "I2", "J2", "L2")] == [
        10000,
        2500,
        1234.56,
        12.3,
        12.3,
        58.4,
    ]
    assert all(projects[ref].data_type == "n" for ref in ("F2", "G2", "H2", "I2", "J2", "L2"))
    assert projects["H2"].number_format == "0.00"
    assert measures["D2"].value == "'-5 cases"
    assert [measures[ref].value for ref in ("G2", "K2", "L2", "M2")] == [5840.5, 5840.5, 10000, 58.4]
    assert all(measures[ref].data_type == "n" for ref in ("G2", "K2", "L2", "M2"))
    # No cell of either sheet is a formula.
    for sheet in (projects, measures):
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_formula_names_are_plain_text_on_the_report(hostile, client, login):
    login(client, hostile["csu"])

    page = client.get("/csu/2022-23/annual-report").text
    document = docx.Document(io.BytesIO(client.get("/csu/2022-23/annual-report.docx").data))

    (table,) = html_tables(page, "funding")
    assert table["tbody"] == [["@Org Ltd", HYPERLINK, "£10,000.00"]]
    assert [cell.text for cell in document.tables[0].rows[1].cells] == ["@Org Ltd", HYPERLINK, "£10,000.00"]


def test_control_characters_do_not_break_the_office_files(
    make_year, make_stream, make_org, make_project, make_user, client, login
):
    """Text pasted from elsewhere can carry characters XML cannot hold; the downloads leave them out."""
    project = make_project(make_org("ORG"), make_stream(make_year(2022)), "Bell\x07 project")
    db.session.add(MonitoringReturn(project=project, quarter=1, status="approved", progress="Pasted\x0b from Word."))
    login(client, make_user())

    sheet = xlsx_sheet(client.get("/csu/2022-23/projects.xlsx"))
    response = client.get("/csu/2022-23/annual-report.docx")

    assert sheet["C2"].value == "Bell project"
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.data))
    assert "Q1: Pasted from Word." in [paragraph.text for paragraph in document.paragraphs]


# -- who may, and what is not there -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "status"), [("davss@demo.test", 404), ("finance@demo.test", 200), ("csu@demo.test", 200)]
)
def test_reports_are_for_staff_only(loaded, app, login, email, status):
    for path in REPORT_PATHS:
        client = app.test_client()
        login(client, user(email))
        response = client.get(path.format(year="2021-22"))
        assert response.status_code == status, f"{path} as {email}"
        if status == 404:
            assert "Domestic Abuse" not in response.text


def test_signed_out_visitors_are_sent_to_sign_in(loaded, client):
    for path in REPORT_PATHS:
        response = client.get(path.format(year="2021-22"))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize(
    "path",
    [
        "/csu/2021-22/projects.pdf",
        "/csu/2021-22/projects.xls",
        "/csu/2021-22/projects.CSV",
        "/csu/2021-22/measures.json",
        "/csu/2021-22/measures.",
        "/csu/2021-22/annual-report.pdf",
        *(path.format(year="2099-00") for path in REPORT_PATHS),
        *(path.format(year="not-a-year") for path in REPORT_PATHS),
    ],
)
def test_unknown_format_or_year_is_404(csu_client, path):
    assert csu_client.get(path).status_code == 404


# -- the number of queries ---------------------------------------------------------------------------


def add_projects(stream, organisations, start: int, count: int) -> None:
    """Projects with two measures each and an approved Q1 return with both values."""
    for number_ in range(start, start + count):
        project = Project(
            organisation=organisations[number_ % len(organisations)],
            year=stream.year,
            funding_stream=stream,
            name=f"Project {number_:03d}",
            amount_pence=100_000 + number_,
            actions=[],
        )
        measures = [
            OutputMeasure(project=project, position=0, name="Referrals", unit="people", annual_target=Decimal(40)),
            OutputMeasure(project=project, position=1, name="Volunteer hours", unit="hours"),
        ]
        mreturn = MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=2_500, progress="Done.")
        values = [
            MeasureValue(monitoring_return=mreturn, measure=measures[0], value=Decimal(9)),
            MeasureValue(monitoring_return=mreturn, measure=measures[1], value=Decimal("12.5")),
        ]
        db.session.add_all([project, *measures, mreturn, *values])
    db.session.commit()


def test_query_counts_do_not_grow_with_the_number_of_projects(
    make_year, make_stream, make_org, make_user, client, login, count_queries
):
    stream = make_stream(make_year(2022))
    organisations = [make_org(f"ORG{n}", f"Organisation {n}") for n in range(5)]
    login(client, make_user())
    paths = [path.format(year="2022-23") for path in REPORT_PATHS]

    def counts() -> dict[str, int]:
        found = {}
        for path in paths:
            with count_queries() as counter:
                assert client.get(path).status_code == 200
            found[path] = counter.count
        return found

    add_projects(stream, organisations, 0, 5)
    with_five = counts()
    add_projects(stream, organisations, 5, 195)
    with_two_hundred = counts()

    assert with_two_hundred == with_five
    assert len(csv_rows(client.get("/csu/2022-23/projects.csv"))) == 1 + 200
    assert len(csv_rows(client.get("/csu/2022-23/measures.csv"))) == 1 + 400
