"""Retention: `flask retention apply` removes old narrative text from returns and revisions, and nothing else.

Revisions stay append-only: the database lets retention set their narrative to NULL and refuses every other
UPDATE and every DELETE (SQLite here, PostgreSQL with PORTAL_TEST_BACKEND=postgresql).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal.calendar import current_start_year
from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn
from portal.models.monitoring_return import MeasureValue, ReturnRevision
from tests.test_migrations import empty_database_url, migrated_app  # noqa: F401 - the fixtures

SECRET = "Mrs Jones of TN13 1AA"
NARRATIVE = {
    "progress": f"Progress: {SECRET}",
    "case_study": f"Case study: {SECRET}",
    "challenges": f"Challenges: {SECRET}",
    "partner_rag_reason": f"Reason: {SECRET}",
    "spend_explanation": f"Spend: {SECRET}",
}


def one_return(make_year, make_stream, make_org, make_project, start_year: int) -> MonitoringReturn:
    year = make_year(start_year)
    project = make_project(
        make_org(f"ORG{start_year}", f"Organisation {start_year}"), make_stream(year), measures=[{"name": "Victims"}]
    )
    mreturn = MonitoringReturn(
        project=project,
        quarter=1,
        status="approved",
        spend_pence=12_345,
        partner_rag="green",
        review_comment=f"Review: {SECRET}",
        **NARRATIVE,
    )
    db.session.add(mreturn)
    db.session.add(MeasureValue(monitoring_return=mreturn, measure=project.measures[0], value=Decimal(7)))
    db.session.flush()
    db.session.add(
        ReturnRevision.snapshot(
            mreturn, number=1, at=datetime(start_year, 7, 10, tzinfo=UTC), by_id=None, submission_key=None
        )
    )
    db.session.commit()
    return mreturn


@pytest.fixture
def returns(make_year, make_stream, make_org, make_project):
    """A return of the last year cleared (7 years before the current one) and of the first kept (6 before)."""
    now = current_start_year()
    return {
        "old": one_return(make_year, make_stream, make_org, make_project, now - 7),
        "kept": one_return(make_year, make_stream, make_org, make_project, now - 6),
    }


def rows() -> dict[str, list[tuple]]:
    """Every return, measure value and revision, column by column."""
    with db.engine.connect() as connection:
        return {
            table: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("monitoring_return", "measure_value", "return_revision")
        }


def retention_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.applied")))


def test_dry_run_says_what_would_go_and_changes_nothing(runner, returns):
    before = rows()
    result = runner.invoke(args=["retention", "apply", "--dry-run"])
    assert result.exit_code == 0, result.output
    label = f"{current_start_year() - 6}-"
    assert "Would remove the narrative text of 1 returns and 1 revisions" in result.output
    assert f"of years before {label}" in result.output
    assert "revision case study: 1" in result.output and "return review comment: 1" in result.output
    assert SECRET not in result.output
    assert rows() == before
    assert retention_events() == []


def test_apply_removes_old_text_keeps_figures_ratings_and_newer_text_and_is_audited(runner, returns):
    before = rows()
    result = runner.invoke(args=["retention", "apply"])
    assert result.exit_code == 0, result.output
    assert "Removed the narrative text of 1 returns and 1 revisions" in result.output
    old, kept = (db.session.get(MonitoringReturn, returns[key].id) for key in ("old", "kept"))
    for column in (*NARRATIVE, "review_comment"):
        assert getattr(old, column) is None
        assert SECRET in getattr(kept, column)
    [old_revision] = old.revisions
    [kept_revision] = kept.revisions
    for column in NARRATIVE:
        assert getattr(old_revision, column) is None
        assert getattr(kept_revision, column) == NARRATIVE[column]
    # Every figure and rating stays: measure values untouched, spend, rating, status and revision figures kept.
    assert rows()["measure_value"] == before["measure_value"]
    assert (old.spend_pence, old.partner_rag, old.status, old.version) == (12_345, "green", "approved", 1)
    assert (old_revision.values, old_revision.spend_pence, old_revision.partner_rag) == (
        {"Victims": "7.00"},
        12_345,
        "green",
    )
    assert len(rows()["return_revision"]) == len(before["return_revision"])
    [event] = retention_events()
    assert event.details["returns"] == 1 and event.details["revisions"] == 1
    assert event.details["revision progress"] == 1
    assert SECRET not in str(event.details) and SECRET not in event.summary
    # Again: nothing left to remove, and still audited once per apply.
    again = runner.invoke(args=["retention", "apply"])
    assert "No narrative text before" in again.output
    assert len(retention_events()) == 2


def test_the_period_is_configurable(app, runner, returns):
    app.config["RETENTION_YEARS"] = 5
    result = runner.invoke(args=["retention", "apply"])
    assert "Removed the narrative text of 2 returns and 2 revisions" in result.output


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE return_revision SET spend_pence = 1",
        "UPDATE return_revision SET partner_rag = 'red'",
        "UPDATE return_revision SET number = 2",
        "UPDATE return_revision SET submitted_by_id = NULL, submitted_at = CURRENT_TIMESTAMP",
        "UPDATE return_revision SET progress = 'rewritten'",
        "UPDATE return_revision SET progress = NULL, spend_pence = 1",
        "DELETE FROM return_revision",
    ],
)
def test_revisions_stay_append_only_but_for_clearing_narrative(app, returns, statement):
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text(statement))


def test_the_database_lets_narrative_be_cleared(app, returns):
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE return_revision SET progress = NULL, case_study = NULL"))
        left = connection.execute(text("SELECT progress, case_study, challenges FROM return_revision")).all()
    assert all(progress is None and case is None and challenges for progress, case, challenges in left)


def test_the_privacy_notice_states_the_period(app, client):
    assert "kept for 6 years after the end of the financial year" in client.get("/privacy").text
    app.config["RETENTION_YEARS"] = 8
    assert "kept for 8 years after the end of the financial year" in client.get("/privacy").text


def test_the_migrated_database_allows_only_clearing_narrative_and_the_step_down_refuses_it(migrated_app):  # noqa: F811
    """The migration's triggers, not only the models': the same exception, undone by the downgrade."""
    from portal.services import demo

    demo.load("retention-demo-password")
    db.session.commit()
    db.session.remove()
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM return_revision")).scalar()
        connection.execute(text("UPDATE return_revision SET progress = NULL"))
    for statement in ("UPDATE return_revision SET spend_pence = 1", "DELETE FROM return_revision"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
            connection.execute(text(statement))
    downgrade(revision="7b3e9c2d4f10")  # the step before retention's exception
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("UPDATE return_revision SET case_study = NULL"))
    upgrade()
