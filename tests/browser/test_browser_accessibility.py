"""Axe (WCAG 2.2 AA) finds nothing to fix on the portal's pages, and does find planted faults."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import assert_accessible, run_axe, sign_in

pytestmark = pytest.mark.browser

PLANTED_FAULTS = """<!DOCTYPE html>
<html lang="en">
<head><title>Planted faults</title></head>
<body>
  <main>
    <h1>A page with faults</h1>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
    <form><input type="text" name="unlabelled"></form>
  </main>
</body>
</html>"""


def test_axe_finds_planted_faults(page: Page):
    page.set_content(PLANTED_FAULTS)
    results = run_axe(page)
    assert results.violations_count > 0
    rule_ids = {violation["id"] for violation in results.response["violations"]}
    assert {"image-alt", "label"} <= rule_ids, rule_ids


def test_sign_in_page_is_accessible(page: Page):
    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    assert_accessible(page)


def test_sign_in_page_with_errors_is_accessible(page: Page):
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Enter your email address")
    expect(summary).to_contain_text("Enter your password")
    expect(page).to_have_title(re.compile(r"Error: Sign in.*"))
    assert_accessible(page)


@pytest.mark.parametrize(
    ("email", "home_path", "heading"),
    [
        ("davss@demo.test", "/partner/", "Your projects in"),
        ("csu@demo.test", "/csu/", "Projects overview"),
        ("finance@demo.test", "/finance/", "Funding streams"),
        ("admin@demo.test", "/admin/", "Administration"),
    ],
)
def test_each_roles_home_is_accessible(page: Page, base_url: str, email: str, home_path: str, heading: str):
    sign_in(page, email)
    expect(page).to_have_url(base_url + home_path)
    h1 = page.get_by_role("heading", level=1)
    expect(h1).to_be_visible()
    expect(h1).to_contain_text(heading)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_accessible(page)


def test_error_page_is_accessible(page: Page):
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize(("path", "heading"), [("/accessibility", "Accessibility"), ("/privacy", "Privacy")])
def test_statement_pages_are_accessible(page: Page, path: str, heading: str):
    response = page.goto(path)
    assert response is not None and response.ok
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    assert_accessible(page)
