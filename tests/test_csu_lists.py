"""The CSU's priorities page, due list and review queue answered in SQL (issue 15): the same figures as the one
definition computes, a page at a time with filters in the URL (whole page, or the fragment for htmx), the same few
queries however big the year; and the review queue's personal-data flag stored with the return, not scanned."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from freezegun import freeze_time

from portal import create_app
from portal.extensions import db
from portal.models import CsuRating, MonitoringReturn, Payment, Priority, Project, ReturnRevision
from portal.models.vocabulary import PERSONAL_DATA_FLAG, SUBMITTED
from portal.services import redaction
from portal.services import returns as returns_service
from portal.services.delivery import year_delivery
from tests.conftest import base_config
from tests.test_delivery import report

MOST_QUERIES = 12
HTMX = {"HX-Request": "true"}
PHONE = "Call Jane on 07700 900123 any time."


def figures_of(html: str, key: str) -> dict[str, str]:
    """The priorities table's cells of one row (data-priority=key) by their data-figure."""
    row = html.split(f'data-priority="{key}"', 1)[1].split("</tr>", 1)[0]
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', row))


def names(html: str) -> list[str]:
    return re.findall(r'href="/csu/projects/\d+">(Project \d+)</a>', html)


# -- projects by priority ---------------------------------------------------------------------------


@pytest.fixture
def priorities(make_org, make_year, make_stream, make_project, make_user):
    """2021-22 with two priorities; `grow(n)` adds n projects: even ones serve Abuse, every third none at all."""
    year = make_year(2021)
    stream = make_stream(year, amount_pence=10_000_000_00)
    abuse, youth = Priority(year=year, name="Domestic Abuse", rank=1), Priority(year=year, name="Youth", rank=2)
    db.session.add_all([abuse, youth])
    db.session.commit()
    orgs = [make_org("ALPHA", "Alpha Trust"), make_org("BETA", "Beta Services")]
    made: list[Project] = []

    def grow(count: int) -> None:
        for number in range(len(made), len(made) + count):
            priority = None if number % 3 == 2 else (abuse if number % 2 == 0 else youth)
            project = make_project(
                orgs[number % 2],
                stream,
                f"Project {number:02d}",
                amount_pence=100_00 * (number + 1),
                priority=priority,
                measures=[{"name": "People", "annual_target": 40}],
            )
            project.actions = [f"{number}.1"]
            made.append(project)
            report(project, 1, {"People": 10 if number % 2 else 2}, spend_pence=1_000 * number)
            report(project, 2, {"People": 10}, status="submitted", spend_pence=500)
            db.session.add(Payment(project=project, amount_pence=300 + number, paid_on=date(2021, 5, 1)))
            db.session.add(CsuRating(project=project, quarter=1, rag="green", reason="fine"))
        db.session.commit()

    return {"grow": grow, "made": made, "abuse": abuse, "youth": youth, "csu": make_user("c@x.example")}


