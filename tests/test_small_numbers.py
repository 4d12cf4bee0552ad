"""Small numbers: published tables never print a count of 1 to the threshold people, nor a total giving one away.

The rule is services/disclosure.py's; the annual report (page and Word), the measures export for publication
hide, and the CSU's own pages and exports keep exact figures.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html.parser import HTMLParser

import docx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.config import whole_number_settings
from portal.extensions import db
from portal.models import FinancialYear, MonitoringReturn, OutputMeasure, Project
from portal.models.monitoring_return import MeasureValue
from portal.services.delivery import MeasureFigures
from portal.services.disclosure import publish
from portal.services.year_import import import_year

WORDS = "5 or fewer"
NOTE_START = "Counts of 1 to 5 people are shown as"


def row(values: list[int | None], *, people: bool = True, combine: str = "sum", target: int | None = None):
    measure = OutputMeasure(
        name="Victims",
        unit="people",
        combine=combine,
        counts_people=people,
        annual_target=Decimal(target) if target is not None else None,
    )
    quarters = [Decimal(v) if v is not None else None for v in values]
    return MeasureFigures(measure=measure, quarters=quarters, provisional=[False] * 4)


# -- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, Decimal(0)), (1, WORDS), (5, WORDS), (6, Decimal(6)), (None, None)],
)
def test_a_quarter_from_1_to_the_threshold_is_hidden_and_0_is_shown(value, shown):
    published = publish(row([value, 40, 40, 40]), 5)
    assert published.quarters[0] == shown


def test_the_threshold_is_configurable():
    assert publish(row([3, 4, 40, 40]), 3).quarters[:2] == ["3 or fewer", Decimal(4)]
    assert publish(row([3, 4, 40, 40]), 5).quarters[:2] == [WORDS, WORDS]


@pytest.mark.parametrize(
    ("values", "total_hidden"),
    [
        ([10, 10, 10, 10], False),  # nothing hidden
        ([3, 10, 10, 10], True),  # one hidden quarter: total − the others = 3
        ([0, 0, 2, 0], True),  # the total is itself small
        ([1, 1, 20, 20], True),  # two hidden, the rest 2: both 1
        ([5, 5, 20, 20], True),  # two hidden, the rest 10: both 5
        ([2, 3, 20, 20], True),  # two hidden, together 5: still a small count
        ([4, 4, 20, 20], False),  # two hidden, together 8: each 3, 4 or 5, not known
        ([None, 3, None, None], True),  # one quarter reported: the total is it
    ],
)
def test_a_total_that_would_give_a_hidden_quarter_away_is_hidden(values, total_hidden):
    published = publish(row(values, target=100), 5)
    assert (published.total == WORDS) is total_hidden
    assert (published.pct_of_target == "Not shown") is total_hidden
    if not total_hidden:
        assert published.total == sum(v for v in values if v is not None)


def test_a_latest_quarter_total_is_hidden_only_when_the_latest_quarter_is():
    assert publish(row([10, 10, 10, 3], combine="latest"), 5).total == WORDS
    assert publish(row([3, 10, 10, 10], combine="latest"), 5).total == Decimal(10)


def test_a_measure_that_does_not_count_people_is_published_as_it_is():
    published = publish(row([3, 1, 0, 2], people=False), 5)
    assert published.quarters == [3, 1, 0, 2] and published.total == 6 and not published.suppressed


def test_the_threshold_comes_from_the_environment():
    assert whole_number_settings({"SMALL_NUMBER_THRESHOLD": "3", "RETENTION_YEARS": "7"}) == {
        "SMALL_NUMBER_THRESHOLD": 3,
        "RETENTION_YEARS": 7,
    }
    with pytest.raises(RuntimeError, match="SMALL_NUMBER_THRESHOLD"):
        whole_number_settings({"SMALL_NUMBER_THRESHOLD": "0"})


# -- where it applies and where it does not ----------------------------------------------------------


class _Tables(HTMLParser):
    """Each table's rows (by table id) as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_rows(html: str, table_id: str) -> dict[str, list[str]]:
    parser = _Tables()
    parser.feed(html)
    return {cells[0]: cells[1:] for cells in parser.tables[table_id][1:]}


def csv_rows(data: bytes) -> dict[str, dict[str, str]]:
    return {line["measure"]: line for line in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}


@pytest.fixture
def small_year(make_year, make_stream, make_org, make_project, make_user, client, login):
    """One project whose Victims count people (3, 6, 0, 12 by quarter) and whose Sessions do not (3 each)."""
    login(client, make_user())
    year = make_year(2021)
    project = make_project(
        make_org("DAVSS", "Domestic Abuse Volunteer Support Services"),
        make_stream(year),
        "Support for victims",
        measures=[
            {"name": "Victims", "annual_target": 100, "counts_people": True},
            {"name": "Sessions", "unit": "sessions"},
        ],
    )
    victims, sessions = project.measures
    for quarter, count in zip((1, 2, 3, 4), (3, 6, 0, 12), strict=True):
        mreturn = MonitoringReturn(project=project, quarter=quarter, status="approved", progress="Went well.")
        db.session.add(mreturn)
        db.session.add(MeasureValue(monitoring_return=mreturn, measure=victims, value=Decimal(count)))
        db.session.add(MeasureValue(monitoring_return=mreturn, measure=sessions, value=Decimal(3)))
    db.session.commit()
    return project


