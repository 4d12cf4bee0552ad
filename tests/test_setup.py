"""A year's set-up in the portal: the forms, what partners then see, retiring, roll-over, closed years and the
workbook. Every test reads what a person would notice: the page, the status, the rows in the database."""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AwardVariation,
    CsuRating,
    FinancialYear,
    FundingStream,
    MeasureValue,
    MonitoringReturn,
    OutputMeasure,
    Payment,
    PaymentInstalment,
    Priority,
    Project,
    ReturnRevision,
)
from portal.models.types import utcnow
from portal.services import returns as returns_service
from portal.services.year_import import import_year
from tests.test_migrations import empty_database_url  # noqa: F401 - the fixture

SAVE = {"save_continue": "Save and continue"}


def text(response) -> str:
    return html.unescape(response.text)


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def approved_return(project: Project, quarter: int, values: dict[OutputMeasure, str], spend_pence: int = 1000):
    mreturn = MonitoringReturn(
        project=project,
        quarter=quarter,
        status="approved",
        spend_pence=spend_pence,
        values=[MeasureValue(measure=measure, value=Decimal(value)) for measure, value in values.items()],
    )
    db.session.add(mreturn)
    db.session.flush()
    db.session.add(ReturnRevision.snapshot(mreturn, number=1, at=utcnow(), by_id=None, submission_key=None))
    db.session.commit()
    return mreturn


@pytest.fixture
def csu_client(client, two_orgs, login):
    login(client, two_orgs["csu"])
    return client


# -- set up through the forms, then seen by the partner -------------------------------------------


def _set_up_a_year(client, organisation) -> Project:
    """The CSU's journey through the forms: year, stream, priority, project, two measures."""
    response = client.post("/setup/years/new", data={"label": "2023-24", "return_due_days": "21"})
    assert response.status_code == 302 and response.headers["Location"] == "/setup/2023-24/"
    response = client.post(
        "/setup/2023-24/streams/new",
        data={"name": "PCC Grant", "funder": "Kent Police and Crime Commissioner", "amount": "20,000.00"},
    )
    assert response.status_code == 302
    assert client.post("/setup/2023-24/priorities/new", data={"name": "Domestic Abuse"}).status_code == 302
    year = db.session.scalars(select(FinancialYear).where(FinancialYear.start_year == 2023)).one()
    stream, priority = year.funding_streams[0], year.priorities[0]
    page = text(client.get("/setup/2023-24/projects/new"))
    assert "£20,000.00 unallocated" in page
    response = client.post(
        "/setup/2023-24/projects/new",
        data={
            "organisation": str(organisation.id),
            "name": "Helpline for victims",
            "funding_stream": str(stream.id),
            "amount": "12000",
            "priority": str(priority.id),
            "actions": "3.2, 3.5",
            "description": "A helpline.",
        },
    )
    assert response.status_code == 302
    project = db.session.scalars(select(Project).where(Project.year_id == year.id)).one()
    for measure in (
        {"name": "Calls answered", "unit": "calls", "combine": "sum", "decimals": "whole", "annual_target": "400"},
        {"name": "Volunteer hours", "unit": "hours", "combine": "sum", "decimals": "decimal"},
    ):
        assert client.post(f"/setup/projects/{project.id}/measures/new", data=measure).status_code == 302
    return project


def test_a_year_set_up_through_the_forms_is_seen_by_the_partner(client, two_orgs, login):
    login(client, two_orgs["csu"])
    project = _set_up_a_year(client, two_orgs["davss"])
    assert project.amount_pence == 1_200_000
    assert project.actions == ["3.2", "3.5"]
    assert project.year.return_due_days == 21
    assert [(m.name, m.decimals, m.annual_target) for m in project.measures] == [
        ("Calls answered", False, Decimal("400")),
        ("Volunteer hours", True, None),
    ]
    assert "£8,000.00" in text(client.get("/setup/2023-24/"))  # unallocated

    login(client, two_orgs["partner_a"])
    home = text(client.get("/partner/2023-24/"))
    assert "Helpline for victims" in home
    assert "21 July 2023" in home  # Q1 due 21 days after 30 June
    outputs = client.get(f"/partner/projects/{project.id}/q1/outputs")
    assert outputs.status_code == 200
    assert "Calls answered" in outputs.text and "Volunteer hours" in outputs.text
    version = re.search(r'name="version"[^>]*value="(\d+)"', outputs.text).group(1)
    calls, hours = project.measures
    saved = client.post(
        f"/partner/projects/{project.id}/q1/outputs",
        data={"version": version, f"m{calls.id}": "40", f"m{hours.id}": "12.5", **SAVE},
    )
    assert saved.status_code == 302
    mreturn = returns_service.find_return(project, 1)
    assert {value.measure.name: value.value for value in mreturn.values} == {
        "Calls answered": Decimal("40"),
        "Volunteer hours": Decimal("12.5"),
    }
    # Another organisation's partner sees none of it.
    login(client, two_orgs["partner_b"])
    assert "Helpline for victims" not in client.get("/partner/2023-24/").text
    assert client.get(f"/partner/projects/{project.id}/q1/outputs").status_code == 404


