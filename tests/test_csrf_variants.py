"""CSRF variants (RELIABILITY.md B13), with CSRF on as in production: a token that is not this session's, one from
before signing out, one sent in the query string, an htmx post without its header and an HTTPS post without a
Referer are each refused, change nothing and leave a `csrf.failed` line; the right token in the form or the htmx
header works. The form is "Change your name", whose change is audited.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, User
from tests.conftest import TEST_PASSWORD, csrf_token_from

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])

NAME_FORM = "/account/name"
NEW_NAME = "Someone Else Entirely"


@pytest.fixture
def csrf_failures(caplog):
    caplog.set_level(logging.WARNING, logger="portal.security")

    def lines() -> list[dict]:
        logged = [json.loads(record.getMessage()) for record in caplog.records if record.name == "portal.security"]
        return [line for line in logged if line["event"] == "csrf.failed"]

    return lines


def sign_in(client, email: str, **request) -> None:
    """Through the real form, with the sign-in page's token."""
    token = csrf_token_from(client.get("/sign-in", **request).text)
    response = client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token}, **request)
    assert response.status_code == 302, response.text


def header_token(client) -> str:
    """The token htmx sends: the one on <body hx-headers>."""
    body = re.search(r"<body[^>]*>", client.get("/account").text).group(0).replace("&#34;", '"')
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def name_of(user: User) -> str:
    db.session.rollback()
    return db.session.scalar(select(User.name).where(User.id == user.id))


def assert_refused(response, user: User, before: tuple[int, str], csrf_failures, reason: str) -> None:
    """400 'Your form has expired', the name and the audit trail as they were, and one line saying why."""
    assert response.status_code == 400
    assert "Your form has expired" in response.text
    assert (audit_count(), name_of(user)) == before
    (line,) = csrf_failures()
    assert line["user_id"] == user.id and line["path"] == NAME_FORM
    assert reason in line["reason"]
    assert NEW_NAME not in json.dumps(line)


def test_another_users_token_is_refused(app, two_orgs, csrf_failures):
    victim, attacker = app.test_client(), app.test_client()
    sign_in(victim, "a@davss.example")
    sign_in(attacker, "b@kenward.example")
    victim.get(NAME_FORM)  # the victim's session has its own token
    stolen = csrf_token_from(attacker.get(NAME_FORM).text)
    before = (audit_count(), name_of(two_orgs["partner_a"]))

    response = victim.post(NAME_FORM, data={"name": NEW_NAME, "csrf_token": stolen})

    assert_refused(response, two_orgs["partner_a"], before, csrf_failures, "do not match")
    assert victim.get("/account").status_code == 200  # still signed in


def test_a_token_from_before_signing_out_is_refused_after_signing_in_again(client, two_orgs, csrf_failures):
    sign_in(client, "a@davss.example")
    old = csrf_token_from(client.get(NAME_FORM).text)
    assert client.post("/sign-out", data={"csrf_token": old}).status_code == 302
    sign_in(client, "a@davss.example")
    assert csrf_token_from(client.get(NAME_FORM).text) != old
    before = (audit_count(), name_of(two_orgs["partner_a"]))

    response = client.post(NAME_FORM, data={"name": NEW_NAME, "csrf_token": old})

    assert_refused(response, two_orgs["partner_a"], before, csrf_failures, "do not match")


def test_a_token_in_the_query_string_is_refused(client, two_orgs, csrf_failures):
    sign_in(client, "a@davss.example")
    token = csrf_token_from(client.get(NAME_FORM).text)
    before = (audit_count(), name_of(two_orgs["partner_a"]))

    response = client.post(f"{NAME_FORM}?csrf_token={token}", data={"name": NEW_NAME})

    assert_refused(response, two_orgs["partner_a"], before, csrf_failures, "missing")


def test_an_htmx_post_needs_the_header_token(client, two_orgs, csrf_failures):
    sign_in(client, "a@davss.example")
    before = (audit_count(), name_of(two_orgs["partner_a"]))

    refused = client.post(NAME_FORM, data={"name": NEW_NAME}, headers={"HX-Request": "true"})
    assert_refused(refused, two_orgs["partner_a"], before, csrf_failures, "missing")

    accepted = client.post(
        NAME_FORM, data={"name": NEW_NAME}, headers={"HX-Request": "true", "X-CSRFToken": header_token(client)}
    )
    assert accepted.status_code == 302
    assert name_of(two_orgs["partner_a"]) == NEW_NAME
    assert audit_count() == before[0] + 1


def test_the_pages_own_token_in_the_form_works(client, two_orgs, csrf_failures):
    sign_in(client, "a@davss.example")
    token = csrf_token_from(client.get(NAME_FORM).text)
    assert client.post(NAME_FORM, data={"name": NEW_NAME, "csrf_token": token}).status_code == 302
    assert name_of(two_orgs["partner_a"]) == NEW_NAME
    assert csrf_failures() == []


HTTPS = {"base_url": "https://localhost"}


@pytest.mark.parametrize(
    ("referrer", "reason"),
    [(None, "referrer header is missing"), ("https://evil.example/form", "does not match")],
)
def test_over_https_a_post_without_this_sites_referer_is_refused(client, two_orgs, csrf_failures, referrer, reason):
    """Flask-WTF's SSL-strict check: why the portal sends Referrer-Policy: same-origin, never no-referrer."""
    sign_in(client, "a@davss.example", headers={"Referer": "https://localhost/sign-in"}, **HTTPS)
    token = csrf_token_from(client.get(NAME_FORM, **HTTPS).text)
    before = (audit_count(), name_of(two_orgs["partner_a"]))
    headers = {"Referer": referrer} if referrer else {}

    response = client.post(NAME_FORM, data={"name": NEW_NAME, "csrf_token": token}, headers=headers, **HTTPS)

    assert_refused(response, two_orgs["partner_a"], before, csrf_failures, reason)
    accepted = client.post(
        NAME_FORM,
        data={"name": NEW_NAME, "csrf_token": token},
        headers={"Referer": f"https://localhost{NAME_FORM}"},
        **HTTPS,
    )
    assert accepted.status_code == 302
    assert name_of(two_orgs["partner_a"]) == NEW_NAME
