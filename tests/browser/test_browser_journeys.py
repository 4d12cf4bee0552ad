"""What users notice: signing in and out, seeing only their own projects, the figures, the keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Organisation, Project
from tests.browser.browser_helpers import DEMO_PASSWORD, sign_in

pytestmark = pytest.mark.browser

DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
KENWARD_PROJECT = "Youth Diversionary & Targeted Youth Project against substance misuse"


@pytest.fixture(scope="session")
def kenward_project_id(live_server) -> int:
    with live_server.app.app_context():
        project_id = db.session.scalar(
            select(Project.id)
            .join(Organisation, Project.organisation_id == Organisation.id)
            .where(Organisation.short_name == "Kenward", Project.name == KENWARD_PROJECT)
            .order_by(Project.id.desc())
            .limit(1)
        )
        db.session.remove()
    assert project_id is not None, "the demo data has no Kenward project"
    return project_id


def test_partner_sees_own_projects_and_not_another_organisations(page: Page, base_url: str, kenward_project_id: int):
    sign_in(page, "davss@demo.test")
    expect(page).to_have_url(base_url + "/partner/")
    main = page.get_by_role("main")
    expect(main.get_by_role("link", name=DAVSS_PROJECT, exact=True)).to_be_visible()
    expect(main).not_to_contain_text(KENWARD_PROJECT)

    response = page.goto(f"/partner/projects/{kenward_project_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text(KENWARD_PROJECT)


def test_partner_can_open_own_project(page: Page):
    sign_in(page, "davss@demo.test")
    page.get_by_role("main").get_by_role("link", name=DAVSS_PROJECT, exact=True).click()
    expect(page).to_have_url(re.compile(r".*/partner/projects/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(DAVSS_PROJECT)


def test_skip_link_is_first_and_sign_in_works_by_keyboard(page: Page, base_url: str):
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()  # GOV.UK's skip link shows itself on focus

    page.keyboard.press("Enter")  # to the main content; the next Tab reaches the form
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type("davss@demo.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page).to_have_url(base_url + "/partner/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your projects in")
    expect(page.get_by_role("main").get_by_role("link", name=DAVSS_PROJECT, exact=True)).to_be_visible()


def test_finance_sees_the_years_funding_figures(page: Page):
    sign_in(page, "finance@demo.test")
    page.goto("/finance/2021-22/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding streams 2021-22")
    rows = page.get_by_role("main").locator(".govuk-summary-list__row")
    for label, amount in (("Total", "£34,218.00"), ("Awarded", "£22,812.00"), ("Unallocated", "£11,406.00")):
        row = rows.filter(has_text=label)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(amount)
        expect(row.get_by_text(amount, exact=True)).to_be_visible()


def test_sign_out_returns_to_sign_in(page: Page, base_url: str):
    sign_in(page, "csu@demo.test")
    expect(page).to_have_url(base_url + "/csu/")
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base_url + "/sign-in")
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    page.goto("/csu/")  # signed out for real: back to the sign-in page
    expect(page).to_have_url(re.compile(r".*/sign-in\?next=.*"))
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
