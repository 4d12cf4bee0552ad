"""Your account, for everyone signed in: linked from the header; the name, the password page, when you signed
in; and signing out everywhere else, which ends every other session and keeps this one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.templating import uk_datetime
from tests.conftest import TEST_PASSWORD


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def signed_in(app, email: str):
    client = app.test_client()
    assert client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD}).status_code == 302
    return client


@pytest.mark.parametrize(
    ("who", "home"),
    [("partner_a", "/partner/"), ("csu", "/csu/"), ("finance", "/finance/"), ("admin", "/admin/")],
)
def test_every_home_links_to_your_account(client, two_orgs, login, who, home):
    login(client, two_orgs[who])
    assert 'href="/account">Your account' in client.get(home).text.replace("\n", "").replace("  ", "")


def test_the_account_page_shows_the_name_the_password_link_and_when_you_signed_in(app, two_orgs):
    signed_in(app, "a@davss.example")
    client = signed_in(app, "a@davss.example")
    page = client.get("/account").text

    assert "a@davss.example" in page
    assert 'govuk-summary-list__value">a</dd>' in page  # the name (the factory names people by their address)
    assert 'href="/account/password"' in page
    assert 'href="/account/name"' in page
    assert "Domestic Abuse Volunteer Support Services" in page
    latest, before = db.session.scalars(
        select(AuditEvent.at).where(AuditEvent.action == "user.signed_in").order_by(AuditEvent.id.desc())
    ).all()
    assert uk_datetime(latest) in page and uk_datetime(before) in page
    assert 'aria-current="page"' in page  # the header shows where you are


def test_the_password_page_leads_back_to_your_account(client, two_orgs, login):
    login(client, two_orgs["csu"])
    assert 'href="/account">Back to your account' in client.get("/account/password").text


def test_changing_your_name_is_audited_with_before_and_after(client, two_orgs, login):
    user = two_orgs["finance"]
    login(client, user)
    assert 'value="finance"' in client.get("/account/name").text

    response = client.post("/account/name", data={"name": "  Sam   Okafor "})

    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Your name has been changed." in client.get("/account").text
    assert db.session.get(User, user.id).name == "Sam Okafor"
    [event] = events("user.renamed")
    assert (event.actor_id, event.object_id) == (user.id, user.id)
    assert event.details == {"changes": {"name": ["finance", "Sam Okafor"]}}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter your name"),
        ("   ", "Enter your name"),
        ("N" * 201, "Your name must be 200 characters or fewer"),
        ("Sam\x00Okafor", "Your name must not contain control characters"),
    ],
)
def test_a_bad_name_is_refused_and_nothing_is_saved(client, two_orgs, login, name, message):
    user = two_orgs["partner_a"]
    login(client, user)
    response = client.post("/account/name", data={"name": name})

    assert response.status_code == 422
    assert "There is a problem" in response.text and message in response.text
    assert '<p id="name-error" class="govuk-error-message">' in response.text
    if len(name) > 100:
        assert f'value="{name}"' in response.text  # what was typed is kept
    assert db.session.get(User, user.id).name == "a"
    assert events("user.renamed") == []


def test_sign_out_everywhere_else_keeps_this_session_and_ends_the_others(app, two_orgs):
    here = signed_in(app, "a@davss.example")
    elsewhere = signed_in(app, "a@davss.example")
    cookie = app.config["SESSION_COOKIE_NAME"]
    copied = app.test_client()
    copied.set_cookie(cookie, here.get_cookie(cookie).value)  # a copy of this very cookie, taken earlier
    password_hash = db.session.get(User, two_orgs["partner_a"].id).password_hash

    response = here.post("/account/sign-out-everywhere-else")

    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "You have been signed out everywhere else." in here.get("/account").text
    assert here.get("/partner/").status_code == 200
    for other in (elsewhere, copied):
        response = other.get("/partner/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert db.session.get(User, two_orgs["partner_a"].id).password_hash == password_hash
    [event] = events("user.signed_out_elsewhere")
    assert (event.actor_id, event.object_id) == (two_orgs["partner_a"].id, two_orgs["partner_a"].id)


def test_signing_out_everywhere_else_needs_a_signed_in_person(client):
    response = client.post("/account/sign-out-everywhere-else")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert events("user.signed_out_elsewhere") == []
