"""Each project's overview row (models/summary.py) equals a fresh computation by services/delivery.py after every
kind of write, in the same transaction; `flask summaries rebuild` repairs a row; and the CSU overview filters,
sorts, totals and pages in SQL from those rows."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.models import MonitoringReturn, Payment, Project, ProjectSummary, User
from portal.services import ledger, setup
from portal.services import returns as returns_service
from portal.services import summary as service
from portal.services.arrangements import set_arrangement
from portal.services.delivery import project_delivery
from portal.services.ratings import set_csu_rating
from portal.services.year_import import import_year

DEMO = Path(__file__).resolve().parent.parent / "portal" / "demo"
FIGURES = [
    column.key for column in ProjectSummary.__table__.columns if column.key not in ("computed_at", "stale_after")
]


def stored(project: Project) -> dict:
    """The row as committed, read afresh."""
    db.session.expire_all()
    row = db.session.get(ProjectSummary, project.id)
    assert row is not None, f"no summary row for {project.name}"
    return {name: getattr(row, name) for name in FIGURES}


def fresh(project: Project) -> dict:
    """The row computed now from the one definition, never stored."""
    db.session.expire_all()
    row = ProjectSummary(project_id=project.id)
    service._write(row, project_delivery(db.session.get(Project, project.id)), datetime.now(UTC))
    return {name: getattr(row, name) for name in FIGURES}


def assert_in_step(*projects: Project) -> None:
    for project in projects:
        assert stored(project) == fresh(project), project.name


def answer(project: Project, partner, quarter: int = 1, *, referrals: int = 64, spend: int = 250_000):
    mreturn = returns_service.save_outputs(
        project, quarter, {project.measures[0].id: Decimal(referrals)}, version=0, by=partner
    )
    mreturn = returns_service.save_spend(project, quarter, spend, None, version=mreturn.version, by=partner)
    answers = {"progress": "On track.", "case_study": "A case.", "challenges": "None.", "partner_rag": "green"}
    answers["partner_rag_reason"] = "As planned."
    mreturn = returns_service.save_narrative(project, quarter, answers, version=mreturn.version, by=partner)
    db.session.commit()
    return mreturn


def submit(project: Project, partner, quarter: int = 1) -> MonitoringReturn:
    mreturn = answer(project, partner, quarter)
    key = f"key-{project.id}-{quarter}".ljust(32, "0")
    returns_service.submit_return(project, quarter, version=mreturn.version, submission_key=key, by=partner)
    db.session.commit()
    return db.session.scalar(select(MonitoringReturn).where(MonitoringReturn.project_id == project.id))


@pytest.fixture
def world(two_orgs):
    """two_orgs, with DAVSS's return for Q1 submitted (2021-22: every quarter is due)."""
    submit(two_orgs["davss_project"], two_orgs["partner_a"])
    return two_orgs


# -- after each kind of write ---------------------------------------------------------------------


def test_a_new_project_has_its_row(two_orgs):
    project = two_orgs["kenward_project"]
    assert stored(project)["q1_status"] == "not_started" and stored(project)["q1_overdue"] is True
    assert_in_step(project, two_orgs["davss_project"])


def test_submit(world):
    project = world["davss_project"]
    row = stored(project)
    assert (row["q1_status"], row["reported_spend_pence"], row["partner_rag"]) == ("submitted", 250_000, "green")
    assert row["delivery_pct"] is not None
    assert_in_step(project, world["kenward_project"])


def test_a_draft_bears_on_the_status_only(two_orgs):
    project = two_orgs["davss_project"]
    answer(project, two_orgs["partner_a"])
    row = stored(project)
    assert (row["q1_status"], row["reported_spend_pence"], row["delivery_pct"]) == ("draft", 0, Decimal("0.0"))
    assert_in_step(project)


@pytest.mark.parametrize("review", ["approve", "send back", "reopen"])
def test_review(world, review):
    project, csu = world["davss_project"], world["csu"]
    mreturn = db.session.scalar(select(MonitoringReturn).where(MonitoringReturn.project_id == project.id))
    if review == "send back":
        returns_service.request_changes(mreturn, version=mreturn.version, comment="Check the spend.", by=csu)
        expected = ("changes_requested", 0)
    else:
        mreturn = returns_service.approve_return(mreturn, version=mreturn.version, by=csu)
        expected = ("approved", 250_000)
        if review == "reopen":
            db.session.commit()
            returns_service.reopen_return(mreturn, version=mreturn.version, reason="The spend was wrong.", by=csu)
            expected = ("changes_requested", 0)
    db.session.commit()
    row = stored(project)
    assert (row["q1_status"], row["reported_spend_pence"]) == expected
    assert_in_step(project)


