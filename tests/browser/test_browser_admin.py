"""The administrator's and everyone's account pages in the browser: an organisation added (after an error),
changed, and found in the audit trail filtered to it, then retired; people's pages checked before anything
changes; Your account, signing out everywhere else, and choosing which emails you get. Axe on every page and
on the error states.

The live server is shared by the session: the organisation is new and uniquely named, and retired at the end;
nothing is changed for the demo's people (their pages are left with Cancel). Signing out everywhere else is
done as pas@demo.test, whom no other browser test keeps signed in.
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import assert_accessible, sign_in, tab_to

pytestmark = pytest.mark.browser


def summary_row(page: Page, key: str):
    return page.locator(".govuk-summary-list__row", has=page.locator("dt", has_text=key))


def summary_value(page: Page, key: str):
    return summary_row(page, key).locator("dd").first


def trail_rows(page: Page):
    return page.locator("#audit-trail tbody tr")


def test_admin_adds_and_changes_an_organisation_and_finds_it_in_the_audit_trail(page: Page, js_errors: list[str]):
    short_name = f"T{secrets.token_hex(3).upper()}"
    name = f"Browser Test Trust {short_name}"
    sign_in(page, "admin@demo.test")
    expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Add an organisation").click()
    expect(page.get_by_role("heading", name="Add an organisation", level=1)).to_be_visible()
    assert_accessible(page)

    # An error state first: a charity number that is no charity number, an address that is no address.
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Short name").fill(short_name)
    page.get_by_label("Charity number (optional)").fill("12345")
    page.get_by_label("Contact email address (optional)").fill("not an address")
    with page.expect_navigation():
        page.get_by_role("button", name="Save organisation").click()
    expect(page).to_have_title(re.compile(r"^Error: Add an organisation"))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Enter a charity number in the correct format")
    expect(summary).to_contain_text("Enter an email address in the correct format")
    expect(page.get_by_label("Short name")).to_have_value(short_name)  # typed text kept
    assert_accessible(page)

    page.get_by_label("Charity number (optional)").fill("1 012 345")
    page.get_by_label("Contact email address (optional)").fill("hello@trust.example")
    with page.expect_navigation():
        page.get_by_role("button", name="Save organisation").click()
    expect(page).to_have_url(re.compile(r"/admin/organisations/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"{name} has been added.")
    expect(summary_value(page, "Charity number")).to_have_text("1012345")
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^Change details")).click()
    expect(page.get_by_role("heading", name=f"Change {name}", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Company number (optional)").fill("2479018")
    with page.expect_navigation():
        page.get_by_role("button", name="Save organisation").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"{name} has been changed.")
    expect(summary_value(page, "Company number")).to_have_text("02479018")
    organisation_id = re.search(r"/admin/organisations/(\d+)$", page.url).group(1)

    with page.expect_navigation():
        page.get_by_role("link", name=f"Changes to {name} in the audit trail").click()
    expect(page).to_have_url(re.compile(rf"/audit/\?object_type=organisation&object_id={organisation_id}$"))
    expect(page.get_by_label("Kind of object")).to_have_value("organisation")
    expect(page.get_by_label("Object number (optional)")).to_have_value(organisation_id)
    expect(trail_rows(page)).to_have_count(2)
    expect(trail_rows(page).nth(0)).to_contain_text(f"Changed the organisation {short_name}")
    expect(trail_rows(page).nth(0)).to_contain_text("Company number: from blank to 02479018")
    expect(trail_rows(page).nth(1)).to_contain_text(f"Added the organisation {short_name}")
    expect(trail_rows(page).nth(1)).to_contain_text("Charity number: from blank to 1012345")
    expect(trail_rows(page).nth(1)).to_contain_text("Portal administrator (admin@demo.test)")
    assert_accessible(page)

    # The filters' error state: the URL keeps the typed number, the page explains it.
    page.get_by_label("Object number (optional)").fill("twelve")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("alert")).to_contain_text("Object number must be a whole number, like 12")
    expect(page.get_by_label("Object number (optional)")).to_have_value("twelve")
    assert_accessible(page)

    # Retired at the end: asked first, then no longer offered.
    page.goto(f"/admin/organisations/{organisation_id}")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Retire {name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Are you sure you want to retire {name}?")
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name=f"Retire {name}").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"{name} has been retired.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retired")
    assert_accessible(page)
    assert js_errors == []


def test_people_pages_change_nothing_until_confirmed(page: Page, js_errors: list[str]):
    sign_in(page, "admin@demo.test")
    with page.expect_navigation():
        page.get_by_role("link", name="kenward@demo.test").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kenward Trust youth worker")
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name="Change roles and organisation").click()
    expect(page.get_by_role("heading", name="Change roles and organisation", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("checkbox", name="Partner").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Select at least one role")
    assert_accessible(page)

    page.get_by_role("checkbox", name="Partner").check()
    page.get_by_role("checkbox", name="Community Safety Unit").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check the change before you make it", level=1)).to_be_visible()
    expect(summary_value(page, "Roles")).to_have_text("from Partner to Partner, Community Safety Unit")
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel").click()
    expect(summary_value(page, "Roles")).to_have_text("Partner")  # nothing changed

    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^Deactivate")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to deactivate kenward@demo.test?")
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel").click()
    expect(summary_value(page, "Status")).to_have_text("Active")

    page.goto("/admin/")
    with page.expect_navigation():
        page.get_by_role("link", name="admin@demo.test").click()
    expect(page.get_by_role("main")).to_contain_text("This is your own account. You cannot deactivate it")
    expect(page.get_by_role("button", name=re.compile(r"^Deactivate"))).to_have_count(0)
    assert_accessible(page)
    assert js_errors == []


def test_your_account_and_signing_out_everywhere_else(new_context, base_url: str):
    here, elsewhere = new_context().new_page(), new_context().new_page()
    sign_in(here, "pas@demo.test")
    sign_in(elsewhere, "pas@demo.test")

    with here.expect_navigation():
        here.get_by_role("navigation", name="Menu").get_by_role("link", name="Your account").click()
    expect(here).to_have_url(base_url + "/account")
    expect(here.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    expect(summary_value(here, "You signed in")).to_contain_text(re.compile(r"\d{1,2} \w+ \d{4} at \d{2}:\d{2}"))
    expect(summary_row(here, "Password").get_by_role("link", name="Change your password")).to_be_visible()
    assert_accessible(here)

    with here.expect_navigation():
        here.get_by_role("link", name="Change your name").click()
    here.get_by_label("Your name").fill("")
    with here.expect_navigation():
        here.get_by_role("button", name="Save name").click()
    expect(here.get_by_role("alert")).to_contain_text("Enter your name")
    assert_accessible(here)
    here.get_by_label("Your name").fill("PAS advocacy manager")
    with here.expect_navigation():
        here.get_by_role("button", name="Save name").click()
    expect(summary_value(here, "Name")).to_have_text("PAS advocacy manager")

    with here.expect_navigation():
        here.get_by_role("button", name="Sign out everywhere else").click()
    expect(here).to_have_url(base_url + "/account")
    expect(here.locator(".govuk-notification-banner")).to_contain_text("You have been signed out everywhere else.")
    assert_accessible(here)

    elsewhere.goto("/partner/")
    expect(elsewhere).to_have_url(re.compile(r"/sign-in\?next="))
    here.goto("/partner/")
    expect(here).to_have_url(base_url + "/partner/")


def test_choosing_which_emails_you_get_by_keyboard(new_context, base_url: str):
    """As kenward@demo.test; the choices are put back at the end so that other tests' mail is as the demo's."""
    page = new_context().new_page()
    sign_in(page, "kenward@demo.test")
    page.goto("/account")
    tab_to(page, summary_row(page, "Emails").get_by_role("link", name="Change which emails you get"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + "/account/emails")
    expect(page.get_by_role("heading", name="Emails you get", level=1)).to_be_visible()
    expect(summary_value(page, "Overdue return reminders")).to_contain_text("Always sent")
    assert_accessible(page)

    payments = page.get_by_role("group", name="A payment recorded")
    tab_to(page, payments.get_by_role("radio", name="Each message"))
    page.keyboard.press("ArrowRight")  # within a radio group the arrows choose
    expect(payments.get_by_role("radio", name="A daily summary")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Save your choices"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + "/account")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your email choices have been saved.")

    # A form tampered with to turn off a mandatory kind: refused with the GOV.UK error summary, nothing saved.
    page.goto("/account/emails")
    expect(
        page.get_by_role("group", name="A payment recorded").get_by_role("radio", name="A daily summary")
    ).to_be_checked()
    page.get_by_role("main").locator("form").evaluate(
        "form => form.insertAdjacentHTML('beforeend', '<input type=hidden name=overdue value=none>')"
    )
    page.get_by_role("group", name="A payment recorded").get_by_role("radio", name="None").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save your choices").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("is always sent and cannot be turned off")
    assert_accessible(page)
    page.goto("/account/emails")
    payments = page.get_by_role("group", name="A payment recorded")
    expect(payments.get_by_role("radio", name="A daily summary")).to_be_checked()  # the refused form saved nothing

    payments.get_by_role("radio", name="Each message").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save your choices").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your email choices have been saved.")
