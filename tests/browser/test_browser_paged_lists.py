"""Every paged list but the overview (test_browser_csu.py has that one) in the browser: the CSU's projects by
priority, review queue, due list and annual report, and finance's home, reconciliation and ledger. For each, the
pagination landmark found by its name with page 1 marked current, axe on page 1 and page 2, and the next page
followed with JavaScript (swapped in place where the page links carry hx-get, the address pushed) and without it (a
plain link), the address holding the page and the filter so the page can be bookmarked.

The lists are paged on data no other test reads: the 30 projects of conftest's `paged_year` (removed afterwards),
and for the review queue 30 returns submitted in 2015-16 through the returns service. A submission's revision and
audit rows are append-only, so those cannot be removed: at the end of the module the returns are approved through
the service and 2015-16 is closed, leaving the review queue and the due list as they were.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    FinancialYear,
    FundingStream,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Project,
    User,
)
from portal.models.types import utcnow
from portal.models.user import PARTNER
from portal.models.vocabulary import SUBMITTED
from portal.services import returns as service
from portal.services.users import create_user
from tests.browser.browser_helpers import (
    DEMO_PASSWORD,
    assert_accessible,
    assert_accessible_without_javascript,
    sign_in,
)
from tests.browser.test_browser_csu import mark_document, same_document

pytestmark = pytest.mark.browser

CSU = "csu@demo.test"
FINANCE = "finance@demo.test"
REVIEW_YEAR = 2015  # 2015-16: no other test reads it
REVIEW_RETURNS = 30
REVIEW_PARTNER = "paged.reviews@demo.test"


@dataclass(frozen=True)
class WaitingReturns:
    count: int  # every return waiting for review: the demo's and other tests' first, then these
    pages: int

    @property
    def last_on_page_2(self) -> int:
        return min(self.count, 50)


def _submit_first_quarter(project: Project, partner: User) -> None:
    """Q1 submitted through the service as the partner would: outputs, spend on profile, the narrative."""
    measure = project.measures[0]
    mreturn = service.save_outputs(project, 1, {measure.id: Decimal(3)}, version=0, by=partner)
    spend = project.amount_pence // 4
    assert service.spend_explanation_reason(project, 1, spend) is None
    mreturn = service.save_spend(project, 1, spend, None, version=mreturn.version, by=partner)
    answers = {"progress": "On track.", "case_study": "A case.", "partner_rag": "green"}
    answers["partner_rag_reason"] = "As planned."
    mreturn = service.save_narrative(project, 1, answers, version=mreturn.version, by=partner)
    service.submit_return(project, 1, version=mreturn.version, submission_key=secrets.token_hex(16), by=partner)
    db.session.commit()


@pytest.fixture(scope="module")
def waiting_returns(live_server) -> Iterator[WaitingReturns]:
    """30 returns waiting for review, the newest in the queue (it lists every year's, oldest first)."""
    with live_server.app.app_context():
        before = service.review_queue().page.matched
        year = FinancialYear(start_year=REVIEW_YEAR, return_due_days=14)
        stream = FundingStream(year=year, name="Reviewed stream", funder="Reviewed funder", amount_pence=10_000_000)
        org = Organisation(short_name="REVIEWED", name="Reviewed Organisation")
        db.session.add_all([year, stream, org])
        projects = []
        for number in range(REVIEW_RETURNS):
            project = Project(
                organisation=org,
                year=year,
                funding_stream=stream,
                name=f"Reviewed project {number:02d}",
                amount_pence=400_00,
                actions=[],
            )
            db.session.add(OutputMeasure(project=project, position=0, name="People", unit="people", combine="sum"))
            projects.append(project)
        partner = create_user(REVIEW_PARTNER, roles=[PARTNER], password=DEMO_PASSWORD, organisation=org)
        db.session.commit()
        year_id = year.id
        for project in projects:
            _submit_first_quarter(project, partner)
        matched = service.review_queue().page
        assert matched.matched == before + REVIEW_RETURNS
        found = WaitingReturns(count=matched.matched, pages=matched.pages)
        db.session.remove()
    yield found
    with live_server.app.app_context():
        csu = db.session.scalar(select(User).where(User.email == CSU))
        waiting = db.session.scalars(
            select(MonitoringReturn)
            .join(Project, Project.id == MonitoringReturn.project_id)
            .where(Project.year_id == year_id, MonitoringReturn.status == SUBMITTED)
        ).all()
        for mreturn in waiting:
            service.approve_return(mreturn, version=mreturn.version, by=csu)
        db.session.get(FinancialYear, year_id).closed_at = utcnow()  # off the due list
        db.session.commit()
        assert service.review_queue().page.matched == before, "the review queue was not left as it was"
        db.session.remove()


@dataclass(frozen=True)
class PagedList:
    """One paged list: where page 1 is (with any filter; formatted with the data fixture's value as `data`), whose
    it is, its landmark's name, what says which rows are shown, on page 1 and page 2, and whether its page links
    swap the list in place."""

    data: str  # the fixture that fills it
    path: str
    user: str
    landmark: str
    status: str  # a CSS selector
    page_1: str
    page_2: str
    in_place: bool = True

    def address(self, data, page: int = 1) -> str:
        path = self.path.format(data=data)
        return path if page == 1 else f"{path}{'&' if '?' in path else '?'}page={page}"


LISTS = {
    "priorities": PagedList(
        "paged_year",
        "/csu/{data.label}/priorities?priority={data.priority_id}",
        CSU,
        "Pages of projects by priority",
        "#priority-projects caption",
        "Projects serving 1. Paged priority: 27 projects, showing 1 to 25 (page 1 of 2)",
        "Projects serving 1. Paged priority: 27 projects, showing 26 to 27 (page 2 of 2)",
    ),
    "review-queue": PagedList(
        "waiting_returns",
        "/csu/reviews",
        CSU,
        "Pages of returns to review",
        "#review-queue caption",
        "{data.count} submitted returns, oldest first: showing 1 to 25 (page 1 of {data.pages})",
        "{data.count} submitted returns, oldest first: showing 26 to {data.last_on_page_2} (page 2 of {data.pages})",
    ),
    "due-list": PagedList(
        "paged_year",
        "/csu/due?year={data.label}",
        CSU,
        "Pages of returns due and overdue",
        "#due-table caption",
        "showing 1 to 25 (page 1 of 5)",  # 120 returns: each project's four quarters, overdue
        "showing 26 to 50 (page 2 of 5)",
    ),
    "annual-report": PagedList(
        "paged_year",
        "/csu/{data.label}/annual-report",
        CSU,
        "Pages of the annual report",
        "[data-page-range]",
        "Showing projects 1 to 15 of 30, page 1 of 2.",
        "Showing projects 16 to 30 of 30, page 2 of 2.",
        in_place=False,  # plain links: each page is a part of the report to print
    ),
    "finance-home": PagedList(
        "paged_year",
        "/finance/{data.label}/",
        FINANCE,
        "Pages of projects",
        "#funding-table caption",
        "30 projects, showing 1 to 25 (page 1 of 2)",
        "30 projects, showing 26 to 30 (page 2 of 2)",
    ),
    "reconciliation": PagedList(
        "paged_year",
        "/finance/{data.label}/reconciliation",
        FINANCE,
        "Pages of the reconciliation",
        "#reconciliation-caption",
        "30 projects, showing 1 to 25 (page 1 of 2)",
        "30 projects, showing 26 to 30 (page 2 of 2)",
    ),
    "ledger": PagedList(
        "paged_year",
        "/finance/{data.label}/ledger",
        FINANCE,
        "Pages of project ledgers",
        "#ledger-tables-status",
        "Projects 1 to 25 of 30 (page 1 of 2)",
        "Projects 26 to 30 of 30 (page 2 of 2)",
    ),
}


@pytest.fixture(params=list(LISTS))
def paged(request) -> tuple[PagedList, object]:
    listed = LISTS[request.param]
    return listed, request.getfixturevalue(listed.data)


def test_the_next_page_with_javascript(page: Page, paged, base_url: str, js_errors: list[str]):
    listed, data = paged
    sign_in(page, listed.user)
    page.goto(listed.address(data))
    page.wait_for_load_state("networkidle")  # htmx has processed the page
    status = page.locator(listed.status)
    expect(status).to_contain_text(listed.page_1.format(data=data))
    pages = page.get_by_role("navigation", name=listed.landmark, exact=True)
    expect(pages.get_by_role("link", name="Page 1", exact=True)).to_have_attribute("aria-current", "page")
    expect(pages.locator("[aria-current]")).to_have_count(1)
    assert_accessible(page)
    mark_document(page)

    pages.get_by_role("link", name="Next").click()
    expect(status).to_contain_text(listed.page_2.format(data=data))
    expect(page).to_have_url(base_url + listed.address(data, 2))
    expect(pages.get_by_role("link", name="Page 2", exact=True)).to_have_attribute("aria-current", "page")
    expect(pages.get_by_role("link", name="Page 1", exact=True)).not_to_have_attribute("aria-current", "page")
    page.wait_for_load_state("networkidle")
    if listed.in_place:
        assert same_document(page), "the page link reloaded the page instead of swapping the list"
    else:
        assert not same_document(page), "the page link was expected to load the next page"
    assert_accessible(page)

    page.reload()  # the address pushed is the page: a bookmark of it opens page 2
    expect(status).to_contain_text(listed.page_2.format(data=data))
    expect(pages.get_by_role("link", name="Page 2", exact=True)).to_have_attribute("aria-current", "page")
    assert js_errors == []


def test_the_next_page_without_javascript(new_context, browser: Browser, paged, base_url: str):
    listed, data = paged
    plain = new_context(java_script_enabled=False).new_page()
    sign_in(plain, listed.user)
    plain.goto(listed.address(data))
    expect(plain.locator(listed.status)).to_contain_text(listed.page_1.format(data=data))
    pages = plain.get_by_role("navigation", name=listed.landmark, exact=True)
    expect(pages.get_by_role("link", name="Page 1", exact=True)).to_have_attribute("aria-current", "page")

    with plain.expect_navigation():
        pages.get_by_role("link", name="Page 2", exact=True).click()
    expect(plain).to_have_url(base_url + listed.address(data, 2))
    expect(plain.locator(listed.status)).to_contain_text(listed.page_2.format(data=data))
    expect(pages.get_by_role("link", name="Page 2", exact=True)).to_have_attribute("aria-current", "page")
    assert_accessible_without_javascript(plain, browser)
