"""No JavaScript errors: the Content-Security-Policy lets the portal's own scripts run, and they run cleanly."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def js_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


def test_no_javascript_errors_signing_in(page: Page, js_errors: list[str]):
    page.goto("/sign-in", wait_until="networkidle")
    # The inline script ran (its nonce matched) and GOV.UK Frontend initialised from /assets/js/init.js.
    expect(page.locator("body")).to_have_class(re.compile(r".*\bjs-enabled\b.*\bgovuk-frontend-supported\b.*"))
    expect(page.get_by_role("button", name="Show password")).to_be_visible()
    assert js_errors == []

    sign_in(page, "davss@demo.test")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your projects in")
    assert js_errors == []


def test_console_check_catches_a_blocked_inline_script(page: Page, js_errors: list[str]):
    """The check is live: an inline script without the nonce is refused by the CSP and reported."""
    page.goto("/sign-in", wait_until="networkidle")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.plantedScriptRan = true;";
                document.body.append(script);
            }"""
        )
    assert page.evaluate("() => window.plantedScriptRan === undefined")
    assert any("Content Security Policy" in error for error in js_errors), js_errors
