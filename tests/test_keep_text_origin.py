"""The "keep typed text" page is offered only to a request from the portal's own pages (security finding S1).

Before, a cross-site form posting to any @keeps_text endpoint got the genuine "Sign in again to save your
answers" page: the attacker's answers in hidden inputs, a freshly minted valid token and a new cookie that
signed the victim out. Now such a request gets a plain 403 with no form, no token and no cookie, and the page
that is offered shows the answers in fields the person reads and can change before sending them.
"""

from __future__ import annotations

import html
import json
import logging
import re

import pytest
from sqlalchemy import select

from portal.auth.keep_text import KEEP_TEXT_ENDPOINTS
from portal.extensions import db
from portal.models import MonitoringReturn, User
from tests.conftest import csrf_token_from

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])

ATTACK = {
    "version": "0",
    "progress": 'ATTACKER TEXT "><div hx-get="/admin/">',
    "partner_rag": "red",
    "partner_rag_reason": "attacker",
    "comment": "ATTACKER COMMENT",
    "reason": "Reopened at the partner's request",
    "save_later": "Save and come back later",
}
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
CROSS_SITE = {
    "origin and fetch metadata": EVIL,
    "origin only": {"Origin": "https://evil.example"},
    "referer only": {"Referer": "https://evil.example/page"},
    "same-site but not same-origin": {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost"},
    "opaque origin": {"Origin": "null"},
    "nothing at all": {},
}
SAME_ORIGIN = {
    "fetch metadata": {"Sec-Fetch-Site": "same-origin"},
    "origin": {"Origin": "http://localhost"},
    "referer": {"Referer": "http://localhost/partner/"},
}
TYPED = {
    "progress": 'An hour of writing, with <angle brackets> & "quotes".\nAnd a second line.',
    "partner_rag": "amber",
}


def keep_text_urls(app, two_orgs) -> dict[str, str]:
    """Every @keeps_text endpoint's URL, from the URL map, so a new one is covered without being listed."""
    values = {"project_id": two_orgs["davss_project"].id, "quarter": 1, "return_id": 1}
    urls = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in KEEP_TEXT_ENDPOINTS and "POST" in (rule.methods or ()):
            urls[rule.endpoint] = rule.build({key: values[key] for key in rule.arguments})[1]
    return urls


def assert_refused(response):
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers, "a cross-site request must not get a new session cookie"
    assert "csrf_token" not in response.text and "<form" not in response.text
    assert "ATTACKER" not in response.text
    assert "Your answers could not be sent" in response.text


def hidden_names(page: str) -> set[str]:
    return {re.search(r'name="([^"]*)"', tag).group(1) for tag in re.findall(r'<input type="hidden"[^>]*>', page)}


def test_every_keep_text_endpoint_is_covered(app, two_orgs):
    assert set(keep_text_urls(app, two_orgs)) == KEEP_TEXT_ENDPOINTS
    assert {"partner.return_narrative", "partner.return_check", "csu.return_reopen"} <= KEEP_TEXT_ENDPOINTS


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_post_without_a_cookie_gets_a_plain_403(app, client, two_orgs, headers):
    for endpoint, path in keep_text_urls(app, two_orgs).items():
        response = client.post(path, data=ATTACK, headers=headers)
        assert_refused(response), endpoint


def test_a_cross_site_post_with_the_victims_cookie_changes_nothing(app, two_orgs, login):
    """A same-site attacker's form does carry the cookie: still refused, the session untouched."""
    for user in ("partner_a", "csu"):
        victim = app.test_client()
        login(victim, two_orgs[user])
        for path in keep_text_urls(app, two_orgs).values():
            assert_refused(victim.post(path, data=ATTACK, headers=EVIL))
        home = victim.get("/partner/" if user == "partner_a" else "/csu/")
        assert home.status_code == 200, "the victim is still signed in"
    assert db.session.scalar(select(MonitoringReturn)) is None


def test_after_the_session_ended_a_cross_site_post_gets_a_403_not_a_sign_in_page(app, two_orgs, login):
    """The guard's path (a valid token, but the session ended): the same refusal."""
    partner = app.test_client()
    login(partner, two_orgs["partner_a"])
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    token = csrf_token_from(partner.get(path).text)
    user = db.session.get(User, two_orgs["partner_a"].id)
    user.end_all_sessions()
    db.session.commit()
    data = {**ATTACK, "csrf_token": token, "reauth": "1", "email": "a@davss.example", "password": "x"}
    assert_refused(partner.post(path, data=data, headers=EVIL))
    response = partner.post(path, data={**TYPED, "version": "0", "csrf_token": token}, headers=SAME_ORIGIN["origin"])
    assert response.status_code == 401 and "Sign in again to save your answers" in response.text


@pytest.mark.parametrize("headers", SAME_ORIGIN.values(), ids=SAME_ORIGIN.keys())
def test_a_same_origin_expired_token_shows_the_answers_in_fields_to_review(app, two_orgs, login, headers):
    partner = app.test_client()
    login(partner, two_orgs["partner_a"])
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    data = {"csrf_token": "expired", "version": "0", **TYPED, "save_later": "Save and come back later"}
    response = partner.post(path, data=data, headers=headers)
    assert response.status_code == 400
    assert "Send your answers again" in response.text
    page = response.text
    # Visible and editable: a labelled text area holding the text exactly, never a hidden input.
    area = re.search(r'<textarea [^>]*id="([^"]+)" name="progress"[^>]*>(.*?)</textarea>', page, re.S)
    assert area and html.unescape(area.group(2)) == TYPED["progress"]
    assert f'<label class="govuk-label govuk-label--s" for="{area.group(1)}">' in page
    assert re.search(r'<input class="govuk-input[^"]*" id="[^"]+" name="partner_rag" type="text" value="amber"', page)
    assert hidden_names(page) & set(TYPED) == set()
    assert csrf_token_from(page)  # a fresh token: pressing the button saves

    fields = {"csrf_token": csrf_token_from(page), "version": "0", "save_later": "y"}
    fields.update(progress="Changed after reading it again", partner_rag="amber")
    assert partner.post(path, data=fields, headers=headers).status_code == 302
    saved = db.session.scalar(select(MonitoringReturn))
    assert saved.progress == "Changed after reading it again"


def test_a_refusal_is_in_the_security_log_without_what_was_typed(app, client, two_orgs, caplog):
    caplog.set_level(logging.WARNING, logger="portal.security")
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    client.post(path, data=ATTACK, headers=EVIL)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.security"]
    events = {line["event"]: line for line in lines}
    assert events["csrf.failed"]["reason"] == "The CSRF token is missing."
    assert events["resubmit.refused"]["origin"] == "https://evil.example"
    assert "ATTACKER" not in caplog.text


def test_a_request_that_passed_csrf_is_shown_its_text_again_whatever_its_headers(app):
    """The database failing a request whose token was valid (a lock timeout, 503): it came from the portal's own
    page, so its answers are shown again even from a browser that sends no Origin or fetch metadata."""
    from flask import g

    from portal.auth import keep_text

    with app.test_request_context("/partner/projects/1/q1/narrative", method="POST", data={"progress": "Kept"}):
        assert keep_text.render_again(signed_out=False, status=503)[1] == 403  # nothing shows where it came from
        g.csrf_valid = True  # as Flask-WTF marks a request whose token it checked
        page, status = keep_text.render_again(signed_out=False, status=503)
        assert status == 503 and "Kept" in page