def test_every_set_up_change_is_audited_with_before_and_after(csu_client, two_orgs):
    stream = two_orgs["stream"]
    before = audit_count()
    response = csu_client.post(
        f"/setup/streams/{stream.id}/edit", data={"name": stream.name, "funder": "The PCC", "amount": "40000.00"}
    )
    assert response.status_code == 302
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert audit_count() == before + 1
    assert event.action == "funding_stream.updated" and event.actor_id == two_orgs["csu"].id
    assert event.details["changes"] == {
        "funder": ["Kent Police and Crime Commissioner", "The PCC"],
        "amount_pence": [3_421_800, 4_000_000],
    }


def test_bad_input_is_shown_beside_the_field_and_nothing_is_saved(csu_client, two_orgs):
    year = two_orgs["year"]
    before = audit_count()
    response = csu_client.post(
        f"/setup/{year.label}/streams/new", data={"name": "Small grants", "funder": "", "amount": "12.345"}
    )
    assert response.status_code == 422
    page = text(response)
    assert "<title>Error: " in page and "There is a problem" in page
    assert "Enter who gives the money" in page
    assert "Amount must have no more than 2 decimal places" in page
    assert 'value="Small grants"' in page and 'value="12.345"' in page  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(FundingStream)) == 1
    assert audit_count() == before


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("/setup/years/new", {"label": "2023-25", "return_due_days": "14"}, "Enter the financial year like 2024-25"),
        ("/setup/years/new", {"label": "2021-22", "return_due_days": "14"}, "2021-22 is already set up"),
        ("/setup/years/new", {"label": "2024-25", "return_due_days": "200"}, "a whole number from 0 to 120"),
        ("/setup/2021-22/priorities/new", {"name": "x", "rank": "first"}, "Rank must be a whole number"),
    ],
)
def test_each_form_refuses_what_it_cannot_take(csu_client, two_orgs, url, data, message):
    response = csu_client.post(url, data=data)
    assert response.status_code == 422
    assert message in text(response)


def test_a_stream_name_is_taken_once_a_year(csu_client, two_orgs):
    response = csu_client.post(
        "/setup/2021-22/streams/new", data={"name": "pcc crime reduction grant", "funder": "x", "amount": "1"}
    )
    assert response.status_code == 422
    assert "2021-22 already has a funding stream called pcc crime reduction grant" in text(response)


def test_priorities_are_ranked_and_a_new_one_can_go_first(csu_client, two_orgs):
    for name in ("Domestic Abuse", "Substance Misuse"):
        csu_client.post("/setup/2021-22/priorities/new", data={"name": name})
    csu_client.post("/setup/2021-22/priorities/new", data={"name": "Anti-Social Behaviour", "rank": "1"})
    ranked = db.session.scalars(select(Priority).order_by(Priority.rank))
    assert [(p.rank, p.name) for p in ranked] == [
        (1, "Anti-Social Behaviour"),
        (2, "Domestic Abuse"),
        (3, "Substance Misuse"),
    ]


# -- awards: what is unallocated, over-allocation, variations --------------------------------------


def _project_form(two_orgs, **changes) -> dict:
    return {
        "organisation": str(two_orgs["davss"].id),
        "name": "Outreach",
        "funding_stream": str(two_orgs["stream"].id),
        "amount": "14218.00",
        "priority": "",
        "actions": "",
        "description": "",
        **changes,
    }


def test_awarding_what_is_unallocated(csu_client, two_orgs):
    # £34,218.00 less two awards of £10,000.00 leaves £14,218.00.
    assert "£14,218.00 unallocated" in text(csu_client.get("/setup/2021-22/projects/new"))
    response = csu_client.post("/setup/2021-22/projects/new", data=_project_form(two_orgs))
    assert response.status_code == 302
    assert "£0.00" in text(csu_client.get("/setup/2021-22/"))


