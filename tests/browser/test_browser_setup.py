"""A year's set-up in the browser: the CSU sets up a year of its own, adds a funding stream (after one error),
a project awarded from it and an output measure, by keyboard where a person would type; axe on every page,
the error state included, with and without JavaScript.

The live server is shared by the whole session, so the year is one no other test uses (2031-32), and each run
names its stream and project afresh.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.browser_helpers import assert_accessible, assert_accessible_without_javascript, sign_in

pytestmark = pytest.mark.browser

YEAR = "2031-32"


@pytest.fixture
def csu(page: Page) -> Page:
    sign_in(page, "csu@demo.test")
    return page


def _year(page: Page, check: Callable[[Page], None] = assert_accessible) -> None:
    """The year's set-up page, setting the year up first when an earlier test has not; `check` runs axe on
    each page (without JavaScript, axe must run on a copy of the page)."""
    page.goto("/setup/")
    check(page)
    if page.get_by_role("link", name=YEAR, exact=True).count():
        page.get_by_role("link", name=YEAR, exact=True).click()
        return
    page.get_by_role("link", name="Set up a financial year").click()
    check(page)
    page.get_by_label("Financial year").fill(YEAR)
    page.get_by_label("Days after the end of each quarter").fill("14")
    page.get_by_role("button", name="Set up the year").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(YEAR)


def test_a_stream_a_project_and_a_measure_through_the_forms(csu: Page, js_errors: list[str]):
    page = csu
    suffix = secrets.token_hex(3)
    stream, project = f"Small grants {suffix}", f"Street safety {suffix}"
    _year(page)
    assert_accessible(page)

    # A stream, with one error first: the amount is typed with three decimal places.
    page.get_by_role("link", name="Add a funding stream").click()
    assert_accessible(page)
    page.get_by_label("Name").fill(stream)
    page.get_by_label("Funder").fill("Kent Police and Crime Commissioner")
    page.get_by_label("Amount").fill("5000.125")
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: Add a funding stream – "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Amount must have no more than 2 decimal places")
    expect(summary).to_be_focused()
    expect(page.get_by_label("Name")).to_have_value(stream)  # what was typed is kept
    assert_accessible(page)
    summary.get_by_role("link").click()
    expect(page.get_by_label("Amount")).to_be_focused()
    page.get_by_label("Amount").fill("5000.00")
    page.get_by_role("button", name="Add the funding stream").click()
    row = page.get_by_role("row", name=stream)
    expect(row).to_contain_text("£5,000.00")

    # A project awarded part of it: the form shows what the stream has left.
    page.get_by_role("link", name="Add a project").click()
    expect(page.get_by_role("row", name=stream)).to_contain_text("£5,000.00")
    assert_accessible(page)
    page.get_by_label("Organisation").select_option(label="Domestic Abuse Volunteer Support Services (DAVSS)")
    page.get_by_label("Project name").fill(project)
    page.get_by_label("Funding stream", exact=True).select_option(label=f"{stream}: £5,000.00 unallocated")
    page.get_by_label("Award", exact=True).fill("3000")
    page.get_by_label("Action-plan actions").fill("3.2, 3.5")
    page.get_by_role("button", name="Add the project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(project)
    expect(page.locator("[data-figure='award']")).to_have_text("£3,000.00")
    assert_accessible(page)

    # A measure: hours, with decimal places.
    page.get_by_role("link", name="Add an output measure").click()
    assert_accessible(page)
    page.get_by_label("Name").fill("Patrol hours")
    page.get_by_label("Unit").fill("hours")
    page.get_by_label("Added up").check()
    page.get_by_label("Up to 2 decimal places").check()
    page.get_by_label("Annual target (optional)").fill("120.5")
    page.get_by_role("button", name="Add the measure").click()
    measure = page.get_by_role("row", name="Patrol hours")
    expect(measure).to_contain_text("Up to 2 decimal places")
    expect(measure).to_contain_text("120.50")
    assert_accessible(page)

    page.get_by_role("link", name=f"Back to the set-up of {YEAR}").click()
    streams = page.get_by_role("table", name=f"Funding streams of {YEAR}")
    expect(streams.get_by_role("row", name=stream).locator("[data-figure='unallocated']")).to_have_text("£2,000.00")
    assert js_errors == []


def test_the_set_up_pages_that_check_before_a_change(csu: Page):
    """Roll-over's check page and the upload page, as the CSU sees them (nothing is confirmed)."""
    page = csu
    _year(page)
    page.get_by_role("link", name="Upload a changed set-up workbook").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Upload the set-up workbook of {YEAR}")
    assert_accessible(page)
    page.get_by_role("button", name="Upload the workbook").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the set-up workbook")
    assert_accessible(page)
    page.goto(f"/setup/{YEAR}/roll-over")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Start 2032-33 from {YEAR}")
    assert_accessible(page)


def test_the_error_state_without_javascript(new_context, browser: Browser):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, "csu@demo.test")
    _year(page, lambda shown: assert_accessible_without_javascript(shown, browser))
    page.get_by_role("link", name="Add a funding stream").click()
    assert_accessible_without_javascript(page, browser)
    page.get_by_label("Name").fill("Never saved")
    with page.expect_navigation():
        page.get_by_role("button", name="Add the funding stream").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter who gives the money")
    expect(page.locator("#funder-error")).to_contain_text("Enter who gives the money")
    assert_accessible_without_javascript(page, browser)
