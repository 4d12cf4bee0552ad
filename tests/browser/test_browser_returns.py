"""The quarterly return in the browser: filled in by keyboard with JavaScript (autosave) and without it
(the plain buttons), its error states, a stale save from a second tab, and the CSU's review. Axe on every page.

The live server is shared by the whole session, so each test works on its own organisation's first open
quarter that has no return yet: Kenward (with JavaScript), PAS (without), DAVSS (the CSU review) and CDAP
(the stale save, through an account made here). Quarters are worked out from today's date, never hard-coded.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from portal.calendar import current_start_year
from portal.extensions import db
from portal.models import MonitoringReturn, Organisation, Project, User
from portal.models.user import PARTNER
from portal.models.year import FinancialYear
from portal.money import format_pence
from portal.services import returns as service
from portal.services.users import create_user
from tests.browser.browser_helpers import (
    DEMO_PASSWORD,
    assert_accessible,
    assert_accessible_without_javascript,
    sign_in,
    tab_to,
)

pytestmark = pytest.mark.browser

AUTOSAVE_TIMEOUT = 10_000  # htmx waits 2 s after the last keystroke
CDAP_EMAIL = "cdap-browser@demo.test"


@dataclass(frozen=True)
class OpenReturn:
    """An open quarter of one project that nobody has started yet."""

    project_id: int
    project_name: str
    year_label: str
    quarter: int
    measures: tuple[tuple[int, str], ...]  # (id, name)
    spend_pence: int  # keeps spend to date on the straight-line profile: no explanation needed

    @property
    def on_profile_spend(self) -> str:
        """The spend as typed, like 2700.00."""
        return format_pence(self.spend_pence, sign=False).replace(",", "")

    @property
    def path(self) -> str:
        return f"/partner/projects/{self.project_id}/q{self.quarter}"

    @property
    def link_suffix(self) -> str:
        return f"Q{self.quarter} return for {self.project_name}"


def first_free_quarter(live_server, organisation: str) -> OpenReturn:
    """The organisation's project in the current year, and its first open quarter without a return."""
    with live_server.app.app_context():
        try:
            project = db.session.scalar(
                select(Project)
                .join(Organisation, Project.organisation_id == Organisation.id)
                .join(FinancialYear, Project.year_id == FinancialYear.id)
                .where(Organisation.short_name == organisation, FinancialYear.start_year == current_start_year())
            )
            assert project is not None, f"the demo data has no {organisation} project this year"
            for quarter in (1, 2, 3, 4):
                if service.quarter_is_open(project, quarter) and service.find_return(project, quarter) is None:
                    before, count = service.reported_spend_before(project, quarter)
                    spend = max(project.amount_pence * (count + 1) // 4 - before, 0)
                    assert service.spend_explanation_reason(project, quarter, spend) is None
                    return OpenReturn(
                        project_id=project.id,
                        project_name=project.name,
                        year_label=project.year.label,
                        quarter=quarter,
                        measures=tuple((measure.id, measure.name) for measure in project.measures),
                        spend_pence=spend,
                    )
            raise AssertionError(f"{organisation} has no open quarter without a return")
        finally:
            db.session.remove()


def return_status(live_server, open_return: OpenReturn) -> str | None:
    with live_server.app.app_context():
        try:
            return db.session.scalar(
                select(MonitoringReturn.status).where(
                    MonitoringReturn.project_id == open_return.project_id,
                    MonitoringReturn.quarter == open_return.quarter,
                )
            )
        finally:
            db.session.remove()


@pytest.fixture
def new_context(browser: Browser, base_url: str) -> Iterator:
    """Make more browser contexts (another person, or JavaScript off); all are closed at the end."""
    contexts: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        context = browser.new_context(base_url=base_url, **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def quarter_row(page: Page, open_return: OpenReturn):
    section = (
        page.get_by_role("main")
        .locator("section")
        .filter(has=page.get_by_role("heading", name=open_return.project_name, exact=True))
    )
    return section.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"Q{open_return.quarter}"))


def field_error(page: Page, label: str):
    field_id = page.get_by_label(label, exact=True).get_attribute("id")
    return page.locator(f"#{field_id}-error")


# -- with JavaScript: the keyboard, autosave, errors, the personal-data guard -------------------------