def money(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


@freeze_time("2021-12-01 12:00:00")
def test_each_prioritys_figures_are_those_of_the_one_definition(priorities, client, login):
    priorities["grow"](12)
    login(client, priorities["csu"])
    page = client.get("/csu/2021-22/priorities").text
    deliveries = year_delivery(db.session.get_one(Project, priorities["made"][0].id).year)
    for key, priority_id in (
        (str(priorities["abuse"].id), priorities["abuse"].id),
        (str(priorities["youth"].id), priorities["youth"].id),
        ("none", None),
        ("total", "every"),
    ):
        mine = [d for d in deliveries if priority_id == "every" or d.project.priority_id == priority_id]
        rags = [d.delivery_rag for d in mine]
        assert figures_of(page, key) == {
            "projects": str(len(mine)),
            "award": money(sum(d.project.amount_pence for d in mine)),
            "paid": money(sum(d.paid_pence for d in mine)),
            "spend": money(sum(d.reported_spend_pence for d in mine)),
            "delivery-rags": f"{rags.count('green')} green, {rags.count('amber')} amber, {rags.count('red')} red"
            + (f", {rags.count(None)} not rated" if None in rags else ""),
        }, key
    assert "1. Domestic Abuse" in page and "2. Youth" in page


@freeze_time("2021-12-01 12:00:00")
def test_a_prioritys_projects_show_what_the_page_showed_before(priorities, client, login):
    priorities["grow"](3)
    login(client, priorities["csu"])
    page = client.get(f"/csu/2021-22/priorities?priority={priorities['abuse'].id}").text
    assert names(page) == ["Project 00"]  # 0 serves Abuse; 1 Youth; 2 none
    assert "Projects serving 1. Domestic Abuse: 1 project" in page
    assert "0.1" in page and "Q3 missing" not in page
    assert "£100.00" in page.split('data-figure="priority-award">', 1)[1][:20]
    assert names(client.get("/csu/2021-22/priorities?priority=none").text) == ["Project 02"]


@freeze_time("2021-12-01 12:00:00")
def test_priorities_page_by_url_with_and_without_htmx(priorities, client, login):
    priorities["grow"](60)
    login(client, priorities["csu"])
    abuse = [n for n in range(60) if n % 3 != 2 and n % 2 == 0]  # 20 projects
    url = f"/csu/2021-22/priorities?priority={priorities['abuse'].id}&page=9"
    full, fragment = client.get(url), client.get(url, headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.text and "<html" not in fragment.text
    assert 'id="priority-projects"' in fragment.text and 'id="priority-figures"' not in fragment.text
    for html in (full.text, fragment.text):  # a page past the last shows the last: here the only one
        assert sorted(names(html)) == [f"Project {n:02d}" for n in abuse]
    every = client.get("/csu/2021-22/priorities?page=2", headers=HTMX).text
    assert "showing 26 to 50 (page 2 of 3)" in every and len(names(every)) == 25
    assert 'aria-label="Pages of projects by priority"' in every
    last = client.get("/csu/2021-22/priorities?page=99").text
    assert "showing 51 to 60 (page 3 of 3)" in last and len(names(last)) == 10


def test_priorities_queries_are_the_same_at_3_and_30_projects(priorities, client, login, count_queries):
    login(client, priorities["csu"])
    counts = []
    for size in (3, 27):
        priorities["grow"](size)
        client.get("/csu/2021-22/priorities")  # any stale rows computed
        with count_queries() as counter:
            assert client.get("/csu/2021-22/priorities?page=2").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= MOST_QUERIES, counts


# -- the due list -----------------------------------------------------------------------------------


@pytest.fixture
def due(make_org, make_year, make_stream, make_project, make_user):
    """2026-27 on 2 December 2026 (Q1 and Q2 overdue); `grow(n)` adds n projects over two organisations."""
    stream = make_stream(make_year(2026))
    orgs = [make_org("ALPHA", "Alpha Trust"), make_org("BETA", "Beta Services")]
    make_user("p@alpha.example", ("partner",), orgs[0])
    made: list[Project] = []

    def grow(count: int) -> None:
        for number in range(len(made), len(made) + count):
            made.append(make_project(orgs[number % 2], stream, f"Project {number:02d}"))

    return {"grow": grow, "made": made, "csu": make_user("c@x.example")}


def due_rows(html: str) -> list[str]:
    return re.findall(r'href="/csu/projects/\d+">(Project \d+)</a></td>\s*<td[^>]*>2026-27 (Q\d)</td>', html)


@freeze_time("2026-12-02 12:00:00")
def test_due_list_pages_by_url_with_and_without_htmx(due, client, login):
    due["grow"](30)  # 60 overdue returns: Q1 and Q2 of each
    login(client, due["csu"])
    url = "/csu/due?organisation=beta&state=overdue&page=2"
    full, fragment = client.get(url), client.get(url, headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.text and "<html" not in fragment.text
    assert 'id="due-list"' in fragment.text and 'id="due-filters"' not in fragment.text
    beta = [f"Project {n:02d}" for n in range(30) if n % 2]
    for html in (full.text, fragment.text):  # 30 Beta returns: page 2 holds the last 5, Q2's
        assert due_rows(html) == [(name, "Q2") for name in beta[10:]]
        assert "30 returns of 60, showing 26 to 30 (page 2 of 2)" in html
    assert 'value="beta"' in full.text
    past = client.get("/csu/due?page=40").text
    assert "60 returns, showing 51 to 60 (page 3 of 3)" in past
    assert due_rows(past)[-1] == ("Project 29", "Q2")
    assert 'aria-label="Pages of returns due and overdue"' in past
    assert all("Beta Services" in row for row in past.split("<tbody", 1)[1].split("<tr ")[1:])
    # The chase still works from a page: of page 1 (Q1, Alpha's first), only Alpha's have someone to remind.
    assert client.get("/csu/due").text.count('name="returns"') == 15
    assert "nobody can be reminded" in past and 'name="returns"' not in past


@freeze_time("2026-12-02 12:00:00")
def test_due_list_queries_are_the_same_at_3_and_30_projects(due, client, login, count_queries):
    login(client, due["csu"])
    counts = []
    for size in (3, 27):
        due["grow"](size)
        client.get("/csu/due")  # any stale rows computed
        with count_queries() as counter:
            assert client.get("/csu/due?state=overdue&page=2").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= MOST_QUERIES, counts


# -- the review queue -------------------------------------------------------------------------------


@pytest.fixture
def queue(two_orgs, make_project):
    """`submit(n)` submits n returns of new DAVSS projects (a quarter each), oldest first."""
    world = dict(two_orgs)
    made: list[MonitoringReturn] = []

    def submit(count: int, *, progress: str = "On track.") -> None:
        for _ in range(count):
            project = make_project(
                world["davss"], world["stream"], f"Project {len(made):02d}", measures=[{"name": "People"}]
            )
            made.append(submitted(project, world["partner_a"], progress=progress))
        db.session.commit()

    world.update(submit=submit, made=made)
    return world


def submitted(project: Project, partner, *, progress: str, quarter: int = 1) -> MonitoringReturn:
    mreturn = returns_service.find_return(project, quarter)
    mreturn = returns_service.save_outputs(
        project, quarter, {project.measures[0].id: Decimal(3)}, version=mreturn.version if mreturn else 0, by=partner
    )
    mreturn = returns_service.save_spend(project, quarter, 250_000, None, version=mreturn.version, by=partner)
    answers = {"progress": progress, "case_study": "A case.", "challenges": "None.", "partner_rag": "green"}
    answers["partner_rag_reason"] = "As planned."
    mreturn = returns_service.save_narrative(project, quarter, answers, version=mreturn.version, by=partner)
    reason = "It is a made-up example." if PHONE in progress else None
    result = returns_service.submit_return(
        project,
        quarter,
        version=mreturn.version,
        submission_key=uuid.uuid4().hex,
        by=partner,
        personal_data_reason=reason,
    )
    return result.monitoring_return


def test_review_queue_pages_oldest_first_with_and_without_htmx(queue, client, login):
    queue["submit"](30)
    login(client, queue["csu"])
    full, fragment = client.get("/csu/reviews?page=2"), client.get("/csu/reviews?page=2", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.text and "<html" not in fragment.text and 'id="review-queue"' in fragment.text
    for html in (full.text, fragment.text):
        assert re.findall(r'">(Project \d+)</a>', html) == [f"Project {n:02d}" for n in range(25, 30)]
        assert "30 submitted returns, oldest first: showing 26 to 30 (page 2 of 2)" in html
    assert re.findall(r'">(Project \d+)</a>', client.get("/csu/reviews?page=7").text)[0] == "Project 25"
    assert 'aria-label="Pages of returns to review"' in full.text


def test_review_queue_queries_are_the_same_at_3_and_30_returns(queue, client, login, count_queries):
    login(client, queue["csu"])
    counts = []
    for size in (3, 27):
        queue["submit"](size)
        with count_queries() as counter:
            assert client.get("/csu/reviews").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= MOST_QUERIES, counts


def test_the_queue_reads_the_stored_flag_never_the_answers(queue, client, login):
    queue["submit"](1, progress=PHONE)
    queue["submit"](1)
    login(client, queue["csu"])
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        page = client.get("/csu/reviews").text
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert page.count(PERSONAL_DATA_FLAG) == 1
    assert PERSONAL_DATA_FLAG in page.split("Project 00", 1)[1].split("</tr>", 1)[0]
    assert not any("monitoring_return.progress" in statement for statement in statements)


def stored_flag(mreturn: MonitoringReturn) -> bool:
    db.session.expire_all()
    return db.session.get_one(MonitoringReturn, mreturn.id).personal_data_found


def test_the_flag_is_set_on_submit_and_cleared_by_a_resubmission_without_it(queue):
    queue["submit"](1, progress=PHONE)
    [mreturn] = queue["made"]
    assert stored_flag(mreturn) is True
    returns_service.request_changes(
        mreturn, version=mreturn.version, comment="Please remove the phone number.", by=queue["csu"]
    )
    db.session.commit()
    project = mreturn.project
    again = submitted(project, queue["partner_a"], progress="On track, no names.")
    db.session.commit()
    assert again.id == mreturn.id and again.status == SUBMITTED
    assert stored_flag(mreturn) is False


def test_a_redaction_clears_the_flag(queue):
    queue["submit"](1, progress=PHONE)
    [mreturn] = queue["made"]
    revision = db.session.scalars(sa.select(ReturnRevision).where(ReturnRevision.return_id == mreturn.id)).one()
    redaction.redact_passage(mreturn, revision, "progress", "07700 900123", reason="A phone number", by=queue["csu"])
    db.session.commit()
    assert stored_flag(mreturn) is False


# -- the migration ----------------------------------------------------------------------------------


def test_the_migration_fills_the_flag_for_waiting_returns(tmp_path):
    """Stepping down to before the column and up again: the step scans the returns waiting for review."""
    url = f"sqlite:///{tmp_path / 'flag.db'}"
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        downgrade(revision="project_summary")
        with db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO organisation (short_name, name) VALUES ('O', 'Org')"))
            connection.execute(
                sa.text("INSERT INTO financial_year (start_year, return_due_days, illustrative) VALUES (2021, 14, 0)")
            )
            connection.execute(
                sa.text("INSERT INTO funding_stream (year_id, name, funder, amount_pence) VALUES (1, 'S', 'F', 100)")
            )
            for number, (status, progress) in enumerate(
                [(SUBMITTED, PHONE), (SUBMITTED, "On track."), ("draft", PHONE)], start=1
            ):
                connection.execute(
                    sa.text(
                        "INSERT INTO project (organisation_id, year_id, funding_stream_id, name, amount_pence, actions)"
                        " VALUES (1, 1, 1, :name, 100, '[]')"
                    ),
                    {"name": f"P{number}"},
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO monitoring_return (project_id, quarter, status, progress, version, created_at,"
                        " updated_at) VALUES (:id, 1, :status, :progress, 1, '2021-07-01', '2021-07-01')"
                    ),
                    {"id": number, "status": status, "progress": progress},
                )
        upgrade()
        with db.engine.connect() as connection:
            flags = connection.execute(
                sa.text("SELECT project_id, personal_data_found FROM monitoring_return ORDER BY project_id")
            ).all()
        db.session.remove()
        db.engine.dispose()
    assert [(project, bool(flag)) for project, flag in flags] == [(1, True), (2, False), (3, False)]
