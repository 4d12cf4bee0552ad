"""Session attacks (RELIABILITY.md B16): fixation, a tampered or forged cookie, and a cookie replayed after signing
out. The session is a cookie signed with SECRET_KEY that holds the user's rotating session token (auth/loader.py);
signing in starts a fresh session, and signing out rotates the token."""

from __future__ import annotations

import base64

import pytest
from flask.sessions import SecureCookieSessionInterface

from portal.config import Config
from portal.extensions import db
from portal.models import User
from tests.conftest import TEST_PASSWORD


def cookie_name(app) -> str:
    return app.config["SESSION_COOKIE_NAME"]


def cookie(client, app) -> str:
    found = client.get_cookie(cookie_name(app))
    assert found is not None, "no session cookie"
    return found.value


def browser_with(app, value: str):
    client = app.test_client()
    client.set_cookie(cookie_name(app), value)
    return client


def signed_in(client) -> bool:
    response = client.get("/partner/")
    if response.status_code == 302:
        assert response.location.startswith("/sign-in")
    return response.status_code == 200


def sign_in(client, email: str = "a@davss.example"):
    response = client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD})
    assert response.status_code == 302 and "/sign-in" not in response.location


def sign_with(app, secret: str, data: dict) -> str:
    """A session cookie as Flask would make it, signed with the given key."""
    interface = SecureCookieSessionInterface()
    original = app.secret_key
    app.secret_key = secret
    try:
        serializer = interface.get_signing_serializer(app)
        assert serializer is not None
        return serializer.dumps(data)
    finally:
        app.secret_key = original


# -- fixation ---------------------------------------------------------------------------------------------------


def test_signing_in_gives_a_new_cookie_and_the_planted_one_stays_signed_out(app, client, two_orgs):
    """An attacker plants a session cookie in the victim's browser before they sign in: after the victim signs in
    the cookie is a different one, what the attacker planted is gone from it, and the planted copy is not signed in."""
    with client.session_transaction() as session:
        session["planted"] = "by the attacker"
    planted = cookie(client, app)
    assert not signed_in(browser_with(app, planted))

    sign_in(client)
    after = cookie(client, app)
    assert after != planted
    with client.session_transaction() as session:
        assert "planted" not in session
    assert signed_in(client)
    assert not signed_in(browser_with(app, planted)), "the attacker's copy is still signed out"


@pytest.mark.parametrize("app_config", [{"MFA_REQUIRED_ROLES": Config.MFA_REQUIRED_ROLES}])
def test_the_half_signed_in_cookie_is_not_the_signed_in_one(app, client, two_orgs):
    """With a second factor: the cookie after the password (waiting for the code) is neither the one from before nor
    the one after, and it is not signed in."""
    import pyotp

    from portal.services import mfa

    partner = two_orgs["partner_a"]
    factor = mfa.begin_enrolment(partner)
    totp = pyotp.TOTP(factor.secret)
    mfa.confirm_enrolment(partner, totp.now())
    factor.last_step -= 2
    db.session.commit()
    with client.session_transaction() as session:
        session["planted"] = "by the attacker"
    planted = cookie(client, app)
    client.post("/sign-in", data={"email": partner.email, "password": TEST_PASSWORD})
    waiting = cookie(client, app)
    assert waiting != planted and not signed_in(browser_with(app, waiting))
    response = client.post("/sign-in/code", data={"code": totp.now()})
    assert response.status_code == 302
    after = cookie(client, app)
    assert after not in (planted, waiting)
    assert signed_in(client)
    assert not signed_in(browser_with(app, planted))


# -- tampered and forged cookies --------------------------------------------------------------------------------


def test_a_tampered_cookie_is_not_signed_in(app, client, two_orgs):
    sign_in(client)
    good = cookie(client, app)
    assert signed_in(browser_with(app, good))
    payload, _, signature = good.rpartition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for value in (
        f"{payload}.{flipped}",  # the signature changed
        f"{payload[:-3]}{'x' if payload[-3] != 'x' else 'y'}{payload[-2:]}.{signature}",  # the data changed
        payload,  # no signature at all
        "",  # empty
    ):
        assert not signed_in(browser_with(app, value)), value


def test_a_cookie_forged_without_the_secret_key_is_not_signed_in(app, two_orgs):
    """Someone who knows a user's session token, but not SECRET_KEY, cannot make a cookie that signs them in."""
    partner = db.session.get(User, two_orgs["partner_a"].id)
    data = {"_user_id": partner.session_token, "_fresh": True, "mfa_passed": True}
    genuine = sign_with(app, app.secret_key, data)
    assert signed_in(browser_with(app, genuine))  # the same data with the real key: the check below means something
    forged = sign_with(app, "another-secret-key-that-is-long-enough-for-this", data)
    assert not signed_in(browser_with(app, forged))
    unsigned = base64.urlsafe_b64encode(b'{"_user_id":"' + partner.session_token.encode() + b'"}').decode()
    assert not signed_in(browser_with(app, unsigned.rstrip("=")))


def test_a_cookie_naming_the_user_id_instead_of_the_token_is_not_signed_in(app, two_orgs):
    """The cookie carries the rotating token, never the id: a (properly signed) guessable id signs nothing in."""
    partner = two_orgs["partner_a"]
    assert not signed_in(browser_with(app, sign_with(app, app.secret_key, {"_user_id": str(partner.id)})))


# -- replay after signing out -----------------------------------------------------------------------------------


def test_a_cookie_from_before_signing_out_no_longer_works(app, client, two_orgs):
    sign_in(client)
    before = cookie(client, app)
    assert signed_in(browser_with(app, before))
    client.post("/sign-out")
    assert not signed_in(client)
    assert not signed_in(browser_with(app, before))
    # Signing in again does not bring the old cookie back to life.
    sign_in(client)
    assert signed_in(client)
    assert not signed_in(browser_with(app, before))
