"""The CSU's pages in the browser: the overview filtered and sorted with htmx (and without JavaScript), the
back button, a project page with its seeds' figures, charts and rating form, the annual report and its Word
download, and axe on each page.

The live server is shared by the whole session: these tests read the demo years 2020-21 and 2021-22 and
change nothing but a CSU rating on PAS's 2020-21 project, which no other test looks at.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from docx import Document
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.browser_helpers import assert_accessible, assert_accessible_without_javascript, sign_in

pytestmark = pytest.mark.browser

DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
KENWARD_PROJECT = "Youth Diversionary & Targeted Youth Project against substance misuse"
CDAP_PROJECT = "Support males through the CDAP programme"
SEVENOAKS_PROJECT = "CSU Crime Reduction initiatives"
PAS_2021_PROJECT = "Training sessions on Cyber crime and stalking"
PAS_2020_PROJECT = "Stalking advocacy support service"
ALL_2021_PROJECTS = {DAVSS_PROJECT, KENWARD_PROJECT, CDAP_PROJECT, SEVENOAKS_PROJECT, PAS_2021_PROJECT}
# 2021-22 by award, smallest first; the two £10,000.00 awards keep their order by name.
BY_AWARD = [SEVENOAKS_PROJECT, PAS_2021_PROJECT, CDAP_PROJECT, DAVSS_PROJECT, KENWARD_PROJECT]
# 2021-22 as the annual report prints it: in the order the awards were agreed.
FUNDING_TABLE = [
    ("Domestic Abuse Volunteer Support Services", DAVSS_PROJECT, "£10,000.00"),
    ("Kenward Trust", KENWARD_PROJECT, "£10,000.00"),
    ("Kent Community Domestic Abuse Perpetrators Programme", CDAP_PROJECT, "£1,500.00"),
    ("Sevenoaks Community Safety Unit", SEVENOAKS_PROJECT, "£312.00"),
    ("Protection Against Stalking", PAS_2021_PROJECT, "£1,000.00"),
]
SORTABLE = ["Organisation", "Project", "Priority", "Award", "Paid", "Reported spend", "Delivery to date"]


@pytest.fixture
def csu(page: Page) -> Page:
    sign_in(page, "csu@demo.test")
    return page


def budget_table(page: Page) -> Locator:
    return page.locator("#budget-table table")


def project_names(page: Page) -> list[str]:
    """The overview's projects, top to bottom (the second column of each body row)."""
    return budget_table(page).locator("tbody tr td:nth-child(2)").all_inner_texts()


def mark_document(page: Page) -> None:
    """A flag on this document: still there after an htmx swap, gone after a full page load."""
    page.evaluate("() => { window.portalSameDocument = true; }")


def same_document(page: Page) -> bool:
    return page.evaluate("() => window.portalSameDocument === true")


def numbers_in_row(table: Locator, measure: str) -> list[str]:
    """A measure's row of an outputs table: the cells after its header (Q1-Q4, total, target, % of target)."""
    row = table.locator("tbody tr").filter(has=table.page.get_by_role("rowheader", name=measure, exact=True))
    expect(row).to_have_count(1)
    return [text.strip() for text in row.locator("td").all_inner_texts()]


# -- the overview ----------------------------------------------------------------------------------


