"""Sessions end after SESSION_IDLE_MINUTES without a request, and 8 hours after signing in however active."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from markupsafe import escape

from portal.extensions import db
from portal.models import User
from tests.conftest import TEST_PASSWORD, csrf_token_from

MINUTE = 60


def sign_in(client, user: User):
    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302 and "/sign-in" not in response.location
    return response


def shift(client, **seconds_ago: int) -> None:
    """Move the session's clocks back: signed_in_at / last_seen so many seconds ago."""
    now = int(time.time())
    with client.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[key] = now - ago


def session_value(client, key: str):
    with client.session_transaction() as session:
        return session.get(key)


def test_idle_for_longer_than_the_limit_signs_out(client, two_orgs, caplog):
    caplog.set_level(logging.INFO, logger="portal.security")
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=30 * MINUTE + 5)
    response = client.get("/partner/")
    assert response.status_code == 302 and "/sign-in" in response.location
    page = client.get(response.location)
    assert "You were signed out because you had not used the portal for 30 minutes" in page.text
    assert client.get("/partner/").status_code == 302  # and it stays signed out
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.security"]
    assert [e["reason"] for e in events if e["event"] == "session.expired"] == ["idle"]


def test_activity_within_the_limit_keeps_the_session(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=29 * MINUTE)
    assert client.get("/partner/").status_code == 200
    assert session_value(client, "last_seen") >= int(time.time()) - 2  # the clock restarted


def test_the_absolute_limit_counts_from_sign_in_whatever_the_activity(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, signed_in_at=8 * 60 * MINUTE - 30, last_seen=1)
    assert client.get("/partner/").status_code == 200
    assert session_value(client, "signed_in_at") <= int(time.time()) - 8 * 60 * MINUTE + 31  # not refreshed
    shift(client, signed_in_at=8 * 60 * MINUTE + 5, last_seen=1)
    response = client.get("/partner/")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert "signed in more than 8 hours ago" in client.get(response.location).text


def test_a_password_change_does_not_restart_the_absolute_limit(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, signed_in_at=60 * MINUTE)
    before = session_value(client, "signed_in_at")
    new = "a different long password for this"
    response = client.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": new})
    assert response.status_code == 302
    assert session_value(client, "signed_in_at") == before


def test_keep_alive_extends_the_session(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=29 * MINUTE)
    assert client.post("/session/keep-alive").status_code == 204
    shift(client, last_seen=0)  # nothing else: now 29 + a few more minutes would still be inside the limit
    assert session_value(client, "last_seen") >= int(time.time()) - 2
    assert client.get("/partner/").status_code == 200


def test_keep_alive_after_expiry_does_not_revive_the_session(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=31 * MINUTE)
    assert client.post("/session/keep-alive").status_code == 302
    assert client.get("/partner/").status_code == 302


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_keep_alive_needs_the_csrf_token(client, two_orgs):
    page = client.get("/sign-in")
    token = csrf_token_from(page.text)
    client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD, "csrf_token": token})
    home = client.get("/partner/")
    assert home.status_code == 200 and 'action="/session/keep-alive"' in home.text  # the warning's form
    assert client.post("/session/keep-alive").status_code == 400
    token = csrf_token_from(home.text)
    assert client.post("/session/keep-alive", data={"csrf_token": token}).status_code == 204
    assert client.post("/session/keep-alive", headers={"X-CSRFToken": token}).status_code == 204


def test_the_warning_is_on_signed_in_pages_only(client, two_orgs):
    assert "portal-session-timeout" not in client.get("/sign-in").text
    sign_in(client, two_orgs["partner_a"])
    page = client.get("/partner/")
    assert 'id="portal-session-timeout"' in page.text and 'data-idle-seconds="1800"' in page.text
    assert re.search(r'src="/assets/js/session-timeout\.[0-9a-f]{12}\.js"', page.text)


def test_a_narrative_posted_after_idle_expiry_is_shown_again(client, two_orgs):
    """Without JavaScript, the text typed before the session ended is kept (the sign-in-again page)."""
    project = two_orgs["davss_project"]
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=31 * MINUTE)
    typed = 'A long answer about the quarter, with <brackets> & "quotes".'
    response = client.post(
        f"/partner/projects/{project.id}/q1/narrative",
        data={
            "version": "0",
            "progress": typed,
            "case_study": "",
            "challenges": "",
            "partner_rag": "green",
            "partner_rag_reason": "",
            "save_later": "Save and come back later",
        },
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    )
    assert response.status_code == 401
    assert str(escape(typed)) in response.text
    db.session.rollback()


def test_an_htmx_request_after_idle_expiry_gets_401_and_a_redirect_to_sign_in(client, two_orgs):
    sign_in(client, two_orgs["partner_a"])
    shift(client, last_seen=31 * MINUTE)
    response = client.get("/partner/", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/sign-in")


def test_the_limits_can_be_set_from_the_environment():
    from portal.config import session_settings

    assert session_settings({"SESSION_IDLE_MINUTES": "15", "MFA_REQUIRED_ROLES": "admin, finance"}) == {
        "SESSION_IDLE_MINUTES": 15,
        "MFA_REQUIRED_ROLES": ("admin", "finance"),
    }
    assert session_settings({"MFA_REQUIRED_ROLES": "none"}) == {"MFA_REQUIRED_ROLES": ()}
    for bad in ({"SESSION_IDLE_MINUTES": "2"}, {"SESSION_IDLE_MINUTES": "soon"}, {"MFA_REQUIRED_ROLES": "boss"}):
        with pytest.raises(RuntimeError):
            session_settings(bad)
