"""The CSU gives a partner more time for a return on the project page: the error state, the new date in
the returns table, an audit row, and axe on each page.

The live server is shared by the whole session: this works on the Sevenoaks CSU's own project in the
current year, which has no partner account and which no other browser test looks at. The quarter and
the dates are worked out from today's date, never hard-coded.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.calendar import current_start_year, uk_today
from portal.extensions import db
from portal.models import AuditEvent, FinancialYear, Organisation, Project, ReturnArrangement
from tests.browser.browser_helpers import assert_accessible, sign_in

pytestmark = pytest.mark.browser

ORGANISATION = "Sevenoaks CSU"


@dataclass(frozen=True)
class Target:
    project_id: int
    project_name: str
    year_label: str
    quarter: int
    usual_due: date
    new_due: date


def target(live_server) -> Target:
    """The latest quarter of the Sevenoaks CSU's project whose usual due date has passed (else Q1)."""
    with live_server.app.app_context():
        try:
            project = db.session.scalar(
                select(Project)
                .join(Organisation, Project.organisation_id == Organisation.id)
                .join(FinancialYear, Project.year_id == FinancialYear.id)
                .where(Organisation.short_name == ORGANISATION, FinancialYear.start_year == current_start_year())
            )
            assert project is not None
            today = uk_today()
            passed = [q for q in project.year.quarters if q.due < today]
            quarter = passed[-1] if passed else project.year.quarter(1)
            new_due = max(quarter.due, today) + timedelta(days=60)
            return Target(project.id, project.name, project.year.label, quarter.number, quarter.due, new_due)
        finally:
            db.session.remove()


def saved(live_server, project_id: int, quarter: int) -> tuple[ReturnArrangement | None, list[AuditEvent]]:
    with live_server.app.app_context():
        try:
            arrangement = db.session.scalar(
                select(ReturnArrangement).where(
                    ReturnArrangement.project_id == project_id, ReturnArrangement.quarter == quarter
                )
            )
            events = list(
                db.session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.action == "return_arrangement.set", AuditEvent.object_id == project_id
                    )
                )
            )
            if arrangement is not None:
                db.session.expunge(arrangement)
            for event in events:
                db.session.expunge(event)
            return arrangement, events
        finally:
            db.session.remove()


def uk_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def test_the_csu_extends_a_due_date(page: Page, live_server, js_errors: list[str]):
    aim = target(live_server)
    sign_in(page, "csu@demo.test")
    page.goto(f"/csu/{aim.year_label}/")
    with page.expect_navigation():
        page.locator("#budget-table").get_by_role("link", name=aim.project_name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(aim.project_name)
    project_url = page.url
    returns = page.locator("#returns-table")
    row = returns.locator("tbody tr").nth(aim.quarter - 1)
    expect(row.locator("td").first).to_have_text(uk_day(aim.usual_due))
    if aim.usual_due < uk_today():
        expect(row).to_contain_text("Overdue")
    heading = page.get_by_role("heading", name="Change a due date")
    expect(heading).to_be_visible()
    assert_accessible(page)

    # Nothing chosen: the errors beside the fields and in the summary, and nothing saved.
    with page.expect_navigation():
        page.get_by_role("button", name="Save due date").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_role("alert")
    for message in ("Select a quarter", "Select what you want to change", "Enter the reason for the change"):
        expect(summary).to_contain_text(message)
    expect(page.locator(".govuk-error-message")).to_have_count(3)
    assert saved(live_server, aim.project_id, aim.quarter) == (None, [])
    assert_accessible(page)

    form = page.locator("#due-date-form")
    form.get_by_role("group", name="Which return?").get_by_label(f"Q{aim.quarter}", exact=True).check()
    form.get_by_label("Extend the due date").check()
    new_date = form.get_by_role("group", name="New due date")
    new_date.get_by_label("Day").fill(str(aim.new_due.day))
    new_date.get_by_label("Month").fill(str(aim.new_due.month))
    new_date.get_by_label("Year").fill(str(aim.new_due.year))
    reason = f"Browser test: the officer is on leave ({secrets.token_hex(3)})"
    form.get_by_label("Reason for the change").fill(reason)
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Save due date").click()

    expect(page).to_have_url(f"{project_url}#due-dates")
    expect(page.get_by_text(f"The Q{aim.quarter} due date has been saved.")).to_be_visible()
    row = page.locator("#returns-table tbody tr").nth(aim.quarter - 1)
    expect(row.locator("td").first).to_contain_text(f"{uk_day(aim.new_due)} (extended)")
    expect(row.locator("td").first).to_contain_text(reason)
    expect(row).not_to_contain_text("Overdue")
    assert_accessible(page)

    arrangement, events = saved(live_server, aim.project_id, aim.quarter)
    assert arrangement is not None and (arrangement.due_on, arrangement.not_required) == (aim.new_due, False)
    assert [event.details["after"]["due_on"] for event in events] == [aim.new_due.isoformat()]
    assert js_errors == []
