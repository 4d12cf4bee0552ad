"""Invitations and forgotten passwords in the browser: an admin invites a partner, the partner follows the link from
the captured mail (the outbox: no mail server here), sets a password and lands on their home. Axe on every new page
and every error state."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage
from tests.browser.browser_helpers import DEMO_PASSWORD, assert_accessible, sign_in

pytestmark = pytest.mark.browser

INVITED = "invited.partner@demo.test"
NEW_PASSWORD = "invited partner pass phrase"


@pytest.fixture(autouse=True)
def links_to_the_live_server(live_server) -> Iterator[None]:
    """Links in mail start with PUBLIC_URL: here, the test server's own address."""
    before = live_server.app.config["PUBLIC_URL"]
    live_server.app.config["PUBLIC_URL"] = live_server.url
    yield
    live_server.app.config["PUBLIC_URL"] = before


def error_state(page: Page, *messages: str) -> None:
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    for message in messages:
        expect(summary).to_contain_text(message)
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert_accessible(page)


def test_an_admin_invites_a_partner_who_sets_a_password_and_lands_on_their_home(
    page: Page, base_url: str, js_errors: list[str]
):
    sign_in(page, "admin@demo.test")
    page.get_by_role("main").get_by_role("link", name="Invitations").click()
    expect(page.get_by_role("heading", name="Invitations", level=1)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Invite someone").click()
    expect(page.get_by_role("heading", name="Invite someone", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Send invitation").click()
    error_state(page, "Enter the email address of the person to invite", "Select at least one role")

    page.get_by_label("Email address").fill(INVITED)
    page.get_by_label("Partner", exact=True).check()
    page.get_by_role("button", name="Send invitation").click()
    error_state(page, "Select the partner's organisation")
    expect(page.get_by_label("Email address")).to_have_value(INVITED)  # what was typed stays

    page.get_by_label("Organisation").select_option(label="Domestic Abuse Volunteer Support Services")
    page.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_url(base_url + "/admin/invitations")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Invited {INVITED}")
    expect(page.get_by_role("table")).to_contain_text(INVITED)
    assert_accessible(page)

    # The mail, as the admin reads it in the outbox (no mail server is configured for the browser tests).
    page.get_by_role("link", name="See the emails in the outbox").click()
    expect(page.get_by_role("heading", name="Outbox", level=1)).to_be_visible()
    expect(page.get_by_text("No mail server is set up")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=re.compile(rf"Set up your account.* to {re.escape(INVITED)}")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Set up your account")
    assert_accessible(page)
    link = page.get_by_role("main").locator("a[href*='/invitations/']").get_attribute("href")
    assert link is not None and link.startswith(base_url + "/invitations/")
    page.get_by_role("button", name="Sign out").click()

    # The person invited follows the link.
    page.goto(link)
    expect(page.get_by_role("heading", name="Set up your account", level=1)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(INVITED)
    assert_accessible(page)
    page.get_by_role("button", name="Create account").click()
    error_state(page, "Enter your full name", "Enter a password")
    page.get_by_label("Full name").fill("Invited Partner")
    page.get_by_label("Create a password", exact=True).fill("too short")
    page.get_by_role("button", name="Create account").click()
    error_state(page, "Password must be 12 characters or more")
    expect(page.get_by_label("Full name")).to_have_value("Invited Partner")
    page.get_by_label("Create a password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(base_url + "/partner/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your projects in")
    expect(
        page.get_by_role("main").get_by_role(
            "link", name="Support for Medium & High Risk Victims - Domestic Abuse", exact=True
        )
    ).to_be_visible()
    assert_accessible(page)

    # The link worked once.
    page.get_by_role("button", name="Sign out").click()
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", name="This invitation has already been used", level=1)).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text(INVITED)
    assert_accessible(page)
    sign_in(page, INVITED, NEW_PASSWORD)
    expect(page).to_have_url(base_url + "/partner/")
    assert [error for error in js_errors if "status of 410" not in error] == []  # the used link's page is 410


def test_an_admin_withdraws_an_invitation(page: Page, base_url: str):
    sign_in(page, "admin@demo.test")
    page.goto("/admin/invitations/new")
    page.get_by_label("Email address").fill("to.withdraw@demo.test")
    page.get_by_label("Community Safety Unit").check()
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_role("link", name="Withdraw the invitation to to.withdraw@demo.test").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Withdraw the invitation to to.withdraw@demo.test?")
    assert_accessible(page)
    page.get_by_role("button", name="Withdraw invitation").click()
    expect(page).to_have_url(base_url + "/admin/invitations")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Withdrew the invitation")
    expect(page.get_by_role("table")).not_to_contain_text("to.withdraw@demo.test")


def reset_link(live_server, email: str) -> str:
    with live_server.app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.text_body)
            .where(OutboxMessage.to_address == email, OutboxMessage.kind == "password_reset")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        db.session.remove()
    assert body is not None
    match = re.search(re.escape(live_server.url) + r"/password-reset/[\w-]+", body)
    assert match, body
    return match.group(0)


def test_forgotten_password_pages(page: Page, base_url: str, live_server, js_errors: list[str]):
    page.goto("/sign-in")
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", name="Reset your password", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Send the link").click()
    error_state(page, "Enter your email address")
    page.get_by_label("Email address").fill("pas@demo.test")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email", level=1)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("If pas@demo.test has an account")
    assert_accessible(page)

    page.goto(reset_link(live_server, "pas@demo.test"))
    expect(page.get_by_role("heading", name="Choose a new password", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set password").click()
    error_state(page, "Password must be 12 characters or more")
    page.get_by_label("New password").fill(DEMO_PASSWORD)  # the same as before: other tests sign in as PAS
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(base_url + "/partner/")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your password has been changed")
    assert js_errors == []


def test_a_link_that_does_not_work_gets_a_clear_page(page: Page):
    response = page.goto("/password-reset/not-a-link-we-sent")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="This link does not work", level=1)).to_be_visible()
    assert_accessible(page)