def test_overview_filters_by_priority_with_htmx_and_back_restores_it(csu: Page, base_url: str, js_errors: list[str]):
    page = csu
    page.goto("/csu/2021-22/")
    page.wait_for_load_state("networkidle")  # htmx has processed the page
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects overview 2021-22")
    caption = budget_table(page).locator("caption")
    expect(caption).to_contain_text("5 of 5 projects")
    assert set(project_names(page)) == ALL_2021_PROJECTS
    mark_document(page)

    page.get_by_label("Priority").select_option(label="Substance Misuse")
    expect(page).to_have_url(re.compile(r"/csu/2021-22/\?(.*&)?priority=\d+"))  # hx-push-url
    expect(caption).to_contain_text("1 of 5 projects")
    assert project_names(page) == [KENWARD_PROJECT]
    expect(budget_table(page).locator("tbody")).to_contain_text("Substance Misuse")
    assert same_document(page), "the filter reloaded the page instead of swapping the table"

    page.go_back()
    expect(page).to_have_url(base_url + "/csu/2021-22/")
    expect(caption).to_contain_text("5 of 5 projects")
    assert set(project_names(page)) == ALL_2021_PROJECTS
    expect(page.get_by_label("Priority")).to_have_value("")
    # A working page, not a body swapped in whose inline script the Content-Security-Policy refused.
    expect(page.locator("body")).to_have_class(re.compile(r"\bjs-enabled\b.*\bgovuk-frontend-supported\b"))
    page.go_forward()
    expect(page).to_have_url(re.compile(r"[?&]priority=\d+"))
    expect(caption).to_contain_text("1 of 5 projects")
    expect(page.get_by_label("Priority")).to_have_value(re.compile(r"^\d+$"))
    page.wait_for_load_state("networkidle")
    assert js_errors == []


def test_overview_sorts_by_award_with_htmx_and_keeps_the_sort_when_filtered(csu: Page, js_errors: list[str]):
    page = csu
    page.goto("/csu/2021-22/")
    page.wait_for_load_state("networkidle")
    mark_document(page)
    award = budget_table(page).get_by_role("columnheader", name="Award", exact=True)
    expect(budget_table(page).get_by_role("columnheader", name="Organisation", exact=True)).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(award).to_have_attribute("aria-sort", "none")

    award.get_by_role("link", name="Award", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]sort=award&dir=asc"))
    expect(award).to_have_attribute("aria-sort", "ascending")
    for other in SORTABLE:
        if other != "Award":
            header = budget_table(page).get_by_role("columnheader", name=other, exact=True)
            expect(header).to_have_attribute("aria-sort", "none")
    assert project_names(page) == BY_AWARD

    award.get_by_role("link", name="Award", exact=True).click()  # again: the other way
    expect(page).to_have_url(re.compile(r"[?&]sort=award&dir=desc"))
    expect(award).to_have_attribute("aria-sort", "descending")
    assert project_names(page) == [DAVSS_PROJECT, KENWARD_PROJECT, CDAP_PROJECT, PAS_2021_PROJECT, SEVENOAKS_PROJECT]

    # A filter chosen after sorting keeps the sort, in the table and in the address.
    page.get_by_label("Priority").select_option(label="Domestic Abuse")
    expect(page).to_have_url(re.compile(r"[?&]priority=\d+.*&sort=award&dir=desc"))
    expect(budget_table(page).locator("caption")).to_contain_text("3 of 5 projects")
    assert project_names(page) == [DAVSS_PROJECT, CDAP_PROJECT, PAS_2021_PROJECT]
    expect(award).to_have_attribute("aria-sort", "descending")
    assert same_document(page), "sorting or filtering reloaded the page instead of swapping the table"
    assert_accessible(page)
    assert js_errors == []


def test_overview_filters_without_javascript(new_context, browser: Browser, base_url: str):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "csu@demo.test")
    page.goto("/csu/2021-22/")
    expect(budget_table(page).locator("caption")).to_contain_text("5 of 5 projects")

    page.get_by_label("Priority").select_option(label="Substance Misuse")
    expect(page).to_have_url(base_url + "/csu/2021-22/")  # nothing happens until the form is sent
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/csu/2021-22/\?(.*&)?priority=\d+"))
    expect(budget_table(page).locator("caption")).to_contain_text("1 of 5 projects")
    assert project_names(page) == [KENWARD_PROJECT]
    expect(page.get_by_label("Priority")).to_have_value(re.compile(r"^\d+$"))

    # Sorting is a plain link; the filter stays.
    with page.expect_navigation():
        budget_table(page).get_by_role("link", name="Award", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]priority=\d+.*&sort=award&dir=asc"))
    assert project_names(page) == [KENWARD_PROJECT]
    assert_accessible_without_javascript(page, browser)


