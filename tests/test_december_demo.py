"""The demo as a new user sees it on 2 December 2026 (issue 9): Q1 and Q2 of 2026-27 are due, Q3 is open.

CDAP reported 3 of its 12 men in Q1 and nothing for Q2 (50.0% of the 6 due by now, not 100.0%); Kenward
reported Q1 only; PAS has spent £250 of the £500 planned by now. The overview, the project page and the
exports must all say so."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from freezegun import freeze_time
from sqlalchemy import select

from portal.extensions import db
from portal.models import FinancialYear, MeasureValue, MonitoringReturn, Organisation, Project, User
from portal.models.vocabulary import GREEN, RED
from portal.services import demo
from portal.services.delivery import ProjectDelivery, year_delivery

DECEMBER = "2026-12-02 12:00:00"
YEAR = "2026-27"
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
CDAP = "Kent Community Domestic Abuse Perpetrators Programme"
KENWARD = "Kenward Trust"
PAS = "Protection Against Stalking"
DAVSS = "Domestic Abuse Volunteer Support Services"


@pytest.fixture
def december(app):
    """The demo loaded and read on 2 December 2026; the clock stays there for the whole test."""
    with freeze_time(DECEMBER):
        demo.load("december-demo-password")
        db.session.commit()
        yield


@pytest.fixture
def csu(december, client, login):
    login(client, db.session.scalar(select(User).where(User.email == "csu@demo.test")))
    return client


def deliveries() -> dict[str, ProjectDelivery]:
    year = db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == 2026))
    return {d.project.organisation.short_name: d for d in year_delivery(year)}


def project_of(short_name: str) -> Project:
    return db.session.scalar(
        select(Project)
        .join(Organisation)
        .where(Organisation.short_name == short_name, Project.year.has(start_year=2026))
    )


def csv_table(response) -> tuple[list[dict[str, str]], list[str]]:
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]], rows[0]


def xlsx_table(response) -> tuple[list[dict], list]:
    assert response.status_code == 200
    rows = [list(row) for row in openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]], rows[0]


def submit(short_name: str, quarter: int, values: dict[str, int], spend_pence: int | None = None) -> None:
    """A submitted (not yet approved) return, as if the partner had just sent it."""
    project = project_of(short_name)
    measures = {measure.name: measure for measure in project.measures}
    mreturn = MonitoringReturn(project=project, quarter=quarter, status="submitted", spend_pence=spend_pence)
    mreturn.values = [MeasureValue(measure=measures[name], value=Decimal(value)) for name, value in values.items()]
    db.session.add(mreturn)
    db.session.commit()


# -- the figures --------------------------------------------------------------------------------------


def test_cdap_and_kenward_are_no_longer_green(december):
    found = deliveries()
    cdap, kenward, davss = found["CDAP"], found["Kenward"], found["DAVSS"]
    assert cdap.missing_quarters == kenward.missing_quarters == [2]
    assert cdap.delivery_pct == Decimal("50.0")  # 3 men of 12 ÷ 4 × 2 due quarters
    assert cdap.delivery_rag == RED
    assert kenward.delivery_pct == Decimal("50.8")  # (241/500 + 7/12.5 + 96.5/200) ÷ 3
    assert kenward.delivery_rag == RED
    assert davss.missing_quarters == [] and davss.delivery_rag == GREEN  # DAVSS reported both quarters


def test_pas_spend_rag_is_red(december):
    pas = deliveries()["PAS"]
    assert (pas.reported_spend_pence, pas.profile_to_date_pence) == (25_000, 50_000)
    assert pas.spend_pct_of_profile == Decimal("50.0") and pas.spend_rag == RED
    davss = deliveries()["DAVSS"]
    assert davss.spend_pct_of_profile == Decimal("99.0") and davss.spend_rag == GREEN  # £4,950 of £5,000


def test_pas_spending_150_percent_of_its_award_is_red(december):
    submit("PAS", 2, {"Training sessions delivered": 1, "Professionals trained": 15}, spend_pence=125_000)
    pas = deliveries()["PAS"]
    assert pas.spend_pct_of_award == Decimal("150.0")
    assert pas.spend_rag == RED


def test_the_overview_tells_the_csu_who_is_behind_and_what_is_unallocated(csu):
    page = csu.get(f"/csu/{YEAR}/").text
    rows = {
        row.split('href="/csu/projects/')[1].split("</a>")[0].split(">")[1]: row
        for row in page.split("<tbody")[1].split("</tbody>")[0].split("<tr")[1:]
    }
    cdap = rows["Support males through the CDAP programme"]
    assert "50.0%" in cdap and "Overdue" in cdap
    rag_cells = re.findall(r'govuk-tag (govuk-tag--\w+)">(Green|Amber|Red)<', cdap)
    assert rag_cells[0] == ("govuk-tag--red", "Red")  # the delivery RAG, first of the ratings
    pas = rows["Training sessions on Cyber crime and stalking"]
    assert "50.0% of profile to date" in pas
    assert re.findall(r">(Green|Amber|Red)<", pas)[1] == "Red"  # the spend RAG, beside the delivery RAG
    figures = dict(re.findall(r'data-figure="([\w-]+)">([^<]+)<', page))
    assert figures["stream-total"] == "£34,218.00"
    assert figures["stream-awarded"] == "£22,812.00"
    assert figures["stream-unallocated"] == "£11,406.00"
    assert "PCC Crime Reduction Grant: not allocated" in page
    # The spend RAG filters and sorts like the others.
    red_spend = csu.get(f"/csu/{YEAR}/?spend_rag=red").text
    assert "Training sessions on Cyber crime" in red_spend and "Support for Medium" not in red_spend
    by_spend_rag = csu.get(f"/csu/{YEAR}/?sort=spend_rag").text
    assert 'aria-sort="ascending"' in by_spend_rag.split("Spend RAG</a>")[0].rsplit("<th", 1)[1]


def test_the_project_page_names_the_missing_quarter(csu):
    page = csu.get(f"/csu/projects/{project_of('CDAP').id}").text
    assert "Q2 return missing: counted as nothing delivered" in page
    assert 'data-figure="delivery">50.0%' in page


def test_the_partner_home_shows_the_missing_quarter(december, client, login):
    login(client, db.session.scalar(select(User).where(User.email == "kenward@demo.test")))
    page = client.get("/partner/").text
    assert "Q2 return missing: counted as nothing delivered" in page
    assert "50.8%" in page


# -- the exports --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_projects_export_has_the_columns_and_says_overdue(csu, fmt):
    response = csu.get(f"/csu/{YEAR}/projects.{fmt}")
    rows, header = csv_table(response) if fmt == "csv" else xlsx_table(response)
    assert header == PROJECT_COLUMNS
    by_org = {row["organisation"]: row for row in rows}
    assert list(by_org) == [DAVSS, CDAP, KENWARD, PAS, "Sevenoaks Community Safety Unit"]
    cdap = by_org[CDAP]
    statuses = [cdap[f"q{q}_status"] for q in (1, 2, 3, 4)]
    assert statuses == ["Approved", "Overdue", "Not started", "Not open"]
    assert by_org[KENWARD]["q2_status"] == "Overdue"
    assert [cdap["delivery_rag"], by_org[KENWARD]["delivery_rag"], by_org[PAS]["spend_rag"]] == ["Red"] * 3
    pas = by_org[PAS]
    if fmt == "csv":
        assert [pas["spend_pct_of_award"], pas["spend_pct_of_profile"]] == ["25.0", "50.0"]
        assert cdap["delivery_pct_of_target"] == "50.0"
    else:
        assert [pas["spend_pct_of_award"], pas["spend_pct_of_profile"]] == [25, 50]
        assert cdap["delivery_pct_of_target"] == 50


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_measures_export_lists_provisional_quarters(csu, fmt):
    davss = project_of("DAVSS")
    db.session.scalar(
        select(MonitoringReturn).where(MonitoringReturn.project_id == davss.id, MonitoringReturn.quarter == 2)
    ).status = "submitted"
    db.session.commit()
    submit("DAVSS", 3, {"Referrals": 230, "Helpline calls": 1200})
    submit("PAS", 2, {"Training sessions delivered": 1})
    response = csu.get(f"/csu/{YEAR}/measures.{fmt}")
    rows, header = csv_table(response) if fmt == "csv" else xlsx_table(response)
    assert header == MEASURE_COLUMNS
    found = {(row["organisation"], row["measure"]): row["provisional_quarters"] for row in rows}
    empty = "" if fmt == "csv" else None
    assert found[(DAVSS, "Referrals")] == "Q2 Q3"
    assert found[(DAVSS, "Male referrals")] == "Q2"  # no Q3 figure for it
    assert found[(PAS, "Training sessions delivered")] == "Q2"
    assert found[(PAS, "Professionals trained")] == empty
    assert found[(KENWARD, "Young people worked with")] == empty


def test_a_waived_quarter_is_not_required_in_the_export_and_not_missing(csu):
    response = csu.post(
        f"/csu/projects/{project_of('CDAP').id}/due-dates",
        data={
            "arrangement-quarter": "2",
            "arrangement-arrangement": "not_required",
            "arrangement-reason": "Programme paused over the summer",
        },
    )
    assert response.status_code == 302
    rows, _ = csv_table(csu.get(f"/csu/{YEAR}/projects.csv"))
    cdap = next(row for row in rows if row["organisation"] == CDAP)
    assert cdap["q2_status"] == "Not required"
    assert cdap["delivery_pct_of_target"] == "100.0" and cdap["delivery_rag"] == "Green"  # 3 men of 12 ÷ 4


# -- past years closed at load, so the due list holds this year's real chases (issue 11) -------------------


def test_the_demo_closes_its_past_years_and_the_due_list_shows_this_years_chases(csu):
    years = {year.label: year.is_closed for year in db.session.scalars(select(FinancialYear))}
    assert years == {"2019-20": True, "2020-21": True, "2021-22": True, YEAR: False}
    page = csu.get("/csu/due")
    assert page.status_code == 200
    quarters = re.findall(r'<td class="govuk-table__cell portal-nowrap">([^<]+)</td>', page.text)
    assert quarters and all(quarter.startswith(YEAR) for quarter in quarters)
    assert f"{YEAR} Q2" in quarters  # Kenward's and CDAP's missing Q2
    assert "Preview the chase" in page.text


def test_loading_the_demo_again_leaves_the_closed_years_alone(december):
    before = {year.label: year.closed_at for year in db.session.scalars(select(FinancialYear))}
    demo.load("december-demo-password")
    db.session.commit()
    assert {year.label: year.closed_at for year in db.session.scalars(select(FinancialYear))} == before
