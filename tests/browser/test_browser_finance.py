"""Finance in the browser: a payment recorded and reversed through the forms, with the stream's figures
following; the payment form's error state; each change on a page of its own, reached from the project page's
buttons, by keyboard with and without JavaScript; the guard rails (a reference used twice, an over-allocation, closing
with returns outstanding) asked and confirmed; axe on every finance page (closing a year too); the downloads.

The live server is shared by the whole session. Payments go on DAVSS's 2021-22 project and are reversed before
the test ends; figures are read before and compared after, never assumed. The over-allocation and closing are
tried on 2019-20, which no other test uses: the award is put back, and the year is reopened as admin@demo.test
at the end.
"""

from __future__ import annotations

import csv
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Locator, Page, expect

from portal.calendar import uk_today
from tests.browser.browser_helpers import assert_accessible, assert_accessible_without_javascript, sign_in, tab_to

pytestmark = pytest.mark.browser

YEAR = "2021-22"
CLOSING_YEAR = "2019-20"  # no other browser test uses it
STREAM = "PCC Crime Reduction Grant"
DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
PAYMENT = 250_000  # £2,500.00, in pence
ALLOCATION_COLUMNS = [
    "financial_year",
    "funding_stream",
    "funder",
    "total",
    "awarded",
    "unallocated",
    "paid",
    "reported_spend",
]
LEDGER_COLUMNS = [
    "financial_year",
    "organisation",
    "project",
    "entry_type",
    "date",
    "amount",
    "reference",
    "note",
    "recorded_by",
]


@pytest.fixture
def finance(page: Page) -> Page:
    sign_in(page, "finance@demo.test")
    return page


def pence(text: str) -> int:
    """'£12,345.67' as 1234567."""
    match = re.fullmatch(r"\s*(-?)£([\d,]+\.\d\d)\s*", text)
    assert match, f"not an amount: {text!r}"
    value = int(Decimal(match.group(2).replace(",", "")) * 100)
    return -value if match.group(1) else value


def stream_section(page: Page) -> Locator:
    return page.get_by_role("region", name=STREAM)


def projects_table(page: Page) -> Locator:
    """The home's page of the year's projects, each linking to its ledger."""
    return page.get_by_role("table", name=re.compile(r"^Projects funded in "))


def stream_figure(page: Page, figure: str) -> int:
    return pence(stream_section(page).locator(f"[data-figure='{figure}']").inner_text())


def project_figure(page: Page, figure: str) -> int:
    return pence(page.locator(f"dd[data-figure='{figure}']").inner_text())


def open_form(page: Page, button: str) -> None:
    """From the project page, the page of one change (Record a payment, Change the award, Plan an instalment)."""
    project = page.get_by_role("heading", level=1).inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{button} for {project}")


def fill_payment(page: Page, *, amount: str, day, month, year, reference: str = "") -> None:
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record payment"))
    form.get_by_label("Amount", exact=True).fill(amount)
    date_paid = form.get_by_role("group", name="Date paid")
    date_paid.get_by_label("Day").fill(str(day))
    date_paid.get_by_label("Month").fill(str(month))
    date_paid.get_by_label("Year").fill(str(year))
    form.get_by_label("Reference", exact=True).fill(reference)


def ledger_entry(page: Page, reference: str, entry_type: str) -> Locator:
    """The project ledger's row of one type (Payment, Reversal) carrying a reference."""
    rows = page.locator("#ledger-table tbody tr").filter(has_text=reference)
    return rows.filter(has=page.locator("td", has_text=re.compile(rf"^{entry_type}$")))