def test_payment_and_reversal(world):
    project, finance = world["davss_project"], world["finance"]
    payment = ledger.record_payment(
        project, amount_pence=400_000, paid_on=date(2021, 5, 1), reference="P1", note=None, reason=None, by=finance
    )
    db.session.commit()
    assert stored(project)["paid_pence"] == 400_000
    assert_in_step(project)
    ledger.reverse_payment(db.session.get(Payment, payment.id), reason="Paid to the wrong account.", by=finance)
    db.session.commit()
    assert stored(project)["paid_pence"] == 0
    assert_in_step(project)


def test_variation(world):
    project = world["davss_project"]
    ledger.vary_award(project, to_pence=500_000, reason="Underspend returned.", by=world["finance"])
    db.session.commit()
    row = stored(project)
    assert (row["award_pence"], row["spend_pct_of_award"]) == (500_000, Decimal("50.0"))
    assert_in_step(project)


def test_rating(world):
    project = world["davss_project"]
    set_csu_rating(project, 1, "amber", "Referrals are behind.", by=world["csu"])
    db.session.commit()
    assert stored(project)["csu_rag"] == "amber"
    assert_in_step(project)


def test_due_date_arrangement(world):
    project = world["kenward_project"]
    set_arrangement(project, 2, "not_required", due_on=None, reason="Closed for refurbishment.", by=world["csu"])
    db.session.commit()
    row = stored(project)
    assert (row["q2_not_required"], row["q2_overdue"]) == (True, False)
    assert_in_step(project)


def test_set_up_edit_of_a_measure(world):
    project = world["davss_project"]
    assert stored(project)["delivery_pct"] is not None
    setup.retire_measure(project.measures[0], by=world["csu"])  # its only measure: no delivery figure left
    db.session.commit()
    assert stored(project)["delivery_pct"] is None
    assert_in_step(project)


def test_set_up_edit_of_the_year_due_days(make_org, make_year, make_stream, make_project, make_user):
    """The current year: a longer time to report makes a quarter no longer overdue, for every project."""
    today = datetime.now(UTC).date()
    year = make_year(today.year if today.month >= 4 else today.year - 1, return_due_days=0)
    project = make_project(make_org(), make_stream(year), measures=[{"name": "People"}])
    overdue = [q for q in range(1, 5) if stored(project)[f"q{q}_overdue"]]
    setup.update_year(year, return_due_days=120, by=make_user())
    db.session.commit()
    assert_in_step(project)
    now_overdue = [q for q in range(1, 5) if stored(project)[f"q{q}_overdue"]]
    if overdue:  # on the first days of a financial year nothing is overdue either way
        assert len(now_overdue) < len(overdue)


def test_year_import(app):
    import_year((DEMO / "2020-21.yaml").read_text(encoding="utf-8"))
    db.session.commit()
    projects = list(db.session.scalars(select(Project)))
    assert projects and db.session.scalar(select(func.count()).select_from(ProjectSummary)) == len(projects)
    assert any(stored(project)["q1_reported"] for project in projects)
    assert_in_step(*projects)


def test_a_rolled_back_write_leaves_the_row(world):
    project = world["davss_project"]
    before = stored(project)
    set_csu_rating(project, 1, "red", "Behind.", by=world["csu"])
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # nothing noted is left over to write
    assert stored(project) == before


def _pay_in_thread(app, ids: tuple[int, int], amount: int, barrier: threading.Barrier, after_flush: bool, errors):
    project_id, user_id = ids
    with app.app_context():
        try:
            if not after_flush:
                barrier.wait()
            project, user = db.session.get_one(Project, project_id), db.session.get_one(User, user_id)
            ledger.record_payment(
                project, amount_pence=amount, paid_on=date(2021, 5, 1), reference=None, note=None, reason=None, by=user
            )
            db.session.flush()
            if after_flush:
                barrier.wait()  # both transactions have written; both commit at once
            db.session.commit()
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            db.session.remove()