def test_keyboard_journey_with_javascript_autosaves_and_submits(page: Page, live_server, base_url: str):
    js_errors: list[str] = []
    page.on("console", lambda message: js_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    kenward = first_free_quarter(live_server, "Kenward")
    first, second, third = (name for _, name in kenward.measures)
    sign_in(page, "kenward@demo.test")
    expect(page).to_have_url(base_url + "/partner/")
    expect(page.locator("body")).to_have_class(re.compile(r"\bjs-enabled\b"))
    expect(quarter_row(page, kenward)).to_contain_text("Not started")

    # Home -> the return -> Outputs, by keyboard.
    tab_to(page, page.get_by_role("link", name=f"Start {kenward.link_suffix}"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + kenward.path + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Q{kenward.quarter} return")
    assert_accessible(page)
    tab_to(page, page.get_by_role("link", name="Outputs", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Outputs")
    assert_accessible(page)

    # Type the figures and press nothing: the draft saves itself and says so.
    version = page.locator("#version")
    assert version.input_value() == "0"
    page.evaluate("() => { window.statusRegion = document.getElementById('autosave-status'); }")
    tab_to(page, page.get_by_label(first, exact=True))
    page.keyboard.type("250")
    page.keyboard.press("Tab")
    expect(page.get_by_label(second, exact=True)).to_be_focused()
    page.keyboard.type("8")
    page.keyboard.press("Tab")
    expect(page.get_by_label(third, exact=True)).to_be_focused()
    page.keyboard.type("101.5")
    status = page.locator("#autosave-status")
    expect(status).to_contain_text(re.compile(r"Draft saved at \d{1,2}:\d{2}"), timeout=AUTOSAVE_TIMEOUT)
    # The message went into the live region that was there from the start: a replaced region is not announced.
    assert page.evaluate("() => window.statusRegion === document.getElementById('autosave-status')")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(page.get_by_label(third, exact=True)).to_be_focused()  # the swap did not steal the focus
    expect(version).not_to_have_value("0")  # the form moved on to the saved version
    assert return_status(live_server, kenward) == "draft"
    assert_accessible(page)

    # Kept after a reload, and after leaving for the home page and coming back.
    page.reload()
    expect(page.get_by_label(first, exact=True)).to_have_value("250")
    expect(page.get_by_label(second, exact=True)).to_have_value("8")
    expect(page.get_by_label(third, exact=True)).to_have_value("101.50")
    page.goto("/partner/")
    expect(quarter_row(page, kenward)).to_contain_text("Draft")
    tab_to(page, page.get_by_role("link", name=f"Continue {kenward.link_suffix}"))
    page.keyboard.press("Enter")
    expect(page.locator("#outputs-status")).to_have_text("Completed")
    tab_to(page, page.get_by_role("link", name="Outputs", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_label(first, exact=True)).to_have_value("250")

    # A decimal count: the error beside the field and in the summary, the typed text kept, nothing saved.
    tab_to(page, page.get_by_label(first, exact=True))
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("2.5")
    page.keyboard.press("Enter")  # submits with the first button: Save and continue
    expect(page).to_have_title(re.compile(r"^Error: Outputs"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name=re.compile(f"^{first}"))).to_contain_text("whole number")
    expect(field_error(page, first)).to_contain_text("whole number")
    expect(page.get_by_label(first, exact=True)).to_have_value("2.5")
    expect(summary).to_be_focused()  # GOV.UK Frontend moves the focus to the summary
    assert_accessible(page)

    # From the summary's link to the field; correct it, let autosave run, then Save and continue. The
    # autosave moved the hidden version on: the save that follows it is accepted, not refused as stale.
    tab_to(page, summary.get_by_role("link", name=re.compile(f"^{first}")))
    page.keyboard.press("Enter")
    expect(page.get_by_label(first, exact=True)).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("260")
    posted_version = version.input_value()
    expect(status).to_contain_text("Draft saved at", timeout=AUTOSAVE_TIMEOUT)
    expect(version).not_to_have_value(posted_version)
    with page.expect_response(lambda response: response.request.method == "POST") as saved:
        page.keyboard.press("Enter")
    assert saved.value.status == 302, saved.value.status
    expect(page.get_by_role("heading", level=1)).to_have_text("Spend")
    assert_accessible(page)

    # Spend: type and press Enter straight away (before any autosave).
    tab_to(page, page.get_by_label("Spend in the quarter", exact=True))
    page.keyboard.type(kenward.on_profile_spend)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Progress and rating")
    assert_accessible(page)

    # Progress and rating, by keyboard: the rating's radios with the arrow keys.
    tab_to(page, page.get_by_label("Progress this quarter", exact=True))
    page.keyboard.type("Ran 12 sessions in schools. Mrs Smith asked us to come back next term.")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Case study", exact=True)).to_be_focused()
    page.keyboard.type("A young person who was drinking most weekends now volunteers at the youth club.")
    # The guard as it is typed: a pause, and the portal's warning appears beside the answer, naming the postcode.
    page.keyboard.type(" He lives near TN13 1AA.")
    beside = page.locator("#personal-data-case_study")
    expect(beside).to_contain_text("Case study may contain personal information", timeout=AUTOSAVE_TIMEOUT)
    expect(beside).to_contain_text("a postcode: TN13 1AA")
    expect(page.locator("#personal-data-progress")).to_contain_text("a name with a title: Mrs Smith")
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Challenges and risks", exact=True)).to_be_focused()
    page.keyboard.type("The mobile unit was off the road for two weeks.")
    page.keyboard.press("Tab")
    green = page.get_by_role("radio", name=re.compile(r"^Green"))
    amber = page.get_by_role("radio", name=re.compile(r"^Amber"))
    expect(green).to_be_focused()
    page.keyboard.press("Space")
    expect(green).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(amber).to_be_focused()
    expect(amber).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Reason for your rating", exact=True)).to_be_focused()
    page.keyboard.type("Outreach hours are behind the profile.")
    expect(status).to_contain_text("Draft saved at", timeout=AUTOSAVE_TIMEOUT)
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save and continue")).to_be_focused()
    page.keyboard.press("Enter")

    # Check your answers: every answer, and a warning about "Mrs Smith".
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before submitting your return")
    main = page.get_by_role("main")
    for text in ("260", "8", "101.50", format_pence(kenward.spend_pence), "Amber", "Outreach hours are behind"):
        expect(main.locator(".govuk-summary-list__value", has_text=text).first).to_be_visible()
    expect(main.locator(".govuk-warning-text")).to_contain_text("may contain personal information")
    findings = page.locator("#personal-data-findings")
    expect(findings).to_contain_text("Progress this quarter")
    expect(findings).to_contain_text("Mrs Smith")
    expect(findings).to_contain_text("TN13 1AA")
    assert_accessible(page)

    # Submitting without a reason why this is not personal data is refused, with the error beside the box.
    tab_to(page, page.get_by_role("button", name="Submit return"))
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: Check your answers"))
    reason = page.get_by_label("Why these answers do not contain personal information")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say why these answers")
    assert return_status(live_server, kenward) == "draft"
    assert_accessible(page)

    tab_to(page, reason)
    page.keyboard.type("Mrs Smith is the school's head teacher; TN13 1AA is the youth club.")
    tab_to(page, page.get_by_role("button", name="Submit return"))
    page.keyboard.press("Enter")
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text("Return submitted")
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text(f"Q{kenward.quarter} {kenward.year_label}")
    assert_accessible(page)
    assert return_status(live_server, kenward) == "submitted"

    page.get_by_role("link", name="Back to your projects").click()
    expect(quarter_row(page, kenward)).to_contain_text("Submitted")
    # Only the deliberate refusals (422) are in the console; no script failed and the CSP blocked nothing.
    assert all("422" in error for error in js_errors), js_errors


# -- without JavaScript: the plain buttons ---------------------------------------------------------


def test_axe_without_javascript_finds_planted_faults(new_context, browser: Browser):
    """The check used for pages without JavaScript is live: a fault planted in such a page is found."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/sign-in")
    assert_accessible_without_javascript(page, browser)
    page.evaluate("() => document.querySelector('main').append(document.createElement('input'))")
    with pytest.raises(AssertionError, match="label"):
        assert_accessible_without_javascript(page, browser)


def test_keyboard_journey_without_javascript_uses_the_plain_buttons(new_context, browser: Browser, live_server):
    pas = first_free_quarter(live_server, "PAS")
    first, second = (name for _, name in pas.measures)
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, "pas@demo.test")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your projects in")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bjs-enabled\b"))
    assert_accessible_without_javascript(page, browser)

    tab_to(page, page.get_by_role("link", name=f"Start {pas.link_suffix}"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Q{pas.quarter} return")
    assert_accessible_without_javascript(page, browser)
    tab_to(page, page.get_by_role("link", name="Outputs", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Outputs")
    assert_accessible_without_javascript(page, browser)

    # Save and come back later: saved, said so, back on the return's page.
    tab_to(page, page.get_by_label(first, exact=True))
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.type("15")
    tab_to(page, page.get_by_role("button", name="Save and come back later"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Q{pas.quarter} return")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your answers were saved")
    expect(page.locator("#outputs-status")).to_have_text("Completed")
    assert return_status(live_server, pas) == "draft"
    assert_accessible_without_javascript(page, browser)

    # Leave for the home page, then come back through its link and carry on.
    tab_to(page, page.get_by_role("link", name=f"Your projects in {pas.year_label}"))
    page.keyboard.press("Enter")
    expect(quarter_row(page, pas)).to_contain_text("Draft")
    tab_to(page, page.get_by_role("link", name=f"Continue {pas.link_suffix}"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("link", name="Outputs", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_label(first, exact=True)).to_have_value("1")
    expect(page.get_by_label(second, exact=True)).to_have_value("15")
    expect(page.locator("#autosave-status")).to_be_empty()  # no JavaScript, no autosave

    # An error without JavaScript: the server's message, the text kept.
    tab_to(page, page.get_by_label(second, exact=True))
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("1e3")
    tab_to(page, page.get_by_role("button", name="Save and continue"))
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: Outputs"))
    expect(page.locator(".govuk-error-summary")).to_contain_text(second)
    expect(field_error(page, second)).to_be_visible()
    expect(page.get_by_label(second, exact=True)).to_have_value("1e3")
    assert_accessible_without_javascript(page, browser)
    tab_to(page, page.get_by_label(second, exact=True))
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("14")
    tab_to(page, page.get_by_role("button", name="Save and continue"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Spend")
    assert_accessible_without_javascript(page, browser)
    tab_to(page, page.get_by_label("Spend in the quarter", exact=True))
    page.keyboard.type(pas.on_profile_spend)
    tab_to(page, page.get_by_role("button", name="Save and continue"))
    page.keyboard.press("Enter")

    # Save and continue with the required answers blank: the errors, nothing lost.
    expect(page.get_by_role("heading", level=1)).to_have_text("Progress and rating")
    assert_accessible_without_javascript(page, browser)
    tab_to(page, page.get_by_label("Case study", exact=True))
    page.keyboard.type("A housing officer now spots the signs of cyberstalking early.")
    tab_to(page, page.get_by_role("button", name="Save and continue"))
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: Progress and rating"))
    summary = page.locator(".govuk-error-summary")
    for message in (
        "Enter the progress this quarter",
        "Select Green, Amber or Red",
        "Enter the reason for your rating",
    ):
        expect(summary).to_contain_text(message)
    expect(page.get_by_label("Case study", exact=True)).to_have_value(
        "A housing officer now spots the signs of cyberstalking early."
    )
    assert_accessible_without_javascript(page, browser)

    tab_to(page, page.get_by_label("Progress this quarter", exact=True))
    page.keyboard.type("Two sessions for housing officers and one for GP receptionists.")
    tab_to(page, page.get_by_role("radio", name=re.compile(r"^Green")))
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name=re.compile(r"^Green"))).to_be_checked()
    tab_to(page, page.get_by_label("Reason for your rating", exact=True))
    page.keyboard.type("On target for sessions and people trained.")
    tab_to(page, page.get_by_role("button", name="Save and continue"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before submitting your return")
    expect(page.locator("#personal-data-findings")).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text("Two sessions for housing officers")
    assert_accessible_without_javascript(page, browser)
    tab_to(page, page.get_by_role("button", name="Submit return"))
    page.keyboard.press("Enter")
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text("Return submitted")
    assert_accessible_without_javascript(page, browser)
    assert return_status(live_server, pas) == "submitted"


# -- the CSU's review: send back with a comment, resubmission, compare, approve ---------------------


@pytest.fixture
def davss_submitted(live_server) -> OpenReturn:
    """A DAVSS return submitted through the service layer, as if the partner had done it."""
    davss = first_free_quarter(live_server, "DAVSS")
    with live_server.app.app_context():
        try:
            project = db.session.get(Project, davss.project_id)
            user = db.session.scalar(select(User).where(User.email == "davss@demo.test"))
            values = {measure_id: Decimal(200 + index) for index, (measure_id, _) in enumerate(davss.measures)}
            mreturn = service.save_outputs(project, davss.quarter, values, version=0, by=user)
            db.session.commit()
            mreturn = service.save_spend(
                project, davss.quarter, davss.spend_pence, None, version=mreturn.version, by=user
            )
            db.session.commit()
            answers = {
                "progress": "Referrals were steady; the helpline ran every weekday.",
                "partner_rag": "green",
                "partner_rag_reason": "On target.",
            }
            mreturn = service.save_narrative(project, davss.quarter, answers, version=mreturn.version, by=user)
            db.session.commit()
            service.submit_return(
                project, davss.quarter, version=mreturn.version, submission_key=secrets.token_hex(16), by=user
            )
            db.session.commit()
        finally:
            db.session.remove()
    return davss


def test_csu_sends_a_return_back_and_approves_the_resubmission(new_context, davss_submitted: OpenReturn, live_server):
    davss = davss_submitted
    comment = "Please say how many referrals came from the police."
    csu = new_context().new_page()
    sign_in(csu, "csu@demo.test")
    csu.get_by_role("navigation").get_by_role("link", name="Returns to review").click()
    expect(csu.get_by_role("heading", level=1)).to_have_text("Returns to review")
    row = (
        csu.get_by_role("row")
        .filter(has_text=f"{davss.year_label} Q{davss.quarter}")
        .filter(has=csu.get_by_role("link", name=davss.project_name, exact=True))
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text("DAVSS")
    assert_accessible(csu)

    row.get_by_role("link", name=davss.project_name, exact=True).click()
    expect(csu.get_by_role("heading", level=1)).to_have_text(davss.project_name)
    expect(csu.get_by_role("table").first).to_contain_text("Outputs beside last quarter and the targets")
    review_url = csu.url
    assert_accessible(csu)

    # A blank comment is refused.
    csu.get_by_role("button", name="Send back for changes").click()
    expect(csu).to_have_title(re.compile(r"^Error: "))
    expect(csu.locator(".govuk-error-summary")).to_contain_text("Enter what needs to change")
    expect(field_error(csu, "What needs to change")).to_contain_text("Enter what needs to change")
    assert return_status(live_server, davss) == "submitted"
    assert_accessible(csu)

    csu.get_by_label("What needs to change", exact=True).fill(comment)
    csu.get_by_role("button", name="Send back for changes").click()
    expect(csu.locator(".govuk-notification-banner")).to_contain_text(f"Sent the Q{davss.quarter} return")
    expect(csu.get_by_role("link", name=davss.project_name, exact=True)).to_have_count(0)
    assert return_status(live_server, davss) == "changes_requested"
    assert_accessible(csu)

    # The partner sees the comment on the home page and on the return, edits and submits again.
    partner = new_context().new_page()
    sign_in(partner, "davss@demo.test")
    row = quarter_row(partner, davss)
    expect(row).to_contain_text("Changes requested")
    expect(row).to_contain_text(comment)
    assert_accessible(partner)
    partner.get_by_role("link", name=f"Continue {davss.link_suffix}").click()
    expect(partner.locator(".govuk-inset-text")).to_contain_text(comment)
    assert_accessible(partner)
    partner.get_by_role("link", name="Progress and rating", exact=True).click()
    progress = partner.get_by_label("Progress this quarter", exact=True)
    progress.fill("Referrals were steady; 41 came from the police. The helpline ran every weekday.")
    partner.get_by_role("button", name="Save and continue").click()
    expect(partner.get_by_role("heading", level=1)).to_have_text("Check your answers before submitting your return")
    partner.get_by_role("button", name="Submit return").click()
    expect(partner.locator(".govuk-panel--confirmation")).to_contain_text("revision 2")

    # The CSU compares the two submissions, then approves.
    csu.goto(review_url)
    expect(csu.locator("main")).to_contain_text("Submitted")
    expect(csu.get_by_role("link", name="Revision 2")).to_be_visible()
    expect(csu.get_by_role("main")).to_contain_text(comment)  # in the history
    assert_accessible(csu)
    csu.get_by_label("From revision").select_option("1")
    csu.get_by_label("To revision").select_option("2")
    csu.get_by_role("button", name="Compare").click()
    expect(csu.get_by_role("heading", level=1)).to_have_text("What changed between revision 1 and revision 2")
    changed = csu.get_by_role("row").filter(has=csu.get_by_role("rowheader", name="Progress this quarter"))
    expect(changed).to_contain_text("Changed")
    expect(changed).to_contain_text("41 came from the police")
    expect(csu.get_by_role("main")).to_contain_text("1 answer changed.")
    assert_accessible(csu)

    csu.get_by_role("link", name="Back to the return").click()
    csu.get_by_role("button", name="Approve return").click()
    expect(csu.locator(".govuk-notification-banner")).to_contain_text(f"Approved the Q{davss.quarter} return")
    assert return_status(live_server, davss) == "approved"
    assert_accessible(csu)
    csu.goto(review_url)
    expect(csu.get_by_role("heading", name="Reopen this return")).to_be_visible()
    assert_accessible(csu)

    partner.goto("/partner/")
    expect(quarter_row(partner, davss)).to_contain_text("Approved")


# -- a stale save from another tab ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdap_partner(live_server) -> str:
    """The demo has no CDAP account: one for the stale-save test, so that it has a project to itself."""
    with live_server.app.app_context():
        try:
            if db.session.scalar(select(User.id).where(User.email == CDAP_EMAIL)) is None:
                organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == "CDAP"))
                create_user(CDAP_EMAIL, roles=[PARTNER], password=DEMO_PASSWORD, organisation=organisation)
                db.session.commit()
        finally:
            db.session.remove()
    return CDAP_EMAIL


def test_stale_save_from_another_tab_is_refused_and_keeps_the_text(
    page: Page, live_server, cdap_partner: str, base_url: str
):
    cdap = first_free_quarter(live_server, "CDAP")
    ((_, measure),) = cdap.measures
    sign_in(page, cdap_partner)
    first_tab = page
    second_tab = page.context.new_page()
    for tab in (first_tab, second_tab):
        tab.goto(cdap.path + "/outputs")
        expect(tab.get_by_role("heading", level=1)).to_have_text("Outputs")

    first_tab.get_by_label(measure, exact=True).fill("4")
    first_tab.get_by_label(measure, exact=True).press("Enter")
    expect(first_tab.get_by_role("heading", level=1)).to_have_text("Spend")

    # The second tab's autosave is refused and says so; what was typed stays.
    field = second_tab.get_by_label(measure, exact=True)
    field.press_sequentially("5")
    status = second_tab.locator("#autosave-status")
    expect(status).to_contain_text("Your changes have not been saved", timeout=AUTOSAVE_TIMEOUT)
    expect(field).to_have_value("5")
    assert_accessible(second_tab)

    # So is its Save and continue: the message names what differs, the text stays, nothing changes.
    with second_tab.expect_response(lambda response: response.request.method == "POST") as refused:
        field.press("Enter")
    assert refused.value.status == 409
    expect(second_tab).to_have_title(re.compile(r"^Error: Outputs"))
    summary = second_tab.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Your changes have not been saved")
    expect(summary).to_contain_text(f"{measure} (saved: 4)")
    expect(second_tab.get_by_label(measure, exact=True)).to_have_value("5")
    assert_accessible(second_tab)
    first_tab.goto(cdap.path + "/outputs")
    expect(first_tab.get_by_label(measure, exact=True)).to_have_value("4")

    # Saving again, having seen the message, is deliberate: it wins.
    second_tab.get_by_label(measure, exact=True).press("Enter")
    expect(second_tab.get_by_role("heading", level=1)).to_have_text("Spend")
    first_tab.reload()
    expect(first_tab.get_by_label(measure, exact=True)).to_have_value("5")
    assert return_status(live_server, cdap) == "draft"
