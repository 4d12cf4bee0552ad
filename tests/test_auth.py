"""Signing in and out: generic failures, the throttle, revocation, safe redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent, SignInFailure, User
from portal.models.types import utcnow
from portal.services.auth import account_key
from tests.conftest import TEST_PASSWORD, base_config

GENERIC = "Enter a correct email address and password"


def sign_in(client, email, password=TEST_PASSWORD, **extra):
    return client.post("/sign-in", data={"email": email, "password": password, **extra})


def test_partner_signs_in_and_lands_on_their_projects(client, two_orgs):
    response = sign_in(client, "a@davss.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/partner/"
    page = client.get("/partner/")
    assert "Support for Medium &amp; High Risk Victims - Domestic Abuse" in page.text
    assert "Youth Diversionary" not in page.text


def test_email_is_matched_whatever_its_case_and_spaces(client, two_orgs):
    assert sign_in(client, "  A@DAVSS.example ").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("a@davss.example", "wrong password entirely"), ("nobody@example.org", TEST_PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_email_or_password_gets_one_generic_message(client, two_orgs, email, password):
    response = sign_in(client, email, password)
    assert response.status_code == 422
    assert GENERIC in response.text
    assert "Error: Sign in" in response.text  # the page title says there is an error
    assert 'value="' + email.strip() + '"' in response.text  # what was typed stays
    assert password not in response.text  # a password is never echoed back


def test_deactivated_user_cannot_sign_in(client, two_orgs):
    two_orgs["partner_a"].active = False
    db.session.commit()
    response = sign_in(client, "a@davss.example")
    assert response.status_code == 422
    assert GENERIC in response.text


def test_empty_form_gets_errors_beside_each_field(client):
    response = client.post("/sign-in", data={"email": "", "password": ""})
    assert response.status_code == 422
    assert "Enter your email address" in response.text
    assert "Enter your password" in response.text
    assert 'href="#email"' in response.text  # the error summary links to the field


def test_eleventh_failed_attempt_is_refused_even_with_the_right_password(client, two_orgs):
    for _ in range(10):
        assert sign_in(client, "a@davss.example", "not the password").status_code == 422
    response = sign_in(client, "a@davss.example")
    assert response.status_code == 429
    assert "too many failed attempts" in response.text
    assert client.get("/partner/").status_code == 302  # still signed out


def test_throttle_counts_unknown_accounts_the_same_way(client):
    for _ in range(10):
        sign_in(client, "ghost@example.org", "guess")
    assert sign_in(client, "ghost@example.org", "guess").status_code == 429


def test_throttle_is_shared_across_processes(database_url, two_orgs):
    """Two app instances (two workers) on one database see the same failure count."""
    worker_a = create_app(base_config(database_url)).test_client()
    worker_b = create_app(base_config(database_url)).test_client()
    for attempt in range(10):
        worker = worker_a if attempt % 2 else worker_b
        assert sign_in(worker, "a@davss.example", "nope nope nope").status_code == 422
    assert sign_in(worker_a, "a@davss.example").status_code == 429
    assert sign_in(worker_b, "a@davss.example").status_code == 429


def test_failures_older_than_the_window_do_not_count(client, two_orgs):
    old = utcnow() - timedelta(minutes=6)
    db.session.add_all(SignInFailure(account_key=account_key("a@davss.example"), at=old) for _ in range(10))
    db.session.commit()
    assert sign_in(client, "a@davss.example").status_code == 302


def test_success_clears_the_failure_count(client, two_orgs):
    for _ in range(9):
        sign_in(client, "a@davss.example", "not the password")
    assert sign_in(client, "a@davss.example").status_code == 302
    key = account_key("a@davss.example")
    assert db.session.scalar(select(func.count()).where(SignInFailure.account_key == key)) == 0


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app, client, two_orgs):
    sign_in(client, "a@davss.example")
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    stolen = client.get_cookie(cookie_name).value
    assert client.get("/partner/").status_code == 200

    response = client.post("/sign-out")
    assert response.status_code == 302
    assert client.get(response.headers["Location"]).text.count("You have signed out.") == 1

    attacker = app.test_client()
    attacker.set_cookie(cookie_name, stolen)
    response = attacker.get("/partner/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_sign_out_signs_out_every_device(app, two_orgs):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "a@davss.example")
    sign_in(phone, "a@davss.example")
    laptop.post("/sign-out")
    assert phone.get("/partner/").status_code == 302


def test_deactivation_ends_the_session(app, client, two_orgs):
    sign_in(client, "a@davss.example")
    user = db.session.get(User, two_orgs["partner_a"].id)
    from portal.services.users import deactivate

    deactivate(user)
    db.session.commit()
    assert client.get("/partner/").status_code == 302


def test_password_change_keeps_this_session_and_ends_the_others(app, two_orgs):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "a@davss.example")
    sign_in(elsewhere, "a@davss.example")
    response = here.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "new_password": "a brand new long pass phrase"},
    )
    assert response.status_code == 302
    assert here.get("/partner/").status_code == 200
    assert elsewhere.get("/partner/").status_code == 302
    assert sign_in(app.test_client(), "a@davss.example", "a brand new long pass phrase").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("not my password", "a brand new long pass phrase", "Your current password is not correct"),
        (TEST_PASSWORD, "short", "12 characters or more"),
        (TEST_PASSWORD, "password1234", "too common"),
    ],
)
def test_password_change_refuses_bad_input(client, two_orgs, login, current, new, message):
    login(client, two_orgs["partner_a"])
    before = two_orgs["partner_a"].password_hash
    response = client.post("/account/password", data={"current_password": current, "new_password": new})
    assert response.status_code == 422
    assert message in response.text
    assert db.session.get(User, two_orgs["partner_a"].id).password_hash == before


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/csu/2021-22/", "/csu/2021-22/"),
        ("https://evil.example/", "/csu/"),
        ("//evil.example/", "/csu/"),
        ("/\\evil.example", "/csu/"),
        ("javascript:alert(1)", "/csu/"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
    ],
)
def test_next_redirects_only_to_this_site(client, two_orgs, target, expected):
    response = sign_in(client, "csu@council.example", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_signed_out_visit_returns_to_the_page_after_sign_in(client, two_orgs):
    response = client.get("/csu/2021-22/")
    assert response.status_code == 302
    sign_in_page = client.get(response.headers["Location"])
    assert 'value="/csu/2021-22/"' in sign_in_page.text


def test_signed_out_htmx_request_gets_401_with_hx_redirect(client):
    response = client.get("/partner/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/sign-in")


def test_each_role_lands_on_its_home(app, two_orgs):
    homes = {
        "a@davss.example": "/partner/",
        "csu@council.example": "/csu/",
        "finance@council.example": "/finance/",
        "admin@council.example": "/admin/",
    }
    for email, home in homes.items():
        assert sign_in(app.test_client(), email).headers["Location"] == home


def test_sign_in_and_out_are_audited(client, two_orgs):
    sign_in(client, "a@davss.example")
    client.post("/sign-out")
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == two_orgs["partner_a"].id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["user.signed_in", "user.signed_out"]


def test_password_hashes_are_argon2id(two_orgs):
    assert two_orgs["partner_a"].password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in two_orgs["partner_a"].password_hash