def test_over_allocation_is_refused_with_the_figures_until_confirmed_with_a_reason(csu_client, two_orgs):
    form = _project_form(two_orgs, amount="15000.00")
    refused = csu_client.post("/setup/2021-22/projects/new", data=form)
    assert refused.status_code == 422
    page = text(refused)
    assert "£20,000.00 is awarded to its other projects, leaving £14,218.00 unallocated" in page
    assert "this is £782.00 over" in page
    assert 'name="confirm_over_allocation"' in page and 'value="78200"' in page
    assert db.session.scalar(select(func.count()).select_from(Project)) == 2

    no_reason = csu_client.post("/setup/2021-22/projects/new", data={**form, "confirm_over_allocation": "78200"})
    assert no_reason.status_code == 422
    assert "Enter why the stream is being over-allocated" in text(no_reason)

    stale = csu_client.post(
        "/setup/2021-22/projects/new",
        data={**form, "amount": "16000.00", "confirm_over_allocation": "78200", "over_allocation_reason": "x"},
    )
    assert stale.status_code == 422  # a box ticked for £782.00 over does not confirm £1,782.00

    confirmed = csu_client.post(
        "/setup/2021-22/projects/new",
        data={**form, "confirm_over_allocation": "78200", "over_allocation_reason": "Agreed by the board"},
    )
    assert confirmed.status_code == 302
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "project.over_allocated")).one()
    over = event.details["changes"]["over_allocation"][1]
    assert over["over_allocated_by_pence"] == 78_200 and over["reason"] == "Agreed by the board"


def test_a_changed_award_is_a_variation_on_the_ledger(csu_client, two_orgs):
    project = two_orgs["davss_project"]
    form = _project_form(two_orgs, name=project.name, amount="12000.00")
    form.pop("organisation")
    missing_reason = csu_client.post(f"/setup/projects/{project.id}/edit", data=form)
    assert missing_reason.status_code == 422
    assert "Enter the reason for changing the award" in text(missing_reason)
    assert db.session.scalar(select(func.count()).select_from(AwardVariation)) == 0

    response = csu_client.post(
        f"/setup/projects/{project.id}/edit", data={**form, "award_reason": "More referrals expected"}
    )
    assert response.status_code == 302
    db.session.refresh(project)
    assert project.amount_pence == 1_200_000
    variation = db.session.scalars(select(AwardVariation)).one()
    assert (variation.from_pence, variation.to_pence, variation.reason) == (
        1_000_000,
        1_200_000,
        "More referrals expected",
    )
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "award.varied_in_setup")) is not None


# -- measures: editing keeps figures, retiring keeps history ---------------------------------------


def test_editing_a_measure_keeps_its_figures(csu_client, two_orgs):
    project = two_orgs["davss_project"]
    measure = project.measures[0]
    approved_return(project, 1, {measure: "64"})
    response = csu_client.post(
        f"/setup/measures/{measure.id}/edit",
        data={"name": "New referrals", "unit": "people", "combine": "sum", "decimals": "whole", "annual_target": "900"},
    )
    assert response.status_code == 302
    assert db.session.scalar(select(MeasureValue.value).where(MeasureValue.measure_id == measure.id)) == 64
    assert "New referrals" in csu_client.get(f"/csu/projects/{project.id}").text


def test_a_measure_with_decimal_figures_cannot_become_whole(csu_client, two_orgs, make_project):
    project = make_project(
        two_orgs["davss"], two_orgs["stream"], "Hours", measures=[{"name": "Volunteer hours", "unit": "hours"}]
    )
    measure = project.measures[0]
    assert measure.decimals  # from its unit
    approved_return(project, 1, {measure: "7.5"})
    response = csu_client.post(
        f"/setup/measures/{measure.id}/edit",
        data={"name": "Volunteer hours", "unit": "hours", "combine": "sum", "decimals": "whole"},
    )
    assert response.status_code == 422
    assert "Figures with decimal places have already been reported" in text(response)


