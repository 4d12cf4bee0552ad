"""Helpers for the browser tests: sign in through the form, move by keyboard, and check a page with axe."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page

DEMO_PASSWORD = "browser-demo-password-1"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real form, as a user would."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    # Exact: the password field's "Show password" button is labelled too.
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def run_axe(page: Page):
    return Axe().run(page, options=AXE_OPTIONS)


def assert_accessible(page: Page) -> None:
    results = run_axe(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def tab_to(page: Page, target: Locator, *, limit: int = 80, key: str = "Tab") -> None:
    """Press Tab (or another key) until `target` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press(key)
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} was not reached with {limit} presses of {key}")


SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def assert_accessible_without_javascript(page: Page, browser: Browser) -> None:
    """Axe on a page shown with JavaScript disabled, exactly as it was rendered.

    axe-core needs JavaScript (its run waits on timers, which never fire in a page without it), so the page's
    markup is copied, stripped of its scripts so that nothing enhances it, and served at the same address to a
    page with JavaScript on. This checks what a person without JavaScript got, error states (answers to a POST)
    included, with the portal's own stylesheets loaded from the live server.
    """
    html = SCRIPT.sub("", page.content())
    context = browser.new_context()
    try:
        checker = context.new_page()
        checker.route(page.url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        checker.goto(page.url)
        checker.wait_for_load_state("load")
        assert checker.evaluate("() => !document.body.classList.contains('js-enabled')")
        assert_accessible(checker)
    finally:
        context.close()
