"""The CSU filters the due list, selects Kenward's overdue return, previews the chase and sends it; axe on each page.

The live server is shared by the session; the demo's past years are closed at load, so the list holds the
current year's returns. Kenward Trust has a partner account and a return overdue by December (its Q2); the
test works out the row from the page rather than hard-coding a quarter.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.calendar import uk_today
from portal.extensions import db
from portal.models import OutboxMessage
from tests.browser.browser_helpers import assert_accessible, sign_in

pytestmark = pytest.mark.browser


def chases_to(live_server, address: str) -> int:
    with live_server.app.app_context():
        try:
            query = select(OutboxMessage.id).where(OutboxMessage.kind == "chase", OutboxMessage.to_address == address)
            return len(db.session.scalars(query).all())
        finally:
            db.session.remove()


def test_the_csu_chases_an_overdue_return_from_the_due_list(page: Page, live_server, js_errors: list[str]):
    before = chases_to(live_server, "kenward@demo.test")
    sign_in(page, "csu@demo.test")
    page.goto("/csu/due")
    expect(page.get_by_role("heading", level=1)).to_have_text("Returns due and overdue")
    assert_accessible(page)

    page.get_by_label("Organisation").fill("Kenward")
    page.get_by_label("State").select_option(label="Overdue")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/csu/due\?.*organisation=Kenward.*state=overdue"))
    rows = page.locator("#due-table tbody tr")
    if rows.count() == 0:
        pytest.skip("Kenward has no overdue return on this date")
    expect(rows.first).to_contain_text("Kenward")
    assert_accessible(page)

    # Nothing selected: an error, and nothing sent.
    with page.expect_navigation():
        page.get_by_role("button", name="Preview the chase").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("Select at least one overdue return to chase")
    assert_accessible(page)

    page.locator("#due-table tbody tr").first.get_by_role("checkbox").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Preview the chase").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the chase before you send it")
    expect(page.locator("main")).to_contain_text("kenward@demo.test")
    expect(page.locator(".portal-mail-preview")).to_contain_text("The Community Safety Unit asks for your")
    assert chases_to(live_server, "kenward@demo.test") == before
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("button", name="Send the chase").click()
    expect(page).to_have_url(re.compile(r"/csu/due\?.*state=overdue"))
    expect(page.get_by_text(re.compile(r"Chase sent: 1 email about 1 return"))).to_be_visible()
    today = uk_today()
    expect(page.locator("#due-table tbody tr").first).to_contain_text(f"{today.day} {today:%B %Y}")
    assert_accessible(page)
    assert chases_to(live_server, "kenward@demo.test") == before + 1
    assert js_errors == []