def test_quarterly_targets_for_every_quarter_or_none(csu_client, two_orgs):
    project = two_orgs["davss_project"]
    data = {"name": "Calls", "unit": "calls", "combine": "sum", "decimals": "whole", "q1_target": "10"}
    response = csu_client.post(f"/setup/projects/{project.id}/measures/new", data=data)
    assert response.status_code == 422
    assert "Enter the Q2 target, or no quarterly targets" in text(response)
    data |= {"q2_target": "10", "q3_target": "10", "q4_target": "12.5"}
    response = csu_client.post(f"/setup/projects/{project.id}/measures/new", data=data)
    assert response.status_code == 422
    assert "Q4 must be a whole number" in text(response)
    data["q4_target"] = "12"
    assert csu_client.post(f"/setup/projects/{project.id}/measures/new", data=data).status_code == 302
    added = db.session.scalars(select(OutputMeasure).where(OutputMeasure.name == "Calls")).one()
    assert added.quarterly_targets == [10, 10, 10, 12] and added.position == 1


def test_retiring_a_measure_keeps_its_figures_and_removes_it_from_new_returns(client, two_orgs, make_project, login):
    project = make_project(
        two_orgs["davss"],
        two_orgs["stream"],
        "Helpline",
        measures=[{"name": "Calls answered", "unit": "calls"}, {"name": "Leaflets handed out", "unit": "leaflets"}],
    )
    calls, leaflets = project.measures
    approved_return(project, 1, {calls: "40", leaflets: "317"})
    login(client, two_orgs["csu"])
    check = client.get(f"/setup/measures/{leaflets.id}/retire")
    assert check.status_code == 200 and "The figures already reported for it are kept" in check.text
    assert client.post(f"/setup/measures/{leaflets.id}/retire", data={}).status_code == 302
    db.session.refresh(leaflets)
    assert leaflets.is_retired
    assert client.post(f"/setup/measures/{leaflets.id}/retire", data={}).status_code == 422  # already retired

    # The CSU's tables and exports still show its figures, the measure marked retired.
    csu_page = client.get(f"/csu/projects/{project.id}").text
    assert "317" in csu_page and re.search(r"Leaflets handed out.{0,200}Retired", csu_page, re.S)
    export = client.get("/csu/2021-22/measures.csv").text
    assert "Leaflets handed out" in export and "317" in export
    assert "Retired" in client.get(f"/setup/projects/{project.id}").text

    # The partner's new return no longer asks for it; Q1's approved return still shows it.
    login(client, two_orgs["partner_a"])
    q2 = client.get(f"/partner/projects/{project.id}/q2/outputs").text
    assert "Calls answered" in q2 and "Leaflets handed out" not in q2
    assert "Leaflets handed out" in client.get(f"/partner/projects/{project.id}/q1/outputs").text
    assert [item.name for item in returns_service.unanswered(project, 2, {}, "outputs")] == [f"m{calls.id}"]
    tampered = client.post(
        f"/partner/projects/{project.id}/q2/outputs", data={"version": "0", f"m{leaflets.id}": "5", **SAVE}
    )
    assert tampered.status_code == 404


# -- rolling over -------------------------------------------------------------------------------


@pytest.fixture
def busy_year(two_orgs, make_project):
    """2021-22 with a priority, targets, a retired measure, a return, a payment, a variation, a schedule, a rating."""
    year = two_orgs["year"]
    priority = Priority(year=year, name="Domestic Abuse", rank=1)
    db.session.add(priority)
    project = two_orgs["davss_project"]
    project.priority, project.actions = priority, ["3.5"]
    project.spend_profile = [100_000, 200_000, 300_000, 400_000]
    old = OutputMeasure(project=project, position=1, name="Leaflets", unit="leaflets", retired_at=utcnow())
    hours = OutputMeasure(project=project, position=2, name="Hours", unit="hours", q1_target=Decimal("2.5"))
    hours.q2_target = hours.q3_target = hours.q4_target = Decimal("2.5")
    db.session.add_all([old, hours])
    db.session.add_all(
        [
            Payment(project=project, amount_pence=500_000, paid_on=date(2021, 5, 1)),
            PaymentInstalment(project=project, number=1, amount_pence=500_000),
            AwardVariation(project=project, from_pence=900_000, to_pence=1_000_000, reason="Topped up"),
            CsuRating(project=project, quarter=1, rag="green", reason="On track"),
        ]
    )
    db.session.commit()
    approved_return(project, 1, {project.measures[0]: "64", old: "3"})
    return two_orgs