@pytest.mark.parametrize("same_project", [False, True], ids=["two projects", "one project"])
def test_concurrent_writes(app, world, same_project):
    """Two threads pay at once. On PostgreSQL both have written before either commits (SQLite's writers queue at
    BEGIN, so there they start together); each project's row ends with every payment."""
    first, second = world["davss_project"], world["kenward_project"]
    targets = [first.id, first.id if same_project else second.id]
    db.session.commit()
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    barrier = threading.Barrier(2, timeout=30)
    errors: list[Exception] = []
    threads = [
        threading.Thread(
            target=_pay_in_thread, args=(app, (project_id, world["finance"].id), amount, barrier, postgresql, errors)
        )
        for project_id, amount in zip(targets, (100_000, 20_000), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.session.rollback()  # read what the threads committed
    paid = {project.id: stored(project)["paid_pence"] for project in (first, second)}
    assert paid == ({first.id: 120_000, second.id: 0} if same_project else {first.id: 100_000, second.id: 20_000})
    assert_in_step(first, second)


# -- rebuilding, and rows that pass their date ------------------------------------------------------


def test_rebuild_repairs_a_tampered_row(world, runner):
    project = world["davss_project"]
    db.session.execute(update(ProjectSummary).values(paid_pence=123, q1_status="approved", delivery_rag=None))
    db.session.commit()
    assert stored(project)["paid_pence"] == 123
    result = runner.invoke(args=["summaries", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "2 project(s) computed afresh" in result.output
    assert stored(project)["paid_pence"] == 0 and stored(project)["q1_status"] == "submitted"
    assert_in_step(project, world["kenward_project"])


def test_a_row_holds_until_a_quarter_opens_or_a_return_falls_due(two_orgs):
    project = two_orgs["kenward_project"]  # 2021-22, 14 days to report
    q2_opens = datetime(2021, 6, 30, 23, 0, tzinfo=UTC)  # 1 July, midnight in BST
    q1_overdue = datetime(2021, 7, 14, 23, 0, tzinfo=UTC)  # 15 July, midnight in BST
    before = q2_opens - timedelta(microseconds=1)
    assert service.next_change(project_delivery(project, now=before), before) == q2_opens
    assert not project_delivery(project, now=before).is_open(2) and project_delivery(project, now=q2_opens).is_open(2)
    assert service.next_change(project_delivery(project, now=q2_opens), q2_opens) == q1_overdue
    assert project_delivery(project, now=q1_overdue).is_overdue(1)
    assert not project_delivery(project, now=q1_overdue - timedelta(microseconds=1)).is_overdue(1)
    both = sorted([project.id, two_orgs["davss_project"].id])
    assert sorted(service.stale_project_ids(two_orgs["year"], now=before)) == both  # computed in a later year
    service.refresh_summaries(both, now=before)
    db.session.commit()
    assert service.stale_project_ids(two_orgs["year"], now=before) == []
    assert sorted(service.stale_project_ids(two_orgs["year"], now=q2_opens)) == both


def test_the_overview_computes_stale_and_missing_rows_before_reading(world, client, login):
    project = world["davss_project"]
    passed = datetime(2021, 7, 1, tzinfo=UTC)
    db.session.execute(update(ProjectSummary).values(reported_spend_pence=7, stale_after=passed))
    db.session.execute(delete(ProjectSummary).where(ProjectSummary.project_id == world["kenward_project"].id))
    db.session.commit()
    login(client, world["csu"])
    page = client.get("/csu/2021-22/").text
    assert "£2,500.00" in page and "£0.07" not in page
    assert "Youth Diversionary" in page
    assert_in_step(project, world["kenward_project"])


def test_a_database_that_cannot_be_written_still_shows_the_overview(world, client, login, monkeypatch):
    """Stale rows that cannot be computed again (disk full, read-only) are shown as they are, not a 503."""
    db.session.execute(update(ProjectSummary).values(stale_after=datetime(2021, 7, 1, tzinfo=UTC)))
    db.session.commit()

    def cannot_write(*args, **kwargs):
        raise OperationalError("UPDATE project_summary", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(service, "refresh_summaries", cannot_write)
    login(client, world["csu"])
    response = client.get("/csu/2021-22/")
    assert response.status_code == 200 and "£2,500.00" in response.text


def test_demo_load_leaves_every_row_filled(app):
    from portal.services import demo

    demo.load("a demo password long enough")
    db.session.commit()
    projects = list(db.session.scalars(select(Project)))
    assert db.session.scalar(select(func.count()).select_from(ProjectSummary)) == len(projects) > 5
    assert_in_step(*projects)


# -- the overview, a page at a time ---------------------------------------------------------------


@pytest.fixture
def sixty(make_org, make_year, make_stream, make_project, make_user):
    """60 projects of 2021-22 over three organisations, award rising with the number; and a CSU user."""
    year = make_year(2021)
    stream = make_stream(year, amount_pence=10_000_000_00)
    orgs = [make_org("ALPHA", "Alpha Trust"), make_org("BETA", "Beta Services"), make_org("GAMMA", "Gamma Aid")]
    made = []

    def grow(count: int) -> None:
        for number in range(len(made), len(made) + count):
            award = 100_00 * (number + 1)
            made.append(make_project(orgs[number % 3], stream, f"Project {number:02d}", amount_pence=award))

    return {"grow": grow, "made": made, "csu": make_user("c@x.example")}


def names(html: str) -> list[str]:
    return re.findall(r'href="/csu/projects/\d+">(Project \d+)</a>', html)


def test_page_two_shows_rows_26_to_50(sixty, client, login):
    sixty["grow"](60)
    login(client, sixty["csu"])
    page = client.get("/csu/2021-22/?sort=award&page=2").text
    assert names(page) == [f"Project {n:02d}" for n in range(25, 50)]
    assert "60 of 60 projects, showing 26 to 50 (page 2 of 3)" in page
    assert 'class="govuk-pagination' in page
    assert 'href="/csu/2021-22/?sort=award&amp;dir=asc&amp;page=3"' in page or "page=3" in page
    assert "Total of all 60 projects" in page and "£183,000.00" in page  # £100 × (1 + … + 60)


def test_filters_and_sort_by_url_with_and_without_htmx(sixty, client, login):
    sixty["grow"](60)
    login(client, sixty["csu"])
    url = "/csu/2021-22/?organisation=beta&sort=award&dir=desc&page=2"
    full = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    beta = [n for n in range(60) if n % 3 == 1]  # 20 projects: page 2 holds none of 25 a page
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.text and "<html" not in fragment.text
    assert 'id="budget-table"' in fragment.text and 'id="overview-filters"' not in fragment.text
    for html in (full.text, fragment.text):
        # a page past the last shows the last: here the only one, award highest first
        assert names(html) == [f"Project {n:02d}" for n in sorted(beta, reverse=True)]
        assert "20 of 60 projects" in html
        assert "Total of the 20 projects that match" in html
        assert f"£{sum(100 * (n + 1) for n in beta):,}.00" in html
    assert 'value="beta"' in full.text  # the filter keeps what was typed
    gamma_page_1 = client.get("/csu/2021-22/?organisation=GAMMA&sort=project&dir=desc", headers={"HX-Request": "true"})
    gamma = sorted((n for n in range(60) if n % 3 == 2), reverse=True)
    assert names(gamma_page_1.text) == [f"Project {n:02d}" for n in gamma]


def test_a_status_and_rag_filter_page_in_sql(sixty, client, login):
    sixty["grow"](30)
    login(client, sixty["csu"])
    every = client.get("/csu/2021-22/?status=overdue").text
    assert "30 of 30 projects, showing 1 to 25 (page 1 of 2)" in every
    assert "No projects match" in client.get("/csu/2021-22/?status=submitted").text
    assert "30 of 30 projects" in client.get("/csu/2021-22/?rag=none&spend_rag=red").text


def test_overview_queries_are_the_same_at_5_and_60_projects(sixty, client, login, count_queries):
    login(client, sixty["csu"])
    counts = []
    for size in (5, 55):
        sixty["grow"](size)
        client.get("/csu/2021-22/")  # any stale rows computed
        with count_queries() as counter:
            response = client.get("/csu/2021-22/?organisation=a&sort=delivery&dir=desc&page=2")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
