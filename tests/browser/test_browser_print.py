"""The annual report, a project's page (CSU's and partner's) and the reconciliation print on A4 as a document:
no navigation, header, footer, buttons or forms, every table shown in full and no row split across pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import sign_in

pytestmark = pytest.mark.browser

# Which pages, reached as each role would: (who, start page, the link to follow from it).
PRINTED = {
    "annual report": ("csu@demo.test", "/csu/", "a[href*='/annual-report']:not([href$='.docx'])"),
    "CSU project page": ("csu@demo.test", "/csu/", "#budget-table a[href*='/csu/projects/']"),
    "partner project page": ("davss@demo.test", "/partner/", "main a[href*='/partner/projects/']"),
    "reconciliation": ("finance@demo.test", "/finance/", "a[href*='/reconciliation']"),
}
HIDDEN_IN_PRINT = (
    ".govuk-service-navigation",
    ".govuk-template__header",
    ".govuk-footer",
    ".govuk-phase-banner",
    ".govuk-button",
)
STYLE = "(element, property) => getComputedStyle(element)[property]"


def open_printed(page: Page, name: str) -> None:
    email, start, link = PRINTED[name]
    sign_in(page, email)
    page.goto(start)
    page.locator(link).first.click()
    page.wait_for_load_state("load")
    page.emulate_media(media="print")


@pytest.mark.parametrize("name", PRINTED)
def test_page_prints_as_a_document(page: Page, name: str):
    page.set_viewport_size({"width": 390, "height": 800})
    open_printed(page, name)
    assert page.locator("main table").count() > 0, f"{name}: no table to print"
    for selector in HIDDEN_IN_PRINT:
        for element in page.locator(selector).all():
            assert element.evaluate(STYLE, "display") == "none", f"{name}: {selector} prints"
    # Forms print only where they hold a table (the due list's selection): no filters, no buttons.
    for form in page.locator("main form").all():
        if form.locator("table").count() == 0:
            assert not form.is_visible(), f"{name}: a form prints"
    regions = page.locator(".portal-table-scroll").all()
    assert regions, f"{name}: no scrolling region"
    for region in regions:
        assert region.evaluate(STYLE, "overflowX") == "visible", f"{name}: a table is clipped in print"
    row = page.locator("main table tbody tr").first
    assert row.evaluate(STYLE, "breakInside") == "avoid", f"{name}: a row may be split across pages"
    heading = page.locator("main h1").first
    assert heading.evaluate(STYLE, "breakAfter") == "avoid"


def test_annual_report_prints_to_a4(page: Page):
    open_printed(page, "annual report")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    # A4 is 595 x 842 points: the stylesheet's @page size is the one used.
    assert b"/MediaBox [0 0 595" in pdf or b"/MediaBox [0 0 594" in pdf, pdf[:2000]


def test_on_screen_the_navigation_and_scrolling_stay(page: Page):
    """The print rules are for print only: on screen the same page keeps its navigation and scrolling tables."""
    sign_in(page, "davss@demo.test")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/partner/")
    with page.expect_navigation():
        page.locator("main a[href*='/partner/projects/']").first.click()
    expect(page.locator(".govuk-service-navigation")).to_be_visible()
    region = page.locator(".portal-table-scroll").first
    assert region.evaluate(STYLE, "overflowX") == "auto"