def test_roll_over_copies_what_it_should_and_nothing_it_should_not(csu_client, busy_year):
    check = text(csu_client.get("/setup/2021-22/roll-over"))
    assert "Start 2022-23 from 2021-22" in check
    assert "Retired measures, not copied" in check and "Leaflets" in check
    assert csu_client.post("/setup/2021-22/roll-over", data={}).headers["Location"] == "/setup/2022-23/"

    new = db.session.scalars(select(FinancialYear).where(FinancialYear.start_year == 2022)).one()
    assert new.return_due_days == 14 and not new.is_closed
    [stream] = new.funding_streams
    assert (stream.name, stream.funder, stream.amount_pence) == (
        "PCC Crime Reduction Grant",
        "Kent Police and Crime Commissioner",
        3_421_800,
    )
    assert [(p.rank, p.name) for p in new.priorities] == [(1, "Domestic Abuse")]
    projects = {p.name: p for p in db.session.scalars(select(Project).where(Project.year_id == new.id))}
    assert set(projects) == {busy_year["davss_project"].name, busy_year["kenward_project"].name}
    davss = projects[busy_year["davss_project"].name]
    assert (davss.organisation_id, davss.amount_pence, davss.actions) == (busy_year["davss"].id, 1_000_000, ["3.5"])
    assert davss.priority.year_id == new.id and davss.funding_stream_id == stream.id
    assert [(m.name, m.annual_target, m.decimals, m.quarterly_targets) for m in davss.measures] == [
        ("Referrals", Decimal("800"), False, [None] * 4),
        ("Hours", None, True, [Decimal("2.5")] * 4),
    ]
    new_ids = [p.id for p in projects.values()]
    for model in (MonitoringReturn, Payment, PaymentInstalment, AwardVariation, CsuRating):
        count = db.session.scalar(select(func.count()).select_from(model).where(model.project_id.in_(new_ids)))
        assert count == 0, model.__name__
    assert davss.spend_profile == [100_000, 200_000, 300_000, 400_000]
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "financial_year.rolled_over"))

    # Once 2022-23 exists, it is not started again.
    again = csu_client.get("/setup/2021-22/roll-over")
    assert "2022-23 is already set up" in text(again) and "Start 2022-23</button>" not in again.text
    assert csu_client.post("/setup/2021-22/roll-over", data={}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(FinancialYear)) == 2


# -- closed years and who may change what --------------------------------------------------------


def test_a_closed_years_set_up_is_read_only(client, two_orgs, login):
    year = two_orgs["year"]
    year.closed_at = utcnow()
    db.session.commit()
    login(client, two_orgs["csu"])
    page = client.get("/setup/2021-22/").text
    assert "is closed, so its set-up cannot change" in page
    assert "Add a funding stream" not in page and "Upload a changed" not in page
    stream, project, measure = two_orgs["stream"], two_orgs["davss_project"], two_orgs["davss_project"].measures[0]
    for url in (
        "/setup/2021-22/edit",
        "/setup/2021-22/streams/new",
        f"/setup/streams/{stream.id}/edit",
        "/setup/2021-22/projects/new",
        f"/setup/projects/{project.id}/edit",
        f"/setup/projects/{project.id}/measures/new",
        f"/setup/measures/{measure.id}/edit",
        f"/setup/measures/{measure.id}/retire",
        "/setup/2021-22/workbook",
    ):
        for method in ("GET", "POST"):
            response = client.open(url, method=method, data={"name": "x", "amount": "1", "funder": "y"})
            assert response.status_code == 409, f"{method} {url}"
            assert "The 2021-22 financial year is closed" in response.text
    assert "Change" not in client.get(f"/setup/projects/{project.id}").text.split("Output measures")[1]
    assert db.session.scalar(select(FundingStream.funder).where(FundingStream.id == stream.id)) != "y"


def test_finance_reads_the_set_up_and_is_refused_its_forms(client, two_orgs, login):
    login(client, two_orgs["finance"])
    page = client.get("/setup/2021-22/")
    assert page.status_code == 200 and "PCC Crime Reduction Grant" in page.text
    assert "Add a funding stream" not in page.text and "Start 2022-23" not in page.text
    assert client.get("/setup/2021-22/workbook.xlsx").status_code == 200
    stream = two_orgs["stream"]
    response = client.post(f"/setup/streams/{stream.id}/edit", data={"name": "x", "funder": "y", "amount": "1"})
    assert response.status_code == 403
    assert client.post("/setup/2021-22/roll-over", data={}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(FinancialYear)) == 1


def test_partners_are_not_told_the_set_up_exists(client, two_orgs, login):
    login(client, two_orgs["partner_a"])
    for url in ("/setup/", "/setup/2021-22/", f"/setup/projects/{two_orgs['davss_project'].id}"):
        assert client.get(url).status_code == 404
    assert client.post("/setup/years/new", data={"label": "2030-31", "return_due_days": "14"}).status_code == 404


