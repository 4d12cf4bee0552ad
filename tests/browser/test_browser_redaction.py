"""The CSU sees a return flagged for personal data, finds the findings, and removes a passage for good: by
keyboard, with axe clean on the review page, the redaction page and its error state, with and without JavaScript."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import MonitoringReturn, Organisation, Project, User
from portal.models.user import PARTNER
from portal.services import returns as service
from portal.services.users import create_user
from tests.browser.browser_helpers import (
    DEMO_PASSWORD,
    assert_accessible,
    assert_accessible_without_javascript,
    sign_in,
    tab_to,
)
from tests.browser.test_browser_returns import AUTOSAVE_TIMEOUT, OpenReturn, first_free_quarter

PASSAGE = "Mrs Jones of 14 Oak Road, TN13 1AA"


@pytest.fixture
def flagged(live_server) -> OpenReturn:
    """A Sevenoaks CSU return submitted with a victim's name and address in the case study, and a reason."""
    open_return = first_free_quarter(live_server, "Sevenoaks CSU")
    partner = sevenoaks_partner(live_server)  # the return is the partner's to fill in, as the service checks
    with live_server.app.app_context():
        try:
            project = db.session.get(Project, open_return.project_id)
            user = db.session.scalar(select(User).where(User.email == partner))
            values = {measure_id: Decimal(10 + index) for index, (measure_id, _) in enumerate(open_return.measures)}
            mreturn = service.save_outputs(project, open_return.quarter, values, version=0, by=user)
            db.session.commit()
            mreturn = service.save_spend(
                project, open_return.quarter, open_return.spend_pence, None, version=mreturn.version, by=user
            )
            db.session.commit()
            answers = {
                "progress": "Patrols ran every weekend.",
                "case_study": f"We helped {PASSAGE} after the burglary.",
                "partner_rag": "green",
                "partner_rag_reason": "On target.",
            }
            mreturn = service.save_narrative(project, open_return.quarter, answers, version=mreturn.version, by=user)
            db.session.commit()
            service.submit_return(
                project,
                open_return.quarter,
                version=mreturn.version,
                submission_key=secrets.token_hex(16),
                by=user,
                personal_data_reason="The people named agreed to be named.",
            )
            db.session.commit()
        finally:
            db.session.remove()
    return open_return


def return_id(live_server, open_return: OpenReturn) -> int:
    with live_server.app.app_context():
        try:
            return db.session.scalar(
                select(MonitoringReturn.id).where(
                    MonitoringReturn.project_id == open_return.project_id,
                    MonitoringReturn.quarter == open_return.quarter,
                )
            )
        finally:
            db.session.remove()


def test_the_csu_removes_a_passage_by_keyboard(
    page: Page, flagged: OpenReturn, live_server, browser: Browser, base_url: str
):
    sign_in(page, "csu@demo.test")
    page.goto(f"/csu/returns/{return_id(live_server, flagged)}")
    expect(page.locator("#personal-data-flag")).to_contain_text("Possible personal data")
    expect(page.locator("#personal-data-findings")).to_contain_text("TN13 1AA")
    expect(page.locator("#personal-data-reason")).to_contain_text("The people named agreed to be named.")
    assert_accessible(page)

    link = page.locator("#personal-data-revisions").get_by_role("link", name="remove a passage from revision 1")
    tab_to(page, link)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove a passage from revision 1")
    assert_accessible(page)

    # Nothing chosen: the errors are beside the fields and in the summary, which takes the focus.
    page.get_by_role("button", name="Remove the passage").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Select the answer the passage is in")
    expect(summary).to_contain_text("Enter the passage to remove")
    expect(summary).to_contain_text("Enter why the passage is being removed")
    assert_accessible(page)
    redact_url = page.url

    # Without JavaScript the same page and its errors are accessible too.
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, "csu@demo.test")
        plain.goto(redact_url)
        plain.get_by_role("button", name="Remove the passage").click()
        expect(plain.locator(".govuk-error-summary")).to_contain_text("Enter the passage to remove")
        assert_accessible_without_javascript(plain, browser)
    finally:
        context.close()

    # One radio group is one Tab stop; the arrow keys choose within it.
    tab_to(page, page.get_by_role("radio", name="Progress this quarter"))
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="Case study")).to_be_checked()
    page.get_by_label("The passage to remove").fill(PASSAGE)
    page.get_by_label("Why it is being removed").fill("A victim's name and home address")
    tab_to(page, page.get_by_role("button", name="Remove the passage"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Removed the passage from 2 places")
    expect(page.locator("main")).not_to_contain_text(PASSAGE)
    expect(page.locator("main")).to_contain_text("Passage removed")
    assert_accessible(page)

    page.get_by_role("link", name="Revision 1").click()
    expect(page.locator("main")).to_contain_text("We helped [removed] after the burglary.")
    assert_accessible(page)


SEVENOAKS_PARTNER = "sevenoaks-partner@demo.test"
NARRATIVE_TYPED = {
    "Progress this quarter": "We visited a client at TN13 1AA twice.",
    "Case study": "Mrs Jones called us on 07700 900123.",
    "Challenges and risks": "Outreach at 14 Oak Road was hard.",
    "Reason for your rating": "Email jo.bloggs@example.org for details.",
}


def sevenoaks_partner(live_server) -> str:
    """The demo has no partner account for Sevenoaks CSU's project: one, so these tests have a project to
    themselves."""
    with live_server.app.app_context():
        try:
            if db.session.scalar(select(User.id).where(User.email == SEVENOAKS_PARTNER)) is None:
                organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == "Sevenoaks CSU"))
                create_user(SEVENOAKS_PARTNER, roles=[PARTNER], password=DEMO_PASSWORD, organisation=organisation)
                db.session.commit()
        finally:
            db.session.remove()
    return SEVENOAKS_PARTNER


