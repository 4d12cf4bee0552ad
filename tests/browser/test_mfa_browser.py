"""The second factor and the idle warning in a real browser: axe on each page, and by keyboard."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from portal.config import Config
from portal.extensions import db
from portal.models import RecoveryCode, SecondFactor, User
from tests.browser.browser_helpers import DEMO_PASSWORD, assert_accessible, sign_in, tab_to

pytestmark = pytest.mark.browser


@pytest.fixture
def configured(live_server):
    """Change the shared server's settings for one test; put them back, and remove any second factor set up."""
    app = live_server.app
    saved = dict(app.config)

    def configure(**settings) -> None:
        app.config.update(settings)

    yield configure
    app.config.clear()
    app.config.update(saved)
    with app.app_context():
        db.session.execute(delete(RecoveryCode))
        db.session.execute(delete(SecondFactor))
        db.session.commit()
        db.session.remove()


def code_for(live_server, email: str, step_offset: int = 0) -> str:
    with live_server.app.app_context():
        secret = db.session.scalar(
            select(SecondFactor.secret).join(User, User.id == SecondFactor.user_id).where(User.email == email)
        )
        db.session.remove()
    return pyotp.TOTP(secret).generate_otp(int(time.time()) // 30 + step_offset)


def test_setting_up_and_signing_in_with_a_code_by_keyboard(page: Page, live_server, configured, js_errors):
    configured(MFA_REQUIRED_ROLES=Config.MFA_REQUIRED_ROLES)
    sign_in(page, "finance@demo.test")
    expect(page).to_have_url(re.compile(r"/sign-in/set-up$"))
    expect(page.get_by_role("heading", name="Set up your authenticator app", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Enter the 6-digit code").fill(
        "000000" if code_for(live_server, "finance@demo.test") != "000000" else "111111"
    )
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page)  # the error state too

    page.get_by_label("Enter the 6-digit code").fill(code_for(live_server, "finance@demo.test"))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    expect(page.locator(".portal-recovery-codes code")).to_have_count(10)
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("I have saved my recovery codes")).click()
    expect(page).to_have_url(re.compile(r"/finance/"))
    assert js_errors == []
    page.get_by_role("button", name="Sign out").first.click()

    # Next time: the password, then the code, all by keyboard.
    page.goto("/sign-in")
    tab_to(page, page.get_by_label("Email address"))
    page.keyboard.type("finance@demo.test")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Enter the code from your authenticator app", level=1)).to_be_visible()
    assert_accessible(page)
    tab_to(page, page.get_by_label("Enter the 6-digit code"))
    # The next step's code: this step's was used to set up, and a code is good once.
    page.keyboard.type(code_for(live_server, "finance@demo.test", 1))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/finance/"))
    assert js_errors == []


def test_the_idle_warning_keeps_the_session_by_keyboard(page: Page, live_server, configured, js_errors):
    # Signed out after 12 s without use; the warning 10 s before, so it shows after about 2 s.
    configured(SESSION_IDLE_MINUTES=0.2, SESSION_WARNING_SECONDS=10)
    sign_in(page, "davss@demo.test")
    dialog = page.get_by_role("dialog", name="You will be signed out soon")
    expect(dialog).to_be_visible(timeout=6000)
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()  # focus moved into the dialog
    assert dialog.get_attribute("aria-modal") == "true"
    assert_accessible(page)

    # Focus stays inside: Tab goes to "Sign out", then round to "Stay signed in".
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Sign out")).to_be_focused()
    page.keyboard.press("Tab")
    expect(stay).to_be_focused()
    with page.expect_response(lambda response: response.url.endswith("/session/keep-alive")) as kept:
        page.keyboard.press("Enter")
    assert kept.value.status == 204
    expect(dialog).to_be_hidden()

    # Escape means "stay signed in" too.
    expect(dialog).to_be_visible(timeout=6000)
    with page.expect_response(lambda response: response.url.endswith("/session/keep-alive")) as kept:
        page.keyboard.press("Escape")
    assert kept.value.status == 204
    expect(dialog).to_be_hidden()
    page.reload()
    expect(page).not_to_have_url(re.compile(r"/sign-in"))
    assert js_errors == []