# -- the workbook -------------------------------------------------------------------------------


DEMO_2021 = "portal/demo/2021-22.yaml"


@pytest.fixture
def demo_year(app, project_root, two_orgs):
    """2021-22 as the demo file has it (its five projects beside the fixture's two), one measure retired."""
    import_year((project_root / DEMO_2021).read_text())
    measure = db.session.scalars(select(OutputMeasure).where(OutputMeasure.name == "Male referrals")).one()
    measure.retired_at = utcnow()
    db.session.commit()
    return two_orgs


def snapshot() -> dict:
    """Every set-up table's rows, as tuples of their columns."""
    found = {}
    for model in (FinancialYear, FundingStream, Priority, Project, OutputMeasure, AwardVariation):
        columns = [column.key for column in model.__table__.columns]
        rows = db.session.execute(select(*[getattr(model, c) for c in columns]).order_by(model.id)).all()
        found[model.__name__] = [tuple(row) for row in rows]
    return found


def upload(client, content: bytes, year: str = "2021-22"):
    return client.post(
        f"/setup/{year}/workbook",
        data={"workbook": (io.BytesIO(content), "set-up.xlsx")},
        content_type="multipart/form-data",
    )


def test_the_workbook_has_one_sheet_per_kind(csu_client, demo_year):
    response = csu_client.get("/setup/2021-22/workbook.xlsx")
    assert response.headers["Content-Disposition"] == "attachment; filename=set-up-2021-22.xlsx"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["About", "Year", "Streams", "Priorities", "Projects", "Measures"]
    assert [cell.value for cell in book["Year"][2]] == ["2021-22", 14, "yes", book["Year"]["D2"].value]
    assert [cell.value for cell in book["Streams"][2]] == [
        "PCC Crime Reduction Grant",
        "Kent Police and Crime Commissioner",
        34218,
    ]
    assert book["Priorities"]["B4"].value == "Domestic Abuse"
    projects = {row[1]: row for row in book["Projects"].iter_rows(min_row=2, values_only=True)}
    assert projects["Support males through the CDAP programme"][:6] == (
        "CDAP",
        "Support males through the CDAP programme",
        "PCC Crime Reduction Grant",
        1500,
        "Domestic Abuse",
        "3.5",
    )
    measures = {row[2]: row for row in book["Measures"].iter_rows(min_row=2, values_only=True)}
    assert measures["Volunteer case work hours"][6] == "decimal"
    assert measures["Male referrals"][-1] == "yes" and measures["Referrals"][-1] == "no"


def test_uploading_the_downloaded_workbook_changes_nothing(csu_client, demo_year):
    content = csu_client.get("/setup/2021-22/workbook.xlsx").data
    before, events = snapshot(), audit_count()
    response = csu_client.post("/setup/2021-22/workbook", data={})  # no file
    assert response.status_code == 422 and "Select the set-up workbook" in text(response)
    response = upload(csu_client, content)
    assert response.status_code == 302
    assert "nothing was changed" in text(csu_client.get("/setup/2021-22/"))
    assert snapshot() == before
    assert audit_count() == events


def test_a_changed_workbook_updates_by_name_and_varies_awards(csu_client, demo_year):
    book = load_workbook(io.BytesIO(csu_client.get("/setup/2021-22/workbook.xlsx").data))
    row = next(r for r in book["Projects"].iter_rows(min_row=2) if r[0].value == "PAS")
    row[3].value = 1250.5
    book["Measures"].append(["PAS", row[1].value, "Schools visited", "schools", None, "sum", "whole", 12])
    buffer = io.BytesIO()
    book.save(buffer)
    assert upload(csu_client, buffer.getvalue()).status_code == 302
    pas = db.session.scalars(select(Project).where(Project.name == row[1].value)).one()
    assert pas.amount_pence == 125_050
    assert [m.name for m in pas.measures][-1] == "Schools visited"
    variation = db.session.scalars(select(AwardVariation).where(AwardVariation.project_id == pas.id)).one()
    assert variation.reason == "Changed by the set-up workbook"
    actors = db.session.scalars(select(AuditEvent.actor_id).where(AuditEvent.object_type == "output_measure")).all()
    assert demo_year["csu"].id in actors


