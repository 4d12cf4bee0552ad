"""As the partner types an output figure, the year to date beside it follows, the way the portal adds it up."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from portal.quantities import format_quantity
from tests.browser.browser_helpers import assert_accessible, sign_in
from tests.browser.test_browser_redaction import sevenoaks_partner
from tests.browser.test_browser_returns import first_free_quarter


def test_the_year_to_date_follows_what_is_typed(page: Page, live_server):
    email = sevenoaks_partner(live_server)
    open_return = first_free_quarter(live_server, "Sevenoaks CSU")
    measure_id, name = open_return.measures[0]
    sign_in(page, email)
    page.goto(f"{open_return.path}/outputs")
    total = page.locator(f'[data-year-to-date-for="m{measure_id}"]')
    before = total.get_attribute("data-before")
    combine = total.get_attribute("data-combine")
    box = page.get_by_label(name, exact=True)
    box.fill("")
    box.press_sequentially("12")
    expected = Decimal(12) if combine == "latest" or not before else Decimal(before) + 12
    expect(total).to_have_text(format_quantity(expected))
    # Not a figure the portal accepts: the year to date is what was reported before.
    box.fill("12x")
    expect(total).to_have_text(format_quantity(Decimal(before)) if before else "—")
    assert_accessible(page)
