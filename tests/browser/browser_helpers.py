"""Helpers for the browser tests: sign in through the form, and check a page with axe."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

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