def test_a_bad_workbook_is_refused_naming_sheet_row_and_column(csu_client, demo_year):
    book = load_workbook(io.BytesIO(csu_client.get("/setup/2021-22/workbook.xlsx").data))
    book["Streams"]["C2"] = "lots"
    book["Projects"]["A7"] = "Nobody"
    book["Measures"]["F2"] = "average"
    book["Measures"]["G3"] = "fractional"
    book["Measures"]["H4"] = 7.5  # a whole-number measure
    book["Priorities"]["A3"] = 1  # a rank given twice
    buffer = io.BytesIO()
    book.save(buffer)
    before, events = snapshot(), audit_count()
    response = upload(csu_client, buffer.getvalue())
    assert response.status_code == 422
    page = text(response)
    for expected in (
        "Streams, row 2, column C (Amount): must be a number of pounds, like 1000.00",
        "Projects, row 7, column A (Organisation): 'Nobody' is not an organisation in this workbook or the portal",
        "Measures, row 2, column F (Combine): must be sum or latest",
        "Measures, row 3, column G (Whole or decimal): must be whole or decimal",
        "Measures, row 4, column H (Annual target): must be a whole number",
        "Priorities, row 3, column A (Rank): rank 1 is given twice",
    ):
        assert expected in page
    assert "nothing was changed" in page
    assert snapshot() == before
    assert audit_count() == events


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda book: book["Year"].__setitem__("A2", "2022-23"), "Year, row 2, column A (Financial year): this "),
        (lambda book: book.remove(book["Measures"]), "The workbook has no 'Measures' sheet"),
        (lambda book: book["Projects"].__setitem__("D1", "Money"), "Projects, row 1: the column 'Amount' is missing"),
    ],
)
def test_a_workbook_of_the_wrong_shape_is_refused(csu_client, demo_year, change, expected):
    book = load_workbook(io.BytesIO(csu_client.get("/setup/2021-22/workbook.xlsx").data))
    change(book)
    buffer = io.BytesIO()
    book.save(buffer)
    before = snapshot()
    response = upload(csu_client, buffer.getvalue())
    assert response.status_code == 422
    assert expected in text(response)
    assert snapshot() == before


def test_a_file_that_is_not_a_workbook_is_refused(csu_client, demo_year):
    response = upload(csu_client, b"name,amount\nx,1\n")
    assert response.status_code == 422
    assert "The file is not an Excel workbook (.xlsx)" in text(response)


def test_a_zip_bomb_saved_as_a_workbook_is_refused_before_it_is_unpacked(csu_client, demo_year):
    """A few hundred KB that unpack to 60 MB: refused with a message, never read into memory."""
    workbook = csu_client.get("/setup/2021-22/workbook.xlsx").data
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as real, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as forged:
        for part in real.infolist():
            forged.writestr(part, real.read(part))
        with forged.open("xl/media/padding.xml", "w") as padding:
            for _ in range(60):
                padding.write(b" " * (1024 * 1024))
    assert len(bomb.getvalue()) < 1024 * 1024  # well within the 2 MB upload limit
    before = db.session.scalar(select(func.count()).select_from(Project))
    response = upload(csu_client, bomb.getvalue())
    assert response.status_code == 422
    assert "The file unpacks to more than 50 MB" in text(response)
    assert db.session.scalar(select(func.count()).select_from(Project)) == before


# -- the year file and the stored whole-or-decimal choice ------------------------------------------


def test_the_year_file_can_choose_decimals_and_retire_a_measure(app, two_orgs, project_root):
    text_ = (
        (project_root / DEMO_2021)
        .read_text()
        .replace(
            "{name: Referrals, unit: people, combine: sum,",
            "{name: Referrals, unit: people, decimals: true, combine: sum,",
        )
    )
    import_year(text_)
    db.session.commit()
    referrals = db.session.scalars(
        select(OutputMeasure).join(Project).where(OutputMeasure.name == "Referrals", Project.name.like("Support for%"))
    ).all()
    assert [m.decimals for m in referrals] == [True]
    import_year(text_.replace("decimals: true, combine: sum,", "decimals: true, retired: true, combine: sum,"))
    db.session.commit()
    db.session.refresh(referrals[0])
    assert referrals[0].is_retired