def open_davss_from_home(page: Page) -> None:
    with page.expect_navigation():
        projects_table(page).get_by_role("link", name=DAVSS_PROJECT, exact=True).click()
    expect(page).to_have_url(re.compile(r"/finance/projects/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(DAVSS_PROJECT)


# -- a payment, recorded and reversed --------------------------------------------------------------


def test_record_and_reverse_a_payment_and_the_streams_figures_follow(finance: Page, js_errors: list[str]):
    page = finance
    page.goto(f"/finance/{YEAR}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Funding streams {YEAR}")
    paid_before, to_pay_before = stream_figure(page, "paid"), stream_figure(page, "to-pay")
    awarded = stream_figure(page, "awarded")
    assert paid_before + to_pay_before == awarded

    open_davss_from_home(page)
    project_url = page.url
    project_paid_before = project_figure(page, "paid")
    balance_before = project_figure(page, "balance")

    today = uk_today()
    reference = f"BROWSER-{secrets.token_hex(4).upper()}"
    open_form(page, "Record a payment")
    expect(page).to_have_url(re.compile(r"/finance/projects/\d+/payments/new$"))
    assert project_figure(page, "paid") == project_paid_before  # what the payment is added to, beside the form
    assert_accessible(page)
    fill_payment(page, amount="2500.00", day=today.day, month=today.month, year=today.year, reference=reference)
    with page.expect_navigation():
        page.get_by_role("button", name="Record payment").click()
    expect(page).to_have_url(project_url)
    expect(page.get_by_text("Payment of £2,500.00 recorded.")).to_be_visible()
    assert project_figure(page, "paid") == project_paid_before + PAYMENT
    assert project_figure(page, "balance") == balance_before - PAYMENT
    entry = ledger_entry(page, reference, "Payment")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("£2,500.00")

    with page.expect_navigation():
        page.get_by_role("link", name=f"Funding streams {YEAR}").click()
    assert stream_figure(page, "paid") == paid_before + PAYMENT
    assert stream_figure(page, "to-pay") == to_pay_before - PAYMENT
    assert stream_figure(page, "awarded") == awarded

    # Reverse it, with a reason: a missing reason is refused first.
    page.goto(project_url)
    with page.expect_navigation():
        entry.get_by_role("link", name=re.compile(r"^Reverse the payment of £2,500\.00")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reverse the payment of £2,500.00")
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Reverse payment").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("Enter why the payment is being reversed")
    assert_accessible(page)
    page.get_by_label("Why is this payment being reversed?").fill("Browser test: recorded to check the figures")
    with page.expect_navigation():
        page.get_by_role("button", name="Reverse payment").click()
    expect(page).to_have_url(project_url)
    expect(page.get_by_text("The payment of £2,500.00 has been reversed.")).to_be_visible()
    assert project_figure(page, "paid") == project_paid_before
    assert project_figure(page, "balance") == balance_before
    expect(entry).to_contain_text("Reversed")
    expect(entry.get_by_role("link", name=re.compile("^Reverse"))).to_have_count(0)
    reversal = ledger_entry(page, reference, "Reversal")
    expect(reversal).to_have_count(1)
    expect(reversal).to_contain_text("£2,500.00")  # shown as a negative amount
    expect(reversal).to_contain_text("Browser test: recorded to check the figures")

    page.goto(f"/finance/{YEAR}/")
    assert stream_figure(page, "paid") == paid_before
    assert stream_figure(page, "to-pay") == to_pay_before
    assert js_errors == []


def test_bad_payment_shows_every_error_and_is_accessible(finance: Page, js_errors: list[str]):
    page = finance
    page.goto(f"/finance/{YEAR}/")
    open_davss_from_home(page)
    project_url = page.url
    paid_before = project_figure(page, "paid")
    entries_before = page.locator("#ledger-table tbody tr").count()

    open_form(page, "Record a payment")
    future = uk_today() + timedelta(days=40)
    fill_payment(page, amount="12.345", day=future.day, month=future.month, year=future.year, reference="BAD-1")
    with page.expect_navigation():
        page.get_by_role("button", name="Record payment").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Record a payment for {DAVSS_PROJECT}")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Amount must have no more than 2 decimal places")
    expect(summary).to_contain_text("Date paid must be today or in the past")
    # Each message beside its field, and the summary's links lead to the fields.
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record payment"))
    expect(form.locator(".govuk-error-message")).to_have_count(2)
    expect(form.get_by_label("Amount", exact=True)).to_have_value("12.345")
    expect(form.get_by_role("group", name=re.compile("Date paid")).get_by_label("Year")).to_have_value(str(future.year))
    summary.get_by_role("link", name="Date paid must be today or in the past").click()
    expect(form.get_by_role("group", name=re.compile("Date paid")).get_by_label("Day")).to_be_focused()
    assert_accessible(page)

    # Nothing was written.
    assert project_figure(page, "paid") == paid_before
    with page.expect_navigation():
        page.get_by_role("link", name=f"Back to {DAVSS_PROJECT}").click()
    expect(page).to_have_url(project_url)
    assert project_figure(page, "paid") == paid_before
    expect(page.locator("#ledger-table tbody tr")).to_have_count(entries_before)
    expect(page.locator("#ledger-table")).not_to_contain_text("BAD-1")
    assert js_errors == []


# -- the guard rails -------------------------------------------------------------------------------


def record_payment(page: Page, *, amount: str, reference: str) -> None:
    """From the project page; on the payment's own page if it is refused."""
    open_form(page, "Record a payment")
    today = uk_today()
    fill_payment(page, amount=amount, day=today.day, month=today.month, year=today.year, reference=reference)
    with page.expect_navigation():
        page.get_by_role("button", name="Record payment").click()


def reverse(page: Page, entry: Locator, reason: str) -> None:
    with page.expect_navigation():
        entry.get_by_role("link", name=re.compile(r"^Reverse the payment")).click()
    page.get_by_label("Why is this payment being reversed?").fill(reason)
    with page.expect_navigation():
        page.get_by_role("button", name="Reverse payment").click()


def test_a_reference_used_twice_is_refused_until_confirmed(finance: Page, js_errors: list[str]):
    page = finance
    page.goto(f"/finance/{YEAR}/")
    open_davss_from_home(page)
    project_url = page.url
    paid_before = project_figure(page, "paid")
    reference = f"BROWSER-{secrets.token_hex(4).upper()}"
    record_payment(page, amount="1.00", reference=reference)
    expect(page.get_by_text("Payment of £1.00 recorded.")).to_be_visible()

    # The same reference, in another case: refused, saying which payment used it, and nothing recorded.
    record_payment(page, amount="2.00", reference=f" {reference.lower()} ")
    expect(page).to_have_title(re.compile(r"^Error: "))
    used = f"Reference {reference.lower()} is already used in {YEAR} by the payment of £1.00 to DAVSS: {DAVSS_PROJECT}"
    expect(page.get_by_role("alert")).to_contain_text(used)
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record payment"))
    expect(form.locator(".govuk-error-message")).to_contain_text(used)
    expect(form.get_by_label("Amount", exact=True)).to_have_value("2.00")
    confirm = form.get_by_label("This payment is intended: record it with the same reference")
    expect(confirm).not_to_be_checked()
    assert project_figure(page, "paid") == paid_before + 100
    assert_accessible(page)

    # Confirmed: recorded.
    confirm.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Record payment").click()
    expect(page).to_have_url(project_url)
    expect(page.get_by_text("Payment of £2.00 recorded.")).to_be_visible()
    assert project_figure(page, "paid") == paid_before + 300
    expect(page.locator("#ledger-table tbody tr").filter(has_text=re.compile(reference, re.IGNORECASE))).to_have_count(
        2
    )

    # Both reversed (a reference matches in any case, so one at a time: a reversed payment has no link).
    reverse_link = page.get_by_role("link", name=re.compile(r"^Reverse the payment"))
    for _ in range(2):
        reversible = ledger_entry(page, reference, "Payment").filter(has=reverse_link)
        reverse(page, reversible.first, "Browser test: a reference used twice")
    assert project_figure(page, "paid") == paid_before
    assert js_errors == []


def test_an_over_allocation_is_refused_until_confirmed_and_shown_until_resolved(finance: Page, js_errors: list[str]):
    page = finance
    page.goto(f"/finance/{CLOSING_YEAR}/")
    open_davss_from_home(page)
    award = project_figure(page, "award")
    open_form(page, "Change the award")
    expect(page).to_have_url(re.compile(r"/finance/projects/\d+/variations/new$"))
    assert project_figure(page, "award") == award
    form = page.locator("form").filter(has=page.get_by_role("button", name="Change award"))
    form.get_by_label("New award").fill("40000.00")
    form.get_by_label("Reason for the change").fill("Browser test: over-allocate, then put back")
    with page.expect_navigation():
        form.get_by_role("button", name="Change award").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text(f"This change takes {STREAM} past its total of £34,218.00")
    expect(form.locator(".govuk-error-message")).to_contain_text("would be after the change, over by")
    assert project_figure(page, "award") == award
    assert_accessible(page)

    form.get_by_label("Change the award anyway: I confirm the over-allocation").check()
    with page.expect_navigation():
        form.get_by_role("button", name="Change award").click()
    expect(
        page.get_by_text(re.compile(r"The award has been changed from £[\d,]+\.\d\d to £40,000\.00\."))
    ).to_be_visible()
    expect(page.locator(".govuk-warning-text")).to_contain_text(f"Over-allocated: {STREAM} has")
    assert_accessible(page)
    page.goto(f"/finance/{CLOSING_YEAR}/reconciliation")
    expect(page.locator(".govuk-warning-text").first).to_contain_text(f"Over-allocated: {STREAM} has")

    # Put back: a cut is not asked, and the warning goes.
    page.go_back()
    open_form(page, "Change the award")
    form.get_by_label("New award").fill(f"{award / 100:.2f}")
    form.get_by_label("Reason for the change").fill("Browser test: put back")
    with page.expect_navigation():
        form.get_by_role("button", name="Change award").click()
    assert project_figure(page, "award") == award
    expect(page.get_by_text("Over-allocated")).to_have_count(0)
    assert js_errors == []


# -- one thing per page, by keyboard ----------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["with JavaScript", "without JavaScript"])
def test_plan_an_instalment_on_its_own_page_by_keyboard(new_context, browser: Browser, javascript: bool):
    """From the project page's button to the instalment's page and back, by keyboard alone: a refused amount
    comes back on the same page with the message and what was typed; the instalment is then removed."""
    page = new_context(java_script_enabled=javascript).new_page()
    sign_in(page, "finance@demo.test")
    page.goto(f"/finance/{YEAR}/")
    open_davss_from_home(page)
    project_url = page.url
    schedule_rows = page.locator("#schedule-table tbody tr").count()

    def check_axe() -> None:
        if javascript:
            assert_accessible(page)
        else:
            assert_accessible_without_javascript(page, browser)

    tab_to(page, page.get_by_role("button", name="Plan an instalment"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{project_url}/instalments/new")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Plan an instalment for {DAVSS_PROJECT}")
    expect(page.get_by_role("link", name=f"Back to {DAVSS_PROJECT}")).to_be_visible()
    expect(page.locator("dd[data-figure='planned']")).to_be_visible()
    check_axe()

    note = f"Keyboard {secrets.token_hex(3).upper()}"
    tab_to(page, page.get_by_label("Amount", exact=True))
    page.keyboard.type("12.345")
    tab_to(page, page.get_by_label("Note"))
    page.keyboard.type(note)
    tab_to(page, page.get_by_role("button", name="Add instalment"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Plan an instalment for {DAVSS_PROJECT}")
    expect(page.get_by_role("alert")).to_contain_text("Amount must have no more than 2 decimal places")
    amount = page.get_by_label("Amount", exact=True)
    expect(amount).to_have_value("12.345")
    expect(page.get_by_label("Note")).to_have_value(note)
    expect(page.locator(".govuk-error-message")).to_contain_text("Amount must have no more than 2 decimal places")
    check_axe()

    tab_to(page, amount)
    page.keyboard.press("Control+A")
    page.keyboard.type("12.34")
    tab_to(page, page.get_by_role("button", name="Add instalment"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(project_url)
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text(re.compile(r"Instalment \d+ of £12\.34 has been added to the schedule\."))
    number = re.search(r"Instalment (\d+) of £12\.34", banner.inner_text())
    assert number is not None
    rows = page.locator("#schedule-table tbody tr")
    expect(rows).to_have_count(schedule_rows + 1)
    expect(rows.filter(has_text=note)).to_contain_text("£12.34")

    # Put back as found: removed by keyboard too.
    tab_to(page, page.get_by_role("button", name=f"Remove instalment {number.group(1)}"), limit=200)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Instalment {number.group(1)} of £12.34 has been removed from the schedule."
    )
    expect(page.locator("#schedule-table tbody tr")).to_have_count(schedule_rows)


# -- axe on every finance page ---------------------------------------------------------------------


def test_every_finance_page_is_accessible(finance: Page, js_errors: list[str]):
    page = finance
    page.goto(f"/finance/{YEAR}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Funding streams {YEAR}")
    assert_accessible(page)

    open_davss_from_home(page)
    project_url = page.url
    assert_accessible(page)
    for button in ("Record a payment", "Change the award", "Plan an instalment"):
        page.goto(project_url)
        open_form(page, button)
        expect(page.get_by_role("link", name=f"Back to {DAVSS_PROJECT}")).to_be_visible()
        assert_accessible(page)

    page.goto(f"/finance/{YEAR}/")
    with page.expect_navigation():
        page.get_by_role("link", name="Ledger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/finance/{YEAR}/ledger$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ledger {YEAR}")
    expect(page.get_by_role("table", name=re.compile(re.escape(DAVSS_PROJECT)))).to_contain_text("Award")
    assert_accessible(page)

    page.goto(f"/finance/{YEAR}/")
    with page.expect_navigation():
        page.get_by_role("link", name="Year-end reconciliation").click()
    expect(page).to_have_url(re.compile(rf"/finance/{YEAR}/reconciliation$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Year-end reconciliation {YEAR}")
    expect(page.get_by_role("heading", name="Close the year")).to_be_visible()
    assert_accessible(page)
    assert js_errors == []


@pytest.fixture
def reopen_closing_year(new_context) -> Iterator[None]:
    """Whatever happens, 2019-20 is open again afterwards (reopened by admin, with a reason)."""
    yield
    page = new_context().new_page()
    sign_in(page, "admin@demo.test")
    page.goto(f"/finance/{CLOSING_YEAR}/reconciliation")
    reopen = page.get_by_role("button", name="Reopen the year")
    if reopen.count():
        page.get_by_label("Why is the year being reopened?").fill("Browser test: reopened after closing")
        with page.expect_navigation():
            reopen.click()
    expect(page.get_by_role("heading", name="Close the year")).to_be_visible()


def test_closing_a_year_refuses_without_confirmation_or_reason_then_closes_and_admin_reopens(
    finance: Page, new_context, reopen_closing_year, js_errors: list[str]
):
    page = finance
    page.goto(f"/finance/{CLOSING_YEAR}/reconciliation")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Year-end reconciliation {CLOSING_YEAR}")
    with page.expect_navigation():
        page.get_by_role("button", name="Close the year").click()  # the box not ticked
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("Confirm that you understand what closing the year does")
    expect(page.get_by_role("heading", name="Close the year")).to_be_visible()  # still open
    assert_accessible(page)

    # Its Q1 and Q2 have no return: they are listed, and closing needs a reason.
    open_returns = page.get_by_role("table", name="Returns not approved")
    expect(open_returns.locator("tbody tr")).to_have_count(2)
    expect(open_returns).to_contain_text("Not started")
    page.get_by_label("I understand that the year's returns, payments and awards become read-only").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Close the year").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text(
        "2 returns are not approved: enter why the year is being closed now"
    )
    assert_accessible(page)
    page.get_by_label("I understand that the year's returns, payments and awards become read-only").check()
    page.get_by_label("Why is the year being closed now?").fill("Browser test: Q1 and Q2 were never returned")
    with page.expect_navigation():
        page.get_by_role("button", name="Close the year").click()
    expect(page.get_by_text(f"The {CLOSING_YEAR} financial year is closed.")).to_be_visible()
    expect(page.locator(".govuk-inset-text")).to_contain_text("Closed on")
    expect(page.get_by_role("button", name="Close the year")).to_have_count(0)
    expect(page.get_by_role("button", name="Reopen the year")).to_have_count(0)  # admin only
    assert_accessible(page)

    # The closed year's project is read-only for finance.
    page.goto(f"/finance/{CLOSING_YEAR}/")
    with page.expect_navigation():
        projects_table(page).get_by_role("link", name=DAVSS_PROJECT, exact=True).click()
    expect(page.locator(".govuk-inset-text")).to_contain_text("read-only")
    expect(page.get_by_role("button", name="Record a payment")).to_have_count(0)
    assert_accessible(page)
    # The page of a change, reached by its address, says so and has no form.
    page.goto(page.url + "/payments/new")
    expect(page.locator(".govuk-inset-text")).to_contain_text("read-only")
    expect(page.get_by_role("button", name="Record payment")).to_have_count(0)
    assert_accessible(page)

    # Admin reopens it, and a missing reason is refused first.
    admin = new_context().new_page()
    sign_in(admin, "admin@demo.test")
    admin.goto(f"/finance/{CLOSING_YEAR}/reconciliation")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Reopen the year").click()
    expect(admin).to_have_title(re.compile(r"^Error: "))
    expect(admin.get_by_role("alert")).to_contain_text("Enter why the year is being reopened")
    assert_accessible(admin)
    admin.get_by_label("Why is the year being reopened?").fill("Browser test: closed only to check the pages")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Reopen the year").click()
    expect(admin.get_by_text(f"The {CLOSING_YEAR} financial year has been reopened.")).to_be_visible()
    expect(admin.get_by_role("heading", name="Close the year")).to_be_visible()
    assert js_errors == []


def test_csu_reads_a_project_finance_page_without_the_forms(page: Page):
    sign_in(page, "csu@demo.test")
    page.goto(f"/finance/{YEAR}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Funding streams {YEAR}")
    assert_accessible(page)
    open_davss_from_home(page)
    expect(page.locator("dd[data-figure='award']")).to_have_text("£10,000.00")
    for button in ("Record a payment", "Change the award", "Plan an instalment", "Record payment"):
        expect(page.get_by_role("button", name=button)).to_have_count(0)
    expect(page.locator("#ledger-table").get_by_role("link", name=re.compile("^Reverse"))).to_have_count(0)
    assert_accessible(page)


# -- downloads -------------------------------------------------------------------------------------


def download(page: Page, link_name: str, tmp_path: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    file = info.value
    assert file.failure() is None
    saved = tmp_path / file.suggested_filename
    file.save_as(saved)
    return saved


def test_allocation_csv_and_ledger_xlsx_download(finance: Page, tmp_path: Path):
    page = finance
    page.goto(f"/finance/{YEAR}/")

    allocation = download(page, "allocation (CSV)", tmp_path)
    assert allocation.name.endswith(".csv"), allocation.name
    with allocation.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ALLOCATION_COLUMNS
    assert [row[:6] for row in rows[1:]] == [
        [YEAR, STREAM, "Kent Police and Crime Commissioner", "34218.00", "22812.00", "11406.00"]
    ]

    ledger = download(page, "ledger (Excel)", tmp_path)
    assert ledger.name.endswith(".xlsx"), ledger.name
    sheet = load_workbook(ledger, read_only=True).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == LEDGER_COLUMNS
    awards = [row for row in values[1:] if row[3] == "award"]
    assert len(awards) == 5
    assert {row[2] for row in awards} >= {DAVSS_PROJECT}