def test_without_javascript_every_answer_is_checked_on_save(live_server, browser: Browser, base_url: str):
    """Without JavaScript the guard runs on the save: each answer's warning beside it, each in the summary."""
    sevenoaks_partner(live_server)
    open_return = first_free_quarter(live_server, "Sevenoaks CSU")
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, SEVENOAKS_PARTNER)
        page.goto(f"{open_return.path}/narrative")
        for label, typed in NARRATIVE_TYPED.items():
            page.get_by_label(label, exact=True).fill(typed)
        page.get_by_role("radio", name=re.compile(r"^Green")).check()
        page.get_by_role("button", name="Save and continue").click()
        summary = page.locator(".govuk-error-summary, .govuk-warning-text").first
        expect(summary).to_be_visible()
        for name, kind in (
            ("progress", "a postcode: TN13 1AA"),
            ("case_study", "a phone number: 07700 900123"),
            ("challenges", "a street address: 14 Oak Road"),
            ("partner_rag_reason", "an email address: jo.bloggs@example.org"),
        ):
            expect(page.locator(f"#personal-data-{name}")).to_contain_text(kind)
            expect(page.locator(f'a[href="#{name}"]').first).to_be_visible()
        # What was typed is kept in the boxes.
        expect(page.get_by_label("Case study", exact=True)).to_have_value(NARRATIVE_TYPED["Case study"])
        assert_accessible_without_javascript(page, browser)
        # The spend page's explanation is checked the same way.
        page.goto(f"{open_return.path}/spend")
        page.get_by_label("Spend in the quarter", exact=True).fill(f"{open_return.spend_pence / 100:.2f}")
        page.get_by_label("Explanation of spend", exact=True).fill("Rent for the flat at ME14 2LL.")
        page.get_by_role("button", name="Save and continue").click()
        expect(page.locator("#personal-data-spend_explanation")).to_contain_text("a postcode: ME14 2LL")
        assert_accessible_without_javascript(page, browser)
    finally:
        context.close()

    # With JavaScript the portal checks each answer after a pause in typing, before any save.
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        sign_in(page, SEVENOAKS_PARTNER)
        page.goto(f"{open_return.path}/narrative")
        for label, name, typed, found in (
            ("Progress this quarter", "progress", "She moved to ME14 2LL.", "a postcode: ME14 2LL"),
            ("Case study", "case_study", "Ring 07700 900456 after six.", "a phone number: 07700 900456"),
            ("Challenges and risks", "challenges", "Mr Patel could not attend.", "a name with a title: Mr Patel"),
            ("Reason for your rating", "partner_rag_reason", "Born 03/04/1988.", "a date of birth"),
        ):
            # Not there before it is typed (the saved answers hold other words).
            expect(page.locator(f"#personal-data-{name}")).not_to_contain_text(found)
            box = page.get_by_label(label, exact=True)
            box.fill("")
            box.press_sequentially(typed)
            expect(page.locator(f"#personal-data-{name}")).to_contain_text(found, timeout=AUTOSAVE_TIMEOUT)
        assert_accessible(page)
    finally:
        context.close()
