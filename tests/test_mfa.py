"""Signing in with a second factor: TOTP codes (RFC 6238) from an authenticator app, and recovery codes.

The rest of the suite turns the requirement off (tests/conftest.py); here it is the real default.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select

from portal.config import Config
from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, SecondFactor, User
from portal.services import auth as auth_service
from portal.services import mfa
from tests.conftest import TEST_PASSWORD

# The middle of the current 30-second step, so a test never straddles two steps.
NOW = datetime.fromtimestamp((int(time.time()) // 30) * 30 + 15, UTC)
STEP = int(NOW.timestamp()) // 30


@pytest.fixture
def app_config():
    return {"MFA_REQUIRED_ROLES": Config.MFA_REQUIRED_ROLES}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    # The password's throttle reads the same clock: NOW is fixed when the module is collected, which in a long
    # run is many minutes before this test (the count of wrong codes must fall in the password's window).
    monkeypatch.setattr(mfa, "utcnow", lambda: NOW)
    monkeypatch.setattr(auth_service, "utcnow", lambda: NOW)


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="portal.security")

    def lines() -> list[dict]:
        return [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.security"]

    return lines


def password(client, email: str, next_page: str = ""):
    return client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD, "next": next_page})


def code_for(user: User, step: int = STEP) -> str:
    factor = db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))
    return pyotp.TOTP(factor.secret).generate_otp(step)


def enable(user: User) -> list[str]:
    """MFA on for a user, as if they had set it up a minute ago; their recovery codes."""
    factor = mfa.begin_enrolment(user)
    codes = mfa.confirm_enrolment(user, pyotp.TOTP(factor.secret).generate_otp(STEP), now=NOW)
    factor.last_step = STEP - 2  # as if set up a minute ago: this step's code is still unused
    db.session.commit()
    return codes


def signed_in(client, path: str = "/csu/") -> bool:
    return client.get(path).status_code == 200


def audit_actions(user: User) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == user.id)))


# -- setting it up when the role requires it --------------------------------------------------


def test_staff_without_mfa_set_it_up_after_the_password_before_any_page(client, two_orgs):
    csu = two_orgs["csu"]
    response = password(client, csu.email, "/csu/returns")
    assert response.status_code == 302 and response.location.endswith("/sign-in/set-up")
    assert not signed_in(client)  # the password alone reaches nothing

    page = client.get("/sign-in/set-up")
    assert page.status_code == 200
    assert "Set up your authenticator app" in page.text
    assert 'src="data:image/svg+xml' in page.text  # the QR code, made on the server
    factor = db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == csu.id))
    assert factor is not None and not factor.is_enabled
    assert mfa.grouped(factor.secret) in page.text  # and the key as text, in fours
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", mfa.grouped(factor.secret))
    assert client.get("/sign-in/set-up").text.count(mfa.grouped(factor.secret)) == 1  # the same key on reload

    wrong = client.post("/sign-in/set-up", data={"code": "000000" if code_for(csu) != "000000" else "111111"})
    assert wrong.status_code == 422 and "The code is not correct" in wrong.text
    assert not signed_in(client)

    done = client.post("/sign-in/set-up", data={"code": code_for(csu)})
    assert done.status_code == 200
    codes = re.findall(r"<code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>", done.text)
    assert len(set(codes)) == 10
    assert "This is the only time they are shown" in done.text
    assert 'href="/csu/returns"' in done.text  # then on to the page asked for
    assert signed_in(client)
    assert "user.mfa_enabled" in audit_actions(csu)
    stored = set(db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == csu.id)))
    assert len(stored) == 10 and not {code.replace("-", "") for code in codes} & stored  # hashed


@pytest.mark.parametrize("role", ["csu", "finance", "admin"])
def test_each_required_role_cannot_skip_setting_it_up(client, two_orgs, role):
    user = two_orgs[role]
    password(client, user.email)
    assert not signed_in(client, f"/{role}/")
    assert client.get("/sign-in/code").location.endswith("/sign-in/set-up")


def test_a_pending_sign_in_lasts_five_minutes(client, two_orgs):
    password(client, two_orgs["csu"].email)
    with client.session_transaction() as session:
        session["mfa_pending"] = {**session["mfa_pending"], "until": int(time.time()) - 1}
    response = client.get("/sign-in/set-up")
    assert response.status_code == 302 and response.location.endswith("/sign-in")


# -- signing in with a code ---------------------------------------------------------------------


def test_a_valid_code_signs_in_and_goes_to_the_page_asked_for(client, two_orgs, security_log):
    csu = two_orgs["csu"]
    enable(csu)
    response = password(client, csu.email, "/csu/returns")
    assert response.location.endswith("/sign-in/code")
    page = client.get("/sign-in/code")
    assert "Enter the code from your authenticator app" in page.text and "Use a recovery code instead" in page.text
    assert not signed_in(client)
    response = client.post("/sign-in/code", data={"code": code_for(csu)})
    assert response.status_code == 302 and response.location == "/csu/returns"
    assert signed_in(client)
    assert "mfa.code_accepted" in [line["event"] for line in security_log()]


def test_a_code_with_spaces_is_accepted(client, two_orgs):
    csu = two_orgs["csu"]
    enable(csu)
    password(client, csu.email)
    code = code_for(csu)
    assert client.post("/sign-in/code", data={"code": f" {code[:3]} {code[3:]} "}).status_code == 302


def test_a_wrong_code_is_refused_and_logged(client, two_orgs, security_log):
    csu = two_orgs["csu"]
    enable(csu)
    password(client, csu.email)
    wrong = f"{(int(code_for(csu)) + 1) % 1_000_000:06d}"
    response = client.post("/sign-in/code", data={"code": wrong})
    assert response.status_code == 422
    assert "The code is not correct" in response.text and "govuk-error-summary" in response.text
    assert not signed_in(client)
    assert [line["reason"] for line in security_log() if line["event"] == "mfa.code_rejected"] == ["wrong"]
    assert client.post("/sign-in/code", data={"code": "12ab"}).status_code == 422


def test_a_code_cannot_be_used_twice(app, two_orgs):
    csu = two_orgs["csu"]
    enable(csu)
    first, second = app.test_client(), app.test_client()
    password(first, csu.email)
    password(second, csu.email)  # someone who saw the code typed, with the password too
    code = code_for(csu)
    assert first.post("/sign-in/code", data={"code": code}).status_code == 302
    response = second.post("/sign-in/code", data={"code": code})
    assert response.status_code == 422 and not signed_in(second)
    # Nor one older than the last accepted.
    assert second.post("/sign-in/code", data={"code": code_for(csu, STEP - 1)}).status_code == 422


def test_one_step_either_side_is_accepted_and_no_more(app, two_orgs):
    csu = two_orgs["csu"]
    enable(csu)

    def attempt(step: int) -> int:
        client = app.test_client()
        password(client, csu.email)
        return client.post("/sign-in/code", data={"code": code_for(csu, step)}).status_code

    assert attempt(STEP + 2) == 422
    assert attempt(STEP - 2) == 422
    assert attempt(STEP - 1) == 302
    assert attempt(STEP + 1) == 302


def test_wrong_codes_count_toward_the_account_throttle(client, two_orgs, security_log):
    csu = two_orgs["csu"]
    enable(csu)
    password(client, csu.email)
    wrong = f"{(int(code_for(csu)) + 500_000) % 1_000_000:06d}"
    for _ in range(10):
        assert client.post("/sign-in/code", data={"code": wrong}).status_code == 422
    response = client.post("/sign-in/code", data={"code": code_for(csu)})  # even the right code now
    assert response.status_code == 429 and "too many wrong codes" in response.text
    assert not signed_in(client)
    # The same count stops the password too.
    assert password(client, csu.email).status_code == 429


def test_a_session_signed_in_by_password_alone_is_not_signed_in(client, two_orgs):
    """A sign-in that skipped the second factor (marked so at login) reaches no page."""
    csu = two_orgs["csu"]
    enable(csu)
    with client.session_transaction() as session:
        session["_user_id"] = csu.session_token
        session["mfa_passed"] = False
    assert not signed_in(client)


# -- recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_works_once(app, two_orgs, security_log):
    csu = two_orgs["csu"]
    codes = enable(csu)
    client = app.test_client()
    password(client, csu.email)
    assert client.get("/sign-in/recovery-code").status_code == 200
    response = client.post("/sign-in/recovery-code", data={"code": codes[0].lower()})
    assert response.status_code == 302
    assert "You have 9 left" in client.get(response.location, follow_redirects=True).text
    assert signed_in(client)
    assert "user.mfa_recovery_code_used" in audit_actions(csu)
    assert "mfa.recovery_code_used" in [line["event"] for line in security_log()]

    again = app.test_client()
    password(again, csu.email)
    response = again.post("/sign-in/recovery-code", data={"code": codes[0]})
    assert response.status_code == 422 and "already been used" in response.text
    assert not signed_in(again)
    assert again.post("/sign-in/recovery-code", data={"code": codes[1]}).status_code == 302


# -- partners: offered, not required ------------------------------------------------------------


def test_a_partner_signs_in_with_a_password_and_may_set_it_up_then_turn_it_off(app, two_orgs):
    partner = two_orgs["partner_a"]
    client = app.test_client()
    response = password(client, partner.email)
    assert response.status_code == 302 and "/sign-in" not in response.location
    account = client.get("/account")
    assert "Authenticator app" in account.text and "/account/authenticator" in account.text

    page = client.get("/account/authenticator")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    done = client.post("/account/authenticator", data={"code": code_for(partner)})
    assert done.status_code == 200 and len(re.findall(r"<code>", done.text)) == 10
    assert signed_in(client, "/account")
    assert mfa.is_enabled(db.session.get(User, partner.id))

    # Now the partner's next sign-in asks for a code.
    other = app.test_client()
    assert password(other, partner.email).location.endswith("/sign-in/code")

    # Turning it off needs the password.
    assert client.post("/account/authenticator/turn-off", data={"password": "not it"}).status_code == 422
    assert mfa.is_enabled(db.session.get(User, partner.id))
    response = client.post("/account/authenticator/turn-off", data={"password": TEST_PASSWORD})
    assert response.status_code == 302
    assert not mfa.is_enabled(db.session.get(User, partner.id))
    assert signed_in(client, "/account")  # this session stays; others end
    assert "user.mfa_turned_off" in audit_actions(partner)
    assert "/sign-in" not in password(app.test_client(), partner.email).location


def test_staff_cannot_turn_it_off(client, two_orgs, login):
    csu = two_orgs["csu"]
    enable(csu)
    login(client, csu)
    assert "cannot be turned off" in client.get("/account").text
    client.post("/account/authenticator/turn-off", data={"password": TEST_PASSWORD})
    assert mfa.is_enabled(db.session.get(User, csu.id))


# -- an administrator's reset -------------------------------------------------------------------


def test_an_admin_resets_a_second_factor_audited_and_ends_sessions(app, two_orgs, login, security_log):
    csu, admin = two_orgs["csu"], two_orgs["admin"]
    enable(csu)
    their_browser = app.test_client()
    password(their_browser, csu.email)
    their_browser.post("/sign-in/code", data={"code": code_for(csu)})
    assert signed_in(their_browser)

    admin_browser = app.test_client()
    login(admin_browser, admin)
    assert "Reset" in admin_browser.get(f"/admin/users/{csu.id}").text
    check = admin_browser.get(f"/admin/users/{csu.id}/authenticator/reset")
    assert check.status_code == 200 and "Are you sure" in check.text
    assert mfa.is_enabled(db.session.get(User, csu.id))  # not before the confirmation
    response = admin_browser.post(f"/admin/users/{csu.id}/authenticator/reset", data={"confirm": "Reset"})
    assert response.status_code == 303

    assert not signed_in(their_browser)
    assert db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == csu.id)) is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.mfa_reset"))
    assert event.object_type == "user" and event.object_id == csu.id and event.actor_id == admin.id
    (line,) = [line for line in security_log() if line["event"] == "mfa.reset"]
    assert line["user_id"] == admin.id and line["target_user_id"] == csu.id
    # They set it up again at their next sign-in.
    assert password(app.test_client(), csu.email).location.endswith("/sign-in/set-up")


def test_only_an_admin_can_reset(client, two_orgs, login):
    csu = two_orgs["csu"]
    enable(csu)
    login(client, two_orgs["finance"])
    assert client.post(f"/admin/users/{csu.id}/authenticator/reset", data={"confirm": "Reset"}).status_code == 403
    assert mfa.is_enabled(db.session.get(User, csu.id))


# -- the security log never carries a secret or a code ------------------------------------------


def test_no_secret_or_code_reaches_the_security_log(app, two_orgs, caplog):
    caplog.set_level(logging.DEBUG)
    csu = two_orgs["csu"]
    client = app.test_client()
    password(client, csu.email)
    client.get("/sign-in/set-up")
    secret = db.session.scalar(select(SecondFactor.secret).where(SecondFactor.user_id == csu.id))
    wrong = f"{(int(code_for(csu)) + 1) % 1_000_000:06d}"
    client.post("/sign-in/set-up", data={"code": wrong})
    right = code_for(csu)
    done = client.post("/sign-in/set-up", data={"code": right})
    codes = re.findall(r"<code>([A-Z0-9-]+)</code>", done.text)
    client.post("/sign-out")
    other = app.test_client()
    password(other, csu.email)
    other.post("/sign-in/recovery-code", data={"code": codes[0]})
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert "mfa.enrolled" in everything and "mfa.code_rejected" in everything
    for value in [secret, mfa.grouped(secret), wrong, right, *codes, *(code.replace("-", "") for code in codes)]:
        assert value not in everything


def test_the_demo_account_list_says_staff_set_up_an_authenticator_app(app):
    from portal.services.demo import print_accounts

    lines: list[str] = []
    print_accounts(lines.append, password=None)
    csu = next(line for line in lines if "csu@demo.test" in line)
    partner = next(line for line in lines if "davss@demo.test" in line)
    assert "authenticator app at first sign-in" in csu and "authenticator" not in partner


def test_the_sign_in_again_page_does_not_sign_in_with_a_password_alone(client, two_orgs, caplog):
    """A form posted after the session ended offers a sign-in on the same page (auth/guards.py): for someone with a
    second factor the password alone signs nothing in and saves nothing; the page asks for the code, with the typed
    answers shown again (tests/test_keep_text_second_factor.py follows it through)."""
    caplog.set_level(logging.INFO, logger="portal.security")
    partner, project = two_orgs["partner_a"], two_orgs["davss_project"]
    enable(partner)
    typed = "An answer typed before the session ended."
    answers = {"version": "0", "progress": typed, "case_study": "", "challenges": "", "partner_rag": "green"}
    response = client.post(
        f"/partner/projects/{project.id}/q1/narrative",
        data={
            **answers,
            "partner_rag_reason": "",
            "save_later": "Save",
            "reauth": "1",
            "email": partner.email,
            "password": TEST_PASSWORD,
        },
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    )
    assert response.status_code == 401
    assert typed in response.text and "Enter the code from your authenticator app" in response.text
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "monitoring_return")) is None
    assert client.get("/partner/").status_code == 302


def test_a_password_reset_link_does_not_sign_in_someone_with_a_second_factor(client, two_orgs):
    """The link proves the mailbox, not the phone: the new password works, and the code is still asked for."""
    from datetime import timedelta

    from portal.models import PasswordReset
    from portal.models.types import utcnow
    from portal.services import links

    csu = two_orgs["csu"]
    enable(csu)
    token, token_hash = links.new_token()
    # Expiry from the clock now, not from NOW (taken when the module was imported: a long run outlives it).
    db.session.add(PasswordReset(user=csu, token_hash=token_hash, expires_at=utcnow() + timedelta(minutes=30)))
    db.session.commit()
    new_password = "a brand new long password"
    response = client.post(f"/password-reset/{token}", data={"new_password": new_password})
    assert response.status_code == 302
    assert not signed_in(client)
    response = client.post("/sign-in", data={"email": csu.email, "password": new_password})
    assert response.location.endswith("/sign-in/code")


def test_entering_the_password_again_does_not_reset_the_count_of_wrong_codes(client, two_orgs):
    """A correct password clears the account's failures; the wrong codes keep counting."""
    csu = two_orgs["csu"]
    enable(csu)
    password(client, csu.email)
    wrong = f"{(int(code_for(csu)) + 500_000) % 1_000_000:06d}"
    for _ in range(9):
        assert client.post("/sign-in/code", data={"code": wrong}).status_code == 422
    assert password(client, csu.email).location.endswith("/sign-in/code")  # the password is still right
    assert client.post("/sign-in/code", data={"code": wrong}).status_code == 422
    assert client.post("/sign-in/code", data={"code": code_for(csu)}).status_code == 429
