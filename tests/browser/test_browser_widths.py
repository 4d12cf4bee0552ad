"""Every page a demo role can reach reads at 320 px to 1920 px (WCAG 2.2 reflow, 1.4.10) with and without JavaScript.

For each role the test follows the links on its home page and the pages they lead to (GET only: nothing is created
or submitted), one page of each kind (the same route with another id is the same layout), and at each width checks
that the page itself never scrolls sideways: wide tables scroll inside their own labelled region instead. Axe runs
at 320 and 1280 px. 320 px is also what a 1280 px screen shows at 400 % zoom.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.browser_helpers import assert_accessible, assert_accessible_without_javascript, sign_in

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1280, 1920)
AXE_WIDTHS = (320, 1280)
HEIGHT = 800
ROLES = {
    "partner": ("davss@demo.test", "/partner/"),
    "csu": ("csu@demo.test", "/csu/"),
    "finance": ("finance@demo.test", "/finance/"),
    "admin": ("admin@demo.test", "/admin/"),
}
# Pages that are not part of a role's reading: signing in and out, one-off links, files (a dot in the last segment).
SKIP = re.compile(r"^/(sign-in|sign-out|password-reset|invitations/|healthz|assets/)|/[^/]*\.[a-z0-9]+$")
# Pages the role starts from, and the shared pages every role can open from the footer or the header.
SHARED = ("/account", "/accessibility", "/privacy")
MAX_PAGES = 45
# Pages a role must reach by the links (so that MAX_PAGES never cuts them off): each of finance's changes to a
# project's ledger is a page of its own, reached from the project page's buttons.
MUST_REACH = {
    "finance": {
        "/finance/projects/<id>/payments/new",
        "/finance/projects/<id>/variations/new",
        "/finance/projects/<id>/instalments/new",
    }
}

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# Every scrolling region is a focusable, labelled region a keyboard user can scroll.
UNLABELLED_REGIONS = """() => [...document.querySelectorAll('.portal-table-scroll')]
    .filter(r => r.getAttribute('role') !== 'region' || r.tabIndex !== 0 ||
                 !(r.getAttribute('aria-labelledby') && document.getElementById(r.getAttribute('aria-labelledby'))))
    .map(r => r.outerHTML.slice(0, 120))"""
LINKS = """() => [...document.querySelectorAll('main a[href], header a[href], nav a[href], footer a[href]')]
    .filter(a => !a.hasAttribute('download')).map(a => a.href)"""


def kind(path: str) -> str:
    """The route a path belongs to: ids, quarters and year labels stand for any."""
    path = re.sub(r"/\d{4}-\d{2}(?=/|$)", "/<year>", path)
    path = re.sub(r"/q\d(?=/|$)", "/q<n>", path)
    return re.sub(r"/\d+(?=/|$)", "/<id>", path)


def crawl(page: Page, origin: str, home: str) -> Iterator[str]:
    """Pages reachable from `home` by links, one of each kind, breadth first; `page` is left on each in turn.

    The pages every role shares (the account pages, the statements) are checked with the partner only."""
    queue = [home, *SHARED]
    seen_kinds: set[str] = (
        set()
        if home == ROLES["partner"][1]
        else {kind(p) for p in SHARED}
        | {"/account/name", "/account/password", "/account/authenticator", "/account/emails", "/"}
    )
    while queue and len(seen_kinds) < MAX_PAGES:
        path = queue.pop(0)
        if kind(path) in seen_kinds or SKIP.search(path):
            continue
        seen_kinds.add(kind(path))
        response = page.goto(origin + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        yield path
        for href in page.evaluate(LINKS):
            parts = urlsplit(href)
            if f"{parts.scheme}://{parts.netloc}" == origin and kind(parts.path) not in seen_kinds:
                queue.append(parts.path)


def check_widths(page: Page, path: str, widths: tuple[int, ...], axe: tuple[int, ...]) -> list[str]:
    faults = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        overflow = page.evaluate(OVERFLOW)
        if overflow > 0:
            faults.append(f"{path} at {width}px: the page scrolls sideways by {overflow}px")
        if width in axe:
            assert_accessible(page)
    return faults


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_every_width(browser: Browser, base_url: str, role: str):
    email, home = ROLES[role]
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": HEIGHT})
    faults: list[str] = []
    visited: list[str] = []
    try:
        page = context.new_page()
        sign_in(page, email)
        for path in crawl(page, base_url, home):
            visited.append(path)
            faults += check_widths(page, path, WIDTHS, AXE_WIDTHS)
            faults += [
                f"{path}: a scrolling region is not labelled and focusable: {r}"
                for r in page.evaluate(UNLABELLED_REGIONS)
            ]
    finally:
        context.close()
    assert len(visited) >= 5, visited
    assert MUST_REACH.get(role, set()) <= {kind(path) for path in visited}, visited
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone_without_javascript(browser: Browser, base_url: str, role: str):
    email, home = ROLES[role]
    context = browser.new_context(
        base_url=base_url, java_script_enabled=False, viewport={"width": 320, "height": HEIGHT}
    )
    faults: list[str] = []
    visited: list[str] = []
    try:
        page = context.new_page()
        sign_in(page, email)
        for path in crawl(page, base_url, home):
            visited.append(path)
            faults += check_widths(page, path, (320,), ())
            if path == home:  # axe without JavaScript takes a second context: the role's home stands for the rest
                assert_accessible_without_javascript(page, browser)
    finally:
        context.close()
    assert MUST_REACH.get(role, set()) <= {kind(path) for path in visited}, visited
    assert not faults, "\n".join(faults)


def test_the_overview_shows_every_column_on_a_laptop(page: Page, base_url: str):
    """The CSU overview at 1280 px: the last column (the CSU's RAG) ends inside the window, nothing clipped."""
    page.set_viewport_size({"width": 1280, "height": HEIGHT})
    sign_in(page, "csu@demo.test")
    page.goto("/csu/")
    table = page.locator("#budget-table table")
    last_header = table.locator("thead tr").last.locator("th").last
    box = last_header.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, box
    region = page.locator("#budget-table [role=region]")
    # No part of the table is hidden in the region's own scroll either.
    assert region.evaluate("r => r.scrollWidth <= r.clientWidth"), "the overview scrolls inside its region at 1280 px"
    table_box = table.bounding_box()
    assert table_box is not None and table_box["x"] >= 0