def test_the_annual_report_page_hides_small_counts_of_people_and_says_why(client, small_year):
    page = client.get("/csu/2021-22/annual-report").text
    rows = html_rows(page, f"outputs-{small_year.id}")
    # Q1 3 hidden; Q2 6 and Q3 0 shown; the total 21 would give Q1 away (21 − 6 − 0 − 12 = 3): hidden too.
    assert rows["Victims"] == [WORDS, "6", "0", "12", WORDS, "100", "Not shown"]
    assert rows["Sessions"] == ["3", "3", "3", "3", "12", "", ""]
    assert NOTE_START in page and "would give away a hidden count" in page


def test_the_word_document_hides_them_the_same_way(client, small_year):
    document = docx.Document(io.BytesIO(client.get("/csu/2021-22/annual-report.docx").data))
    outputs = next(table for table in document.tables if table.rows[0].cells[0].text == "Measure")
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in outputs.rows[1:]}
    assert rows["Victims"] == [WORDS, "6", "0", "12", WORDS, "100", "Not shown"]
    assert rows["Sessions"][:5] == ["3", "3", "3", "3", "12"]
    assert any(p.text.startswith(NOTE_START) for p in document.paragraphs)


def test_the_export_for_publication_hides_them_in_csv_and_excel(client, small_year):
    rows = csv_rows(client.get("/csu/2021-22/measures-for-publication.csv").data)
    victims = rows["Victims"]
    assert [victims[f"q{q}"] for q in (1, 2, 3, 4)] == [WORDS, "6", "0", "12"]
    assert (victims["total"], victims["pct_of_target"], victims["counts_people"]) == (WORDS, "Not shown", "yes")
    assert rows["Sessions"]["q1"] == "3" and rows["Sessions"]["total"] == "12"
    response = client.get("/csu/2021-22/measures-for-publication.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [cell.value for cell in next(r for r in sheet.iter_rows() if r[3].value == "Victims")]
    assert values[6:11] == [WORDS, 6, 0, 12, WORDS]


def test_a_threshold_of_2_hides_less(app, client, small_year):
    app.config["SMALL_NUMBER_THRESHOLD"] = 2
    rows = html_rows(client.get("/csu/2021-22/annual-report").text, f"outputs-{small_year.id}")
    assert rows["Victims"][:5] == ["3", "6", "0", "12", "21"]


def test_the_csus_own_pages_and_exports_keep_exact_figures(client, small_year):
    rows = csv_rows(client.get("/csu/2021-22/measures.csv").data)
    assert [rows["Victims"][f"q{q}"] for q in (1, 2, 3, 4)] == ["3", "6", "0", "12"]
    assert rows["Victims"]["total"] == "21"
    page = client.get(f"/csu/projects/{small_year.id}").text
    assert WORDS not in page
    tables = _Tables()
    tables.feed(page)
    outputs = next(t for t in tables.tables.values() if t and t[0] and t[0][0] == "Measure")
    victims = next(cells for cells in outputs if cells[0].startswith("Victims"))
    assert victims[1:6] == ["3", "6", "0", "12", "21"]


# -- setting the flag -------------------------------------------------------------------------------


def test_the_measure_form_sets_the_flag(client, two_orgs, login):
    login(client, two_orgs["csu"])
    project = two_orgs["davss_project"]
    data = {"name": "Victims", "unit": "people", "combine": "sum", "decimals": "whole", "counts_people": "y"}
    assert client.post(f"/setup/projects/{project.id}/measures/new", data=data).status_code == 302
    measure = db.session.scalars(select(OutputMeasure).where(OutputMeasure.name == "Victims")).one()
    assert measure.counts_people
    page = client.get(f"/setup/measures/{measure.id}/edit").text
    assert 'name="counts_people"' in page and "checked" in page.split('name="counts_people"')[1].split(">")[0]
    del data["counts_people"]
    assert client.post(f"/setup/measures/{measure.id}/edit", data=data).status_code == 302
    db.session.refresh(measure)
    assert not measure.counts_people


def test_the_demo_year_file_and_the_workbook_carry_the_flag_and_roll_over_keeps_it(
    client, two_orgs, login, project_root
):
    import_year((project_root / "portal/demo/2021-22.yaml").read_text())
    db.session.commit()
    flags = dict(db.session.execute(select(OutputMeasure.name, OutputMeasure.counts_people)).all())
    assert flags["Male referrals"] is True and flags["Helpline calls"] is False
    login(client, two_orgs["csu"])
    book = load_workbook(io.BytesIO(client.get("/setup/2021-22/workbook.xlsx").data))
    header = [cell.value for cell in book["Measures"][1]]
    column = header.index("Counts people")
    cells = {r[2]: r[column] for r in book["Measures"].iter_rows(min_row=2, values_only=True)}
    assert cells["Male referrals"] == "yes" and cells["Helpline calls"] == "no"
    assert client.post("/setup/2021-22/roll-over", data={}).status_code == 302
    rolled = db.session.scalars(
        select(OutputMeasure)
        .join(Project)
        .join(FinancialYear)
        .where(FinancialYear.start_year == 2022, OutputMeasure.name == "Male referrals")
    ).one()
    assert rolled.counts_people