def test_the_migration_sets_decimals_from_each_measures_unit(empty_database_url):  # noqa: F811
    """Existing measures keep what they allowed: hours took decimals, everything else whole numbers."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal import create_app
    from tests.conftest import base_config

    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade(revision="0ac1bb5fe3c1")  # the revision before the one that adds decimals
        with db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO organisation (short_name, name) VALUES ('O', 'O')"))
            connection.execute(
                sa.text(
                    "INSERT INTO financial_year (start_year, return_due_days, illustrative) VALUES (2021, 14, false)"
                )
            )
            connection.execute(
                sa.text("INSERT INTO funding_stream (year_id, name, funder, amount_pence) VALUES (1, 'S', 'F', 1)")
            )
            connection.execute(
                sa.text(
                    "INSERT INTO project (organisation_id, year_id, funding_stream_id, name, amount_pence, actions) "
                    "VALUES (1, 1, 1, 'P', 1, '[]')"
                )
            )
            for name, unit in (("a", "Hours"), ("b", "people"), ("c", " hour ")):
                connection.execute(
                    sa.text(
                        "INSERT INTO output_measure (project_id, position, name, unit, combine) "
                        "VALUES (1, 0, :name, :unit, 'sum')"
                    ),
                    {"name": name, "unit": unit},
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT name, decimals, retired_at FROM output_measure ORDER BY name"))
            assert [tuple(row) for row in rows] == [("a", True, None), ("b", False, None), ("c", True, None)]
        db.session.remove()
        db.engine.dispose()


def test_roll_over_leaves_out_the_projects_of_a_retired_organisation(csu_client, two_orgs):
    two_orgs["kenward"].retired_at = utcnow()
    db.session.commit()
    check = text(csu_client.get("/setup/2021-22/roll-over"))
    assert "Projects of retired organisations, not copied" in check
    assert csu_client.post("/setup/2021-22/roll-over", data={}).status_code == 302
    names = db.session.scalars(select(Project.name).join(FinancialYear).where(FinancialYear.start_year == 2022))
    assert list(names) == [two_orgs["davss_project"].name]
    page = text(csu_client.get("/setup/2022-23/projects/new"))
    assert "Domestic Abuse Volunteer Support Services (DAVSS)" in page and "(Kenward)" not in page


def test_a_spend_profile_plans_the_whole_award(csu_client, two_orgs):
    project = two_orgs["davss_project"]
    form = _project_form(two_orgs, name=project.name, amount="10000.00")
    form.pop("organisation")
    some = csu_client.post(f"/setup/projects/{project.id}/edit", data={**form, "q1_profile": "2500"})
    assert some.status_code == 422
    assert "Enter the planned spend in Q2, or in no quarter" in text(some)
    quarters = {"q1_profile": "1000", "q2_profile": "2000", "q3_profile": "3000", "q4_profile": "3000"}
    short = csu_client.post(f"/setup/projects/{project.id}/edit", data={**form, **quarters})
    assert short.status_code == 422
    assert "adds up to £9,000.00, not the award of £10,000.00" in text(short)
    quarters["q4_profile"] = "4000"
    assert csu_client.post(f"/setup/projects/{project.id}/edit", data={**form, **quarters}).status_code == 302
    db.session.refresh(project)
    assert project.spend_profile == [100_000, 200_000, 300_000, 400_000]
    assert "Q4 £4,000.00" in text(csu_client.get(f"/setup/projects/{project.id}"))
    book = load_workbook(io.BytesIO(csu_client.get("/setup/2021-22/workbook.xlsx").data))
    row = next(r for r in book["Projects"].iter_rows(min_row=2, values_only=True) if r[1] == project.name)
    assert row[-4:] == (1000, 2000, 3000, 4000)
    before, events = snapshot(), audit_count()
    assert upload(csu_client, csu_client.get("/setup/2021-22/workbook.xlsx").data).status_code == 302
    assert snapshot() == before and audit_count() == events
    book["Projects"].cell(row=2 if book["Projects"]["B2"].value == project.name else 3, column=11).value = 5000
    buffer = io.BytesIO()
    book.save(buffer)
    refused = text(upload(csu_client, buffer.getvalue()))
    assert re.search(r"Projects, row \d, column H \(Q1 planned spend\): the quarters add up to £11,000.00", refused)


def test_a_retired_measure_is_left_out_of_delivery_to_date(two_orgs, make_project):
    from portal.services.delivery import project_delivery

    project = make_project(
        two_orgs["davss"],
        two_orgs["stream"],
        "Two targets",
        measures=[{"name": "Met", "annual_target": 40}, {"name": "Dropped", "annual_target": 40}],
    )
    met, dropped = project.measures
    for quarter in (1, 2, 3, 4):
        approved_return(project, quarter, {met: "10", dropped: "0"} if quarter == 1 else {met: "10"})
    assert project_delivery(project).delivery_pct == Decimal("50.0")
    dropped.retired_at = utcnow()
    db.session.commit()
    assert project_delivery(project).delivery_pct == Decimal("100.0")
