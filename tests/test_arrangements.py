"""The CSU's extensions and waivers: the form on the project page (errors, closed year, roles, audit) and
what they change for the partner, the due list and the overview."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, ReturnArrangement
from tests.test_delivery import report

URL = "/csu/projects/{}/due-dates"


def form(quarter="2", arrangement="extended", due_on=("14", "11", "2021"), reason="Staff illness") -> dict:
    return {
        "arrangement-quarter": quarter,
        "arrangement-arrangement": arrangement,
        "arrangement-due_on": list(due_on),
        "arrangement-reason": reason,
    }


def arrangements() -> list[ReturnArrangement]:
    return list(db.session.scalars(select(ReturnArrangement).order_by(ReturnArrangement.quarter)))


def due_rows(client) -> list[str]:
    """The due list's rows, as text: organisation, project, quarter."""
    body = client.get("/csu/due").text.split("<tbody")[1]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("<tr")[1:]]


def error_summary(html: str) -> str:
    return html.split('govuk-error-summary__list">')[1].split("</ul>")[0]


def audit_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "return_arrangement.set")
    )


@pytest.fixture
def world(two_orgs):
    return {**two_orgs, "project": two_orgs["davss_project"]}


@pytest.fixture
def csu(client, world, login):
    """The CSU's client; a test on a frozen clock signs in again inside it (a cookie from the future is refused)."""
    login(client, world["csu"])
    return client


# -- saving ---------------------------------------------------------------------------------------


@freeze_time("2021-10-20 12:00:00")  # Q2 was due on 14 October: overdue
def test_the_csu_extends_a_due_date_and_the_partner_sees_it(app, csu, world, login):
    login(csu, world["csu"])
    project = world["project"]
    response = csu.post(URL.format(project.id), data=form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/csu/projects/{project.id}#due-dates")
    (saved,) = arrangements()
    assert (saved.quarter, saved.due_on, saved.not_required, saved.reason) == (
        2,
        date(2021, 11, 14),
        False,
        "Staff illness",
    )
    assert saved.set_by_id == world["csu"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "return_arrangement.set"))
    assert event.actor_id == world["csu"].id and event.object_id == project.id
    assert event.organisation_id == project.organisation_id
    assert event.details == {
        "quarter": 2,
        "before": {"arrangement": "usual", "due_on": None, "reason": None},
        "after": {"arrangement": "extended", "due_on": "2021-11-14", "reason": "Staff illness"},
    }
    assert "to 14 November 2021" in event.summary

    page = csu.get(f"/csu/projects/{project.id}").text
    assert "The Q2 due date has been saved." in page
    assert "14 November 2021 (extended)" in page and "Staff illness" in page
    assert "Q2 return missing" not in page  # no longer due

    partner = app.test_client()
    login(partner, world["partner_a"])
    home = partner.get("/partner/").text
    assert "14 November 2021 (extended)" in home
    assert "Overdue" not in home.split("Q2</th>")[1].split("</tr>")[0]


@freeze_time("2021-10-20 12:00:00")
def test_a_waived_quarter_is_not_required_for_the_partner_and_never_chased(app, csu, world, login):
    login(csu, world["csu"])
    project = world["project"]
    report(project, 1, {"Referrals": 200})
    assert any("Support for Medium" in row and "2021-22 Q2" in row for row in due_rows(csu))
    assert "Q2 return missing: counted as nothing delivered" in csu.get(f"/csu/projects/{project.id}").text

    response = csu.post(URL.format(project.id), data=form(arrangement="not_required", due_on=("", "", "")))
    assert response.status_code == 302
    (saved,) = arrangements()
    assert saved.not_required and saved.due_on is None

    assert not any("Support for Medium" in row and "2021-22 Q2" in row for row in due_rows(csu))
    assert any("Youth Diversionary" in row and "2021-22 Q2" in row for row in due_rows(csu))  # the other project
    assert "Support for Medium" not in csu.get("/csu/2021-22/?status=overdue").text
    page = csu.get(f"/csu/projects/{project.id}").text
    assert "Q2 return missing" not in page and ">Not required<" in page
    partner = app.test_client()
    login(partner, world["partner_a"])
    row = partner.get("/partner/").text.split("Q2</th>")[1].split("</tr>")[0]
    assert "Not required" in row and "Overdue" not in row and "Start" not in row


@freeze_time("2021-10-20 12:00:00")
def test_the_usual_due_date_comes_back_and_is_audited(csu, world, login):
    login(csu, world["csu"])
    project = world["project"]
    csu.post(URL.format(project.id), data=form(arrangement="not_required"))
    response = csu.post(URL.format(project.id), data=form(arrangement="usual", reason="Back at work"))
    assert response.status_code == 302
    assert arrangements() == []
    assert audit_count() == 2
    last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert last.details["before"]["arrangement"] == "not_required"
    assert last.details["after"] == {"arrangement": "usual", "due_on": None, "reason": "Back at work"}
    assert any("Support for Medium" in row and "2021-22 Q2" in row for row in due_rows(csu))