def test_overview_pages_with_htmx_and_without_javascript(
    csu: Page, paged_year, new_context, browser: Browser, base_url: str, js_errors: list[str]
):
    page = csu
    page.goto(f"/csu/{paged_year.label}/?sort=award")
    page.wait_for_load_state("networkidle")
    caption = budget_table(page).locator("caption")
    expect(caption).to_contain_text("30 of 30 projects, showing 1 to 25 (page 1 of 2)")
    assert project_names(page) == [f"Paged project {n:02d}" for n in range(25)]
    pages = page.get_by_role("navigation", name="Pages of projects")
    expect(pages.get_by_role("link", name="Page 1")).to_have_attribute("aria-current", "page")
    assert_accessible(page)
    mark_document(page)

    pages.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=award.*&page=2"))
    expect(caption).to_contain_text("showing 26 to 30 (page 2 of 2)")
    assert project_names(page) == [f"Paged project {n:02d}" for n in range(25, 30)]
    expect(pages.get_by_role("link", name="Page 2")).to_have_attribute("aria-current", "page")
    assert same_document(page), "the page link reloaded the page instead of swapping the table"
    assert_accessible(page)
    assert js_errors == []

    context = new_context(java_script_enabled=False)
    plain = context.new_page()
    sign_in(plain, "csu@demo.test")
    plain.goto(f"/csu/{paged_year.label}/")
    plain.get_by_label("Organisation").fill("paged")
    with plain.expect_navigation():
        plain.get_by_role("button", name="Apply filters").click()
    expect(plain).to_have_url(re.compile(r"[?&]organisation=paged"))
    with plain.expect_navigation():
        plain.get_by_role("navigation", name="Pages of projects").get_by_role("link", name="Page 2").click()
    expect(plain).to_have_url(re.compile(r"organisation=paged.*&page=2"))
    expect(budget_table(plain).locator("caption")).to_contain_text("showing 26 to 30")
    assert_accessible_without_javascript(plain, browser)


# -- a project page --------------------------------------------------------------------------------


