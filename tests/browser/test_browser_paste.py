"""Paste works where a password manager or a person pastes (RELIABILITY.md 6, 7, B21; WCAG 2.2 3.3.8): the password on
sign-in and the six-digit code, both when setting up the authenticator and when signing in with it. The value goes
through the system clipboard and a real Ctrl+V, so a page that blocked paste (a handler cancelling it, an
`onpaste` attribute) would leave the box empty and the test would fail. axe on every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.config import Config
from tests.browser.browser_helpers import DEMO_PASSWORD, assert_accessible
from tests.browser.test_mfa_browser import code_for, configured  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

EMAIL = "finance@demo.test"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "permissions": ["clipboard-read", "clipboard-write"]}


def paste_into(page: Page, label: str, text: str) -> None:
    """Put the text on the clipboard, click into the box and press Ctrl+V, as a person would."""
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    box = page.get_by_label(label, exact=True)
    box.click()
    box.press("ControlOrMeta+V")
    expect(box).to_have_value(text)


def sign_in_by_pasting(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    paste_into(page, "Password", DEMO_PASSWORD)
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_the_password_and_the_codes_can_be_pasted(page: Page, live_server, configured, js_errors):  # noqa: F811
    configured(MFA_REQUIRED_ROLES=Config.MFA_REQUIRED_ROLES)

    sign_in_by_pasting(page)
    expect(page.get_by_role("heading", name="Set up your authenticator app", level=1)).to_be_visible()
    paste_into(page, "Enter the 6-digit code", code_for(live_server, EMAIL))
    assert_accessible(page)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    page.get_by_role("button", name=re.compile("I have saved my recovery codes")).click()
    expect(page).to_have_url(re.compile(r"/finance/"))
    page.get_by_role("button", name="Sign out").first.click()

    sign_in_by_pasting(page)
    expect(page.get_by_role("heading", name="Enter the code from your authenticator app", level=1)).to_be_visible()
    # The next step's code: this step's was used to set up, and a code is good once.
    paste_into(page, "Enter the 6-digit code", code_for(live_server, EMAIL, 1))
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/finance/"))
    assert js_errors == []


def test_nothing_on_the_sign_in_page_cancels_a_paste(page: Page):
    """A paste event on each box is left to the browser: no script calls preventDefault()."""
    page.goto("/sign-in")
    for label in ("Email address", "Password"):
        cancelled = page.get_by_label(label, exact=True).evaluate(
            """box => {
                const data = new DataTransfer();
                data.setData("text/plain", "pasted");
                const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
                return !box.dispatchEvent(event);
            }"""
        )
        assert cancelled is False, label
        assert page.get_by_label(label, exact=True).get_attribute("onpaste") is None
