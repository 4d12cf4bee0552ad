"""An administrator's change needs a recent proof of who they are (ASVS 7.5.1, RELIABILITY.md B15).

Signing in counts as one; REAUTH_WINDOW_MINUTES (15) later, a change is refused before it happens and the
administrator goes to "Confirm it's you" (password, and the code when they have an authenticator app), then back.
Reading the admin pages needs nothing more.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, SignInFailure, User
from portal.services import mfa
from portal.services.auth import account_key
from tests.conftest import TEST_PASSWORD

# The middle of a 30-second step, so a code made here is the one the portal expects.
START = datetime(2026, 3, 2, 9, 0, 15, tzinfo=UTC)
MINUTES = timedelta(minutes=1)


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="portal.security")
    return lambda: [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.security"]


@pytest.fixture
def clock():
    with freeze_time(START) as frozen:
        yield frozen


def sign_in(client, user: User) -> None:
    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302 and "/sign-in" not in response.location


def deactivate(client, user: User):
    return client.post(f"/admin/users/{user.id}/deactivate", data={"confirm": "Deactivate"})


def is_active(user: User) -> bool:
    return db.session.get(User, user.id).active


def failures(user: User) -> int:
    key = account_key(user.email)
    return db.session.scalar(select(func.count()).select_from(SignInFailure).where(SignInFailure.account_key == key))


def confirm_path(response) -> tuple[str, str]:
    """Where a refused change was sent, and the page it will come back to."""
    assert response.status_code == 303
    parts = urlsplit(response.location)
    return parts.path, parse_qs(parts.query).get("next", [""])[0]


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'<p id="{field}-error" class="govuk-error-message">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("Error:", "").strip()


def enable_authenticator(user: User) -> tuple[pyotp.TOTP, list[str]]:
    """MFA on for the user, set up in an earlier step; the app that makes their codes, and the recovery codes."""
    factor = mfa.begin_enrolment(user)
    totp = pyotp.TOTP(factor.secret)
    codes = mfa.confirm_enrolment(user, totp.now())
    factor.last_step -= 2
    db.session.commit()
    return totp, codes


# -- a stale proof: the change is refused and nothing changes ------------------------------------------------


def test_after_the_window_a_change_is_refused_and_nothing_changes(app, client, two_orgs, clock, security_log):
    admin, partner = two_orgs["admin"], two_orgs["partner_a"]
    sign_in(client, admin)
    clock.tick(16 * MINUTES)
    page = client.get(f"/admin/users/{partner.id}/deactivate")
    assert page.status_code == 200 and "Are you sure" in page.text  # reading needs nothing more

    path, back = confirm_path(deactivate(client, partner))
    assert (path, back) == ("/confirm-identity", f"/admin/users/{partner.id}/deactivate")
    assert is_active(partner)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.deactivated")) is None
    assert {"event": "reauth.required", "endpoint": "admin.user_deactivate"}.items() <= security_log()[-1].items()
    confirm = client.get(f"/confirm-identity?next={back}")
    assert "Confirm it’s you" in confirm.text and "Nothing has been changed yet" in confirm.text


def test_every_admin_change_is_guarded(app, two_orgs, login, clock):
    """Every POST of the admin pages, from the URL map: a new one cannot be left out."""
    admin, partner = two_orgs["admin"], two_orgs["partner_a"]
    client = app.test_client()
    login(client, admin)
    clock.tick(16 * MINUTES)
    values = {"user_id": partner.id, "organisation_id": two_orgs["davss"].id, "invitation_id": 1, "message_id": 1}
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.") and "POST" in rule.methods]
    assert len(rules) >= 10
    for rule in rules:
        url = rule.build({key: values[key] for key in rule.arguments})[1]
        response = client.post(url, data={"confirm": "yes"})
        assert confirm_path(response)[0] == "/confirm-identity", rule.rule
    assert is_active(partner)


def test_a_change_from_an_htmx_request_is_sent_to_confirm_too(app, client, two_orgs, clock):
    sign_in(client, two_orgs["admin"])
    clock.tick(16 * MINUTES)
    response = client.post(f"/admin/users/{two_orgs['partner_a'].id}/deactivate", headers={"HX-Request": "true"})
    assert response.status_code == 403 and response.headers["HX-Redirect"].startswith("/confirm-identity")
    assert is_active(two_orgs["partner_a"])


def test_a_button_without_a_page_of_its_own_comes_back_to_the_page_it_was_on(app, client, two_orgs, clock):
    partner = two_orgs["partner_a"]
    sign_in(client, two_orgs["admin"])
    clock.tick(16 * MINUTES)
    on = f"http://localhost/admin/users/{partner.id}"
    response = client.post(f"/admin/users/{partner.id}/reactivate", headers={"Referer": on})
    assert confirm_path(response)[1] == f"/admin/users/{partner.id}"
    elsewhere = client.post(f"/admin/users/{partner.id}/reactivate", headers={"Referer": "https://evil.example/x"})
    assert confirm_path(elsewhere)[1] == ""


# -- the window, by the clock -----------------------------------------------------------------------------------


def test_the_window_is_fifteen_minutes_from_sign_in(app, two_orgs, clock):
    admin, first, second = two_orgs["admin"], two_orgs["partner_a"], two_orgs["partner_b"]
    client = app.test_client()
    sign_in(client, admin)
    clock.tick(15 * MINUTES)
    assert deactivate(client, first).location == f"/admin/users/{first.id}"  # just in time
    assert not is_active(first)
    clock.tick(timedelta(seconds=1))
    assert confirm_path(deactivate(client, second))[0] == "/confirm-identity"
    assert is_active(second)


@pytest.mark.parametrize("app_config", [{"REAUTH_WINDOW_MINUTES": 5}])
def test_the_window_comes_from_the_configuration(app, client, two_orgs, clock):
    sign_in(client, two_orgs["admin"])
    clock.tick(6 * MINUTES)
    assert confirm_path(deactivate(client, two_orgs["partner_a"]))[0] == "/confirm-identity"


# -- "Confirm it's you" -----------------------------------------------------------------------------------------


def test_a_wrong_password_is_shown_beside_the_field_counted_and_changes_nothing(
    app, client, two_orgs, clock, security_log
):
    admin, partner = two_orgs["admin"], two_orgs["partner_a"]
    sign_in(client, admin)
    clock.tick(20 * MINUTES)
    back = f"/admin/users/{partner.id}/deactivate"
    response = client.post("/confirm-identity", data={"password": "not my password", "next": back})
    assert response.status_code == 422
    assert "<title>Error: Confirm it’s you" in response.text
    assert error_beside(response.text, "password") == "Your password is not correct"
    assert failures(admin) == 1
    assert {"event": "reauth.failed", "reason": "wrong_password", "user_id": admin.id}.items() <= security_log()[
        -1
    ].items()
    assert confirm_path(deactivate(client, partner))[0] == "/confirm-identity"  # still stale
    assert is_active(partner)


def test_wrong_passwords_share_the_sign_in_throttle(app, client, two_orgs, clock):
    """Ten wrong passwords here, and the eleventh attempt is refused even with the right one, as at sign-in."""
    admin = two_orgs["admin"]
    sign_in(client, admin)
    clock.tick(20 * MINUTES)
    for _ in range(app.config["SIGN_IN_MAX_FAILURES"]):
        assert client.post("/confirm-identity", data={"password": "not my password"}).status_code == 422
    refused = client.post("/confirm-identity", data={"password": TEST_PASSWORD})
    assert refused.status_code == 429
    assert "too many failed attempts" in error_beside(refused.text, "password")
    # ...and at the sign-in page too: the same count.
    other = app.test_client().post("/sign-in", data={"email": admin.email, "password": TEST_PASSWORD})
    assert other.status_code == 429


def test_the_right_password_lets_the_change_go_ahead_and_comes_back(app, client, two_orgs, clock, security_log):
    admin, partner = two_orgs["admin"], two_orgs["partner_a"]
    sign_in(client, admin)
    clock.tick(20 * MINUTES)
    back = f"/admin/users/{partner.id}/deactivate"
    page = client.get(f"/confirm-identity?next={back}")
    assert 'id="code"' not in page.text  # no authenticator app: the password alone
    response = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "next": back})
    assert response.status_code == 302 and response.location == back
    assert failures(admin) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.identity_confirmed"))
    assert event.actor_id == admin.id and event.object_id == admin.id
    assert "reauth.confirmed" in [line["event"] for line in security_log()]
    assert deactivate(client, partner).location == f"/admin/users/{partner.id}"
    assert not is_active(partner)
    # A new window of its own: 15 minutes from the confirmation.
    clock.tick(16 * MINUTES)
    assert confirm_path(deactivate(client, two_orgs["partner_b"]))[0] == "/confirm-identity"


def test_with_an_authenticator_app_the_code_is_needed_too(app, client, two_orgs, clock, login):
    admin, partner = two_orgs["admin"], two_orgs["partner_a"]
    totp, _ = enable_authenticator(admin)
    login(client, admin)
    clock.tick(20 * MINUTES)
    back = f"/admin/users/{partner.id}/deactivate"
    assert 'id="code"' in client.get(f"/confirm-identity?next={back}").text

    missing = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "next": back})
    assert missing.status_code == 422
    assert error_beside(missing.text, "code") == "Enter the 6-digit code from your authenticator app"
    wrong_code = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    wrong = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "code": wrong_code, "next": back})
    assert wrong.status_code == 422 and "The code is not correct" in error_beside(wrong.text, "code")
    assert confirm_path(deactivate(client, partner))[0] == "/confirm-identity"
    assert is_active(partner)

    code = totp.now()
    right = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "code": code, "next": back})
    assert right.status_code == 302 and right.location == back
    assert deactivate(client, partner).status_code == 302
    assert not is_active(partner)
    # The code was used: it cannot confirm again.
    replayed = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "code": code})
    assert replayed.status_code == 422 and "The code is not correct" in error_beside(replayed.text, "code")


def test_a_recovery_code_will_do_instead_of_the_app(app, client, two_orgs, clock, login):
    admin = two_orgs["admin"]
    _, codes = enable_authenticator(admin)
    login(client, admin)
    clock.tick(20 * MINUTES)
    response = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "code": codes[0]})
    assert response.status_code == 302
    assert mfa.recovery_codes_left(db.session.get(User, admin.id)) == 9


OFF_SITE = ["https://evil.example/admin/", "//evil.example/", "/\\evil.example", "javascript:x"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_page_it_goes_back_to_is_on_this_site(app, client, two_orgs, clock, target):
    sign_in(client, two_orgs["admin"])
    clock.tick(20 * MINUTES)
    page = client.get("/confirm-identity", query_string={"next": target})
    assert page.status_code == 200
    response = client.post("/confirm-identity", data={"password": TEST_PASSWORD, "next": target})
    assert response.status_code == 302
    assert response.location == "/"
    assert "evil" not in response.location


def test_a_signed_out_visitor_signs_in_first(client):
    response = client.get("/confirm-identity")
    assert response.status_code == 302 and response.location.startswith("/sign-in")