def test_project_page_shows_the_seeds_figures_and_charts(csu: Page, js_errors: list[str]):
    page = csu
    page.goto("/csu/2020-21/")
    with page.expect_navigation():
        budget_table(page).get_by_role("link", name=PAS_2020_PROJECT, exact=True).click()
    expect(page).to_have_url(re.compile(r"/csu/projects/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(PAS_2020_PROJECT)

    outputs = page.locator("#outputs-table")
    expect(outputs.locator("caption")).to_contain_text("Outputs by quarter, 2020-21")
    # The 2021-22 action plan printed 87 for this row; its quarters add up to 134.
    assert numbers_in_row(outputs, "High risk")[:5] == ["6", "32", "53", "43", "134"]
    assert numbers_in_row(outputs, "Referrals from West Kent")[:5] == ["49", "73", "89", "73", "284"]
    assert numbers_in_row(outputs, "Volunteer hours")[:5] == ["1,597", "1,612", "1,671", "1,639", "6,519"]

    # Server-drawn SVG charts: one image each, named by the chart's title, with its data in a table beside it.
    charts = page.locator("svg[role='img']")
    expect(charts.first).to_be_visible()
    assert charts.count() == 7  # six measures and the spend
    expect(page.get_by_role("img", name=re.compile(r"^High risk by quarter against target"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Cumulative spend against award"))).to_be_visible()
    for chart in charts.all():
        expect(chart).to_have_accessible_name(re.compile(r"\S"))
    chart_table = page.get_by_role("table", name="High risk by quarter against target")
    expect(chart_table).to_contain_text("53")
    assert_accessible(page)
    assert js_errors == []


def test_davss_project_page_opens_from_the_overview_with_its_totals(csu: Page):
    page = csu
    page.goto("/csu/2020-21/")
    with page.expect_navigation():
        budget_table(page).get_by_role("link", name=DAVSS_PROJECT, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DAVSS_PROJECT)
    outputs = page.locator("#outputs-table")
    # DAVSS reported Q1 and Q2 of 2020-21: the total adds those two.
    assert numbers_in_row(outputs, "Referrals")[:5] == ["203", "274", "", "", "477"]
    assert numbers_in_row(outputs, "Helpline calls")[:5] == ["1,273", "1,618", "", "", "2,891"]


def test_csu_rates_a_project_and_the_error_state_is_accessible(csu: Page, js_errors: list[str]):
    page = csu
    page.goto("/csu/2020-21/")
    with page.expect_navigation():
        budget_table(page).get_by_role("link", name=PAS_2020_PROJECT, exact=True).click()
    project_url = page.url
    expect(page.get_by_role("heading", name="CSU rating")).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Save rating").click()  # nothing chosen
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Select a quarter that has started")
    expect(summary).to_contain_text("Select Green, Amber or Red")
    expect(summary).to_contain_text("Enter the reason for your rating")
    expect(page.locator(".govuk-error-message")).to_have_count(3)
    assert_accessible(page)

    reason = f"Browser test: referrals keep rising ({secrets.token_hex(3)})"
    page.get_by_role("group", name="Quarter").get_by_label("Q4", exact=True).check()
    page.get_by_role("group", name="Your rating").get_by_label("Amber", exact=True).check()
    page.get_by_label("Reason", exact=True).fill(reason)
    with page.expect_navigation():
        page.get_by_role("button", name="Save rating").click()
    expect(page).to_have_url(project_url)
    expect(page.get_by_text("Your Q4 rating has been saved.")).to_be_visible()
    ratings = page.locator(".govuk-summary-list__row").filter(has_text="Ratings")
    expect(ratings).to_contain_text("CSU Amber")
    # The form shows the rating now in force.
    expect(page.get_by_role("group", name="Your rating").get_by_label("Amber", exact=True)).to_be_checked()
    expect(page.get_by_label("Reason", exact=True)).to_have_value(reason)
    assert_accessible(page)

    # The overview shows the CSU's rating beside the others.
    page.goto("/csu/2020-21/")
    row = budget_table(page).locator("tbody tr").filter(has_text=PAS_2020_PROJECT)
    expect(row.locator("td").last).to_have_text("Amber")
    assert js_errors == []


# -- the annual report -----------------------------------------------------------------------------


def test_annual_report_shows_the_funding_table_and_downloads_as_word(csu: Page, tmp_path: Path):
    page = csu
    page.goto("/csu/2021-22/")
    with page.expect_navigation():
        page.get_by_role("link", name="Annual report tables").click()
    expect(page).to_have_url(re.compile(r"/csu/2021-22/annual-report$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Annual report tables 2021-22")

    expect(page.locator("[data-figure='funded']").first).to_contain_text("£34,218.00 in 2021-22")
    funding = page.get_by_role("table", name="Awards from the PCC Crime Reduction Grant, 2021-22")
    rows = funding.locator("tbody tr")
    expect(rows).to_have_count(5)
    shown = [tuple(text.strip() for text in row.locator("td").all_inner_texts()) for row in rows.all()]
    assert shown == FUNDING_TABLE
    expect(funding.locator("[data-figure='awarded']")).to_have_text("£22,812.00")
    not_allocated = funding.locator("tfoot tr").filter(has_text="Not allocated")
    expect(not_allocated.locator("[data-figure='unallocated']")).to_have_text("£11,406.00")
    expect(page.get_by_text("£11,406.00 of the £34,218.00 has not been allocated.")).to_be_visible()
    for _, project, _ in FUNDING_TABLE:
        expect(page.get_by_role("heading", level=3, name=re.compile(re.escape(project)))).to_be_visible()
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as a Word document (.docx)").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".docx"), download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    document = Document(str(saved))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "£11,406.00" in cells and "£22,812.00" in cells
    assert {project for _, project, _ in FUNDING_TABLE} <= set(cells)


# -- the other CSU pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/csu/due", "Returns due and overdue"),
        ("/csu/2021-22/priorities", "Projects by priority 2021-22"),
        ("/csu/reviews", "Returns to review"),
    ],
)
def test_csu_lists_are_accessible(csu: Page, path: str, heading: str):
    response = csu.goto(path)
    assert response is not None and response.ok
    expect(csu.get_by_role("heading", level=1)).to_have_text(heading)
    assert_accessible(csu)