# -- bad input: errors beside the fields and in the summary, 422, nothing saved --------------------


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        (
            {"arrangement-reason": ""},
            ["Select a quarter", "Select what you want to change", "Enter the reason for the change"],
        ),
        (form(due_on=("", "", "")), ["Enter the new due date"]),
        (form(due_on=("31", "2", "2022")), ["New due date must be a real date, like 14 2 2027"]),
        (form(due_on=("14", "10", "2021")), ["The new due date must be after the usual due date, 14 October 2021"]),
        (form(arrangement="usual"), ["Q2 already has the usual due date"]),
        (form(arrangement="sometimes"), ["Select what you want to change"]),
        (form(quarter="5"), ["Select a quarter"]),
        (form(reason="x" * 1001), ["The reason must be 1,000 characters or fewer"]),
    ],
)
def test_bad_input_is_refused_with_its_errors_and_nothing_is_saved(csu, world, data, messages):
    response = csu.post(URL.format(world["project"].id), data=data)
    assert response.status_code == 422
    assert "<title>Error: " in response.text
    summary = error_summary(response.text)
    for message in messages:
        assert message in summary
        assert f'<span class="govuk-visually-hidden">Error:</span> {message}' in response.text
    assert arrangements() == [] and audit_count() == 0


def test_a_reported_quarter_cannot_be_waived(csu, world):
    report(world["project"], 1, {"Referrals": 10}, status="submitted")
    response = csu.post(URL.format(world["project"].id), data=form(quarter="1", arrangement="not_required"))
    assert response.status_code == 422
    assert "The Q1 return has been submitted, so it cannot be marked not required" in response.text
    assert arrangements() == []


def test_a_closed_year_refuses_with_409(csu, world):
    world["year"].closed_at = datetime(2022, 5, 1, tzinfo=UTC)
    db.session.commit()
    response = csu.post(URL.format(world["project"].id), data=form())
    assert response.status_code == 409
    assert "The 2021-22 financial year is closed" in response.text
    assert arrangements() == [] and audit_count() == 0


# -- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("finance", 403), ("admin", 403), ("partner_a", 404), ("partner_b", 404)])
def test_only_the_csu_may_change_a_due_date(app, world, login, who, status):
    client = app.test_client()
    login(client, world[who])
    assert client.post(URL.format(world["project"].id), data=form()).status_code == status
    assert arrangements() == [] and audit_count() == 0


@pytest.mark.parametrize(("who", "shown"), [("csu", True), ("finance", False), ("admin", False)])
def test_the_form_is_offered_only_to_the_csu(app, world, login, who, shown):
    client = app.test_client()
    login(client, world[who])
    page = client.get(f"/csu/projects/{world['project'].id}").text
    assert ("Change a due date" in page) is shown


# -- the number of queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/csu/2021-22/", "/csu/due", "/csu/2021-22/projects.csv", "/csu/2021-22/priorities", "/partner/"]
)
def test_pages_with_arrangements_issue_a_fixed_number_of_queries(
    app, make_org, make_year, make_stream, make_project, make_user, login, count_queries, path
):
    stream = make_stream(make_year(2021))
    org = make_org("BIG")
    user = make_user("p@big.example", ("partner",), org) if path == "/partner/" else make_user("c@x.example")
    made: list = []

    def grow(count: int) -> None:
        for number in range(len(made), len(made) + count):
            project = make_project(
                org, stream, f"Project {number:03d}", measures=[{"name": "People", "annual_target": 8}]
            )
            project.spend_profile = [400_000, 200_000, 200_000, 200_000]
            made.append(project)
            report(project, 1, {"People": 2}, spend_pence=100_000)
            db.session.add_all(
                [
                    ReturnArrangement(project=project, quarter=2, due_on=date(2021, 12, 1), reason="later"),
                    ReturnArrangement(project=project, quarter=3, not_required=True, reason="waived"),
                ]
            )
        db.session.commit()

    client = app.test_client()
    login(client, user)
    counts = []
    for size in (5, 195):
        grow(size)
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    if path == "/csu/2021-22/projects.csv":
        assert response.text.count("Not required") == 200


def test_after_an_error_each_form_still_posts_to_its_own_address(csu, world):
    """The page answering a bad due date lives at /due-dates: the rating form must not post there."""
    project_id = world["project"].id
    page = csu.post(URL.format(project_id), data={}).text
    assert f'action="/csu/projects/{project_id}/due-dates" id="due-date-form"' in page
    assert f'action="/csu/projects/{project_id}" novalidate' in page
