"""The keep-text page in Chromium (finding S1): offered to the portal's own form when the session has gone,
with the answers in fields to review; refused, with no form and no cookie, to a form on another site."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import assert_accessible, sign_in
from tests.browser.test_browser_returns import first_free_quarter

TYPED = "Typed for an hour, then the session ended.\nA second paragraph."
EVIL_PAGE = "http://evil.example/prize"


def unexpected(js_errors: list[str]) -> list[str]:
    """Errors besides Chromium's report of the 400 or 403 these pages are answered with."""
    return [error for error in js_errors if "Failed to load resource: the server responded with" not in error]


def test_a_session_ended_while_typing_shows_the_answers_to_review(page: Page, live_server, js_errors):
    davss = first_free_quarter(live_server, "DAVSS")
    sign_in(page, "davss@demo.test")
    page.goto(davss.path + "/narrative")
    page.locator("textarea[name=progress]").fill(TYPED)
    page.context.clear_cookies()  # the session (and its token) ends while the person types
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Save and come back later").click()
    assert posted.value.status == 400
    assert posted.value.request.header_value("sec-fetch-site") == "same-origin"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in again to save your answers")
    answer = page.get_by_label("Progress this quarter")
    expect(answer).to_be_visible()
    expect(answer).to_be_editable()
    expect(answer).to_have_value(TYPED)
    assert_accessible(page)
    assert unexpected(js_errors) == []


def test_a_form_on_another_site_gets_a_plain_refusal(page: Page, live_server, base_url: str, js_errors):
    davss = first_free_quarter(live_server, "DAVSS")
    attack = f"""<!DOCTYPE html><html lang="en"><head><title>Prize</title></head><body><main>
      <form method="post" action="{base_url}{davss.path}/narrative">
        <input type="hidden" name="version" value="0">
        <input type="hidden" name="progress" value="ATTACKER TEXT">
        <button>Claim your prize</button>
      </form></main></body></html>"""
    page.route(EVIL_PAGE, lambda route: route.fulfill(status=200, content_type="text/html", body=attack))
    page.goto(EVIL_PAGE)
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Claim your prize").click()
    assert posted.value.status == 403
    assert "set-cookie" not in posted.value.headers
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers could not be sent")
    expect(page.locator("form")).to_have_count(0)
    assert "ATTACKER" not in page.content()
    assert page.context.cookies(base_url) == []
    assert_accessible(page)
    assert unexpected(js_errors) == []
