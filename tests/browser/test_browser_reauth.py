"""In Chromium, with axe on each page: "Confirm it's you" before an administrator's change, and the sign-in-again
page asking for the authenticator code. Nothing is changed for the demo's people: the roles form is sent unchanged,
and the second factor set up here is removed afterwards (the `configured` fixture)."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Project, User
from portal.services import mfa
from portal.services import returns as service
from tests.browser.browser_helpers import DEMO_PASSWORD, assert_accessible, sign_in
from tests.browser.test_browser_returns import OpenReturn, first_free_quarter
from tests.browser.test_mfa_browser import code_for
from tests.browser.test_mfa_browser import configured as configured_fixture

configured = configured_fixture  # the shared server's settings for one test, and second factors removed after

pytestmark = pytest.mark.browser


def user_id(live_server, email: str) -> int:
    with live_server.app.app_context():
        found = db.session.scalar(select(User.id).where(User.email == email))
        db.session.remove()
    assert found is not None
    return found


def test_a_stale_admin_change_asks_for_the_password_then_goes_back(page: Page, live_server, configured, js_errors):
    target = user_id(live_server, "davss@demo.test")
    sign_in(page, "admin@demo.test")
    configured(REAUTH_WINDOW_MINUTES=0)  # as if signed in long ago
    page.goto(f"{live_server.url}/admin/users/{target}/roles")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm it’s you", level=1)).to_be_visible()
    expect(page.get_by_text("Nothing has been changed yet")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Your password").fill("not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile(r"^Error: Confirm it’s you"))
    expect(page.locator("#password-error")).to_contain_text("Your password is not correct")
    assert_accessible(page)

    configured(REAUTH_WINDOW_MINUTES=15)
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(rf"/admin/users/{target}/roles$"))
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Nothing was changed for davss@demo.test")).to_be_visible()
    assert js_errors == []


@pytest.fixture
def draft_removed_after(live_server):
    """The draft this test saves is removed afterwards: the shared server's other tests need a free quarter."""
    found: list[OpenReturn] = []
    yield found
    with live_server.app.app_context():
        for open_return in found:
            mreturn = service.find_return(db.session.get(Project, open_return.project_id), open_return.quarter)
            if mreturn is not None and mreturn.status == "draft" and not mreturn.revisions:
                db.session.delete(mreturn)
        db.session.commit()
        db.session.remove()


def test_the_sign_in_again_page_asks_for_the_code(page: Page, live_server, configured, draft_removed_after):
    email = "davss@demo.test"
    with live_server.app.app_context():
        partner = db.session.scalar(select(User).where(User.email == email))
        factor = mfa.begin_enrolment(partner)
        mfa.confirm_enrolment(partner, pyotp.TOTP(factor.secret).now())
        factor.last_step -= 2
        db.session.commit()
        db.session.remove()
    davss = first_free_quarter(live_server, "DAVSS")
    draft_removed_after.append(davss)
    sign_in(page, email)
    page.get_by_label("Enter the 6-digit code").fill(code_for(live_server, email))
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    page.goto(davss.path + "/narrative")
    typed = "Typed for an hour, then the session ended."
    page.locator("textarea[name=progress]").fill(typed)
    page.context.clear_cookies()
    with page.expect_navigation():
        page.get_by_role("button", name="Save and come back later").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in and save").click()
    expect(page.get_by_role("heading", name="Enter the code from your authenticator app")).to_be_visible()
    assert_accessible(page)

    right = code_for(live_server, email)
    page.get_by_label("Code from your authenticator app").fill(f"{(int(right) + 500_000) % 1_000_000:06d}")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue and save").click()
    expect(page.locator("#code-error")).to_contain_text("The code is not correct")
    expect(page.get_by_label("Progress this quarter")).to_have_value(typed)
    assert_accessible(page)

    page.get_by_label("Code from your authenticator app").fill(code_for(live_server, email, 1))
    with page.expect_navigation():
        page.get_by_role("button", name="Continue and save").click()
    expect(page.get_by_role("heading", name="Sign in again to save your answers")).to_have_count(0)
    page.goto(davss.path + "/narrative")
    expect(page.locator("textarea[name=progress]")).to_have_value(typed)
