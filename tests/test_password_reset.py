"""Forgotten passwords end to end, through a real SMTP server (aiosmtpd): one answer for every address, a
one-time link that lasts 30 minutes, throttling per address and per client, and every other session ended."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, OutboxMessage, PasswordReset, SignInFailure
from portal.models.types import utcnow
from portal.services import password_reset, passwords
from portal.services.passwords import verify_password
from tests.conftest import TEST_PASSWORD, csrf_token_from, mail_config

NEW_PASSWORD = "a brand new pass phrase"
LINK = re.compile(r"https://portal\.example/password-reset/[A-Za-z0-9_-]+")
KNOWN = "a@davss.example"
UNKNOWN = "z@davss.example"
SIGNED_TOKEN = re.compile(r"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}")  # a CSRF token, wherever the page carries it
NONCE = re.compile(r'nonce="[^"]+"')


def without_per_request_values(html: str) -> str:
    """The page apart from what differs on every request anyway: the CSRF token and the script nonce."""
    return NONCE.sub('nonce="NONCE"', SIGNED_TOKEN.sub("TOKEN", html))


@pytest.fixture
def app_config(smtp_server):
    return mail_config(smtp_server.port)


def ask(client, email: str, ip: str = "198.51.100.7", **kwargs):
    return client.post("/password-reset", data={"email": email}, environ_base={"REMOTE_ADDR": ip}, **kwargs)


def deliver(runner) -> None:
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output


def last_link(smtp_server) -> str:
    return LINK.search(smtp_server.messages[-1].get_body(("plain",)).get_content()).group(0)


def path(link: str) -> str:
    return link.removeprefix("https://portal.example")


def queued() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_sign_in_page_offers_the_reset(client):
    page = client.get("/sign-in").text
    assert '<a class="govuk-link" href="/password-reset">Forgotten your password?</a>' in page


def test_the_whole_journey_ends_every_other_session(app, client, runner, smtp_server, two_orgs, login):
    partner = two_orgs["partner_a"]
    db.session.add(MonitoringReturn(project=two_orgs["davss_project"], quarter=1, progress="Narrative kept inside"))
    db.session.commit()
    elsewhere = app.test_client()
    login(elsewhere, partner)
    assert elsewhere.get("/partner/").status_code == 200

    response = ask(client, KNOWN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/password-reset/sent"
    sent = client.get("/password-reset/sent").text
    assert f"If <strong>{KNOWN}</strong> has an account, we have sent a link" in sent

    deliver(runner)
    [received] = smtp_server.messages
    assert received["To"] == KNOWN
    assert received["Subject"] == "Reset your password"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    link = LINK.search(text).group(0)
    assert f'href="{link}"' in html
    for part in (text, html):
        assert "30 minutes" in part
        assert "Narrative kept inside" not in part
    token = link.rsplit("/", 1)[1]
    assert db.session.scalar(select(PasswordReset.token_hash)) != token  # only its hash is stored

    form = client.get(path(link))
    assert form.status_code == 200
    assert "Choose a new password" in form.text
    assert form.headers["Cache-Control"] == "no-store"
    response = client.post(path(link), data={"new_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/partner/"
    assert client.get("/partner/").status_code == 200  # this session is the new one ...
    assert elsewhere.get("/partner/").status_code == 302  # ... and every other has ended
    db.session.refresh(partner)
    assert verify_password(partner.password_hash, NEW_PASSWORD)
    signing_in = app.test_client()
    assert signing_in.post("/sign-in", data={"email": KNOWN, "password": TEST_PASSWORD}).status_code == 422
    assert signing_in.post("/sign-in", data={"email": KNOWN, "password": NEW_PASSWORD}).status_code == 302
    assert {"password_reset.requested", "password_reset.used", "user.password_set"} <= set(actions())

    # Used once.
    again = app.test_client().get(path(link))
    assert again.status_code == 410
    assert "This link has already been used" in again.text
    assert KNOWN not in again.text


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_known_and_unknown_addresses_get_the_same_answer(app, two_orgs):
    pages = []
    for email in (KNOWN, UNKNOWN):
        client = app.test_client()
        token = csrf_token_from(client.get("/password-reset").text)
        posted = client.post(
            "/password-reset", data={"email": email, "csrf_token": token}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
        )
        sent = client.get("/password-reset/sent")
        pages.append(
            (
                posted.status_code,
                posted.headers["Location"],
                posted.get_data(as_text=True),
                sent.status_code,
                without_per_request_values(sent.text.replace(email, "ADDRESS")),
            )
        )
    assert "TOKEN" in pages[0][4]
    assert pages[0] == pages[1]
    assert pages[0][0] == 303
    assert queued() == 1  # only the real account got a mail


def test_known_and_unknown_addresses_do_the_same_work(app, two_orgs, monkeypatch):
    """No password hash on either path, and the mail is rendered for both (only the inserts differ)."""
    rendered = []
    real = password_reset.render_mail
    monkeypatch.setattr(password_reset, "render_mail", lambda *a, **k: rendered.append(a) or real(*a, **k))
    monkeypatch.setattr(passwords, "hasher", None)  # any argon2 hash or verification would fail
    for email in (KNOWN, UNKNOWN):
        password_reset.request_reset(email, client="192.0.2.1")
    assert rendered == [("password_reset",), ("password_reset",)]


def test_an_unknown_or_deactivated_address_gets_no_mail(client, runner, smtp_server, two_orgs):
    two_orgs["partner_b"].active = False
    db.session.commit()
    assert ask(client, UNKNOWN).status_code == 303
    assert ask(client, "b@kenward.example").status_code == 303
    deliver(runner)
    assert smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0
    assert "password_reset.refused" in actions()


def test_an_empty_or_malformed_address_is_422_and_kept(client):
    empty = client.post("/password-reset", data={"email": ""})
    assert empty.status_code == 422
    assert "Enter your email address" in empty.text
    assert 'href="#email"' in empty.text
    bad = client.post("/password-reset", data={"email": "a.davss.example"})
    assert bad.status_code == 422
    assert 'value="a.davss.example"' in bad.text
    assert "Error: Reset your password" in bad.text


def test_a_host_header_cannot_change_the_link(client, two_orgs):
    ask(client, KNOWN, headers={"Host": "evil.example"})
    body = db.session.scalar(select(OutboxMessage.text_body))
    assert "https://portal.example/password-reset/" in body
    assert "evil.example" not in body


# -- throttling ------------------------------------------------------------------------------------


def test_five_links_an_hour_per_address_then_the_same_answer_and_no_mail(app, client, two_orgs):
    for n in range(5):
        assert ask(client, KNOWN, ip=f"198.51.100.{n}").status_code == 303
    assert queued() == 5
    sixth = ask(client, KNOWN, ip="198.51.100.99")
    assert sixth.status_code == 303
    assert sixth.headers["Location"] == "/password-reset/sent"
    assert queued() == 5
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "password_reset.throttled"))
    assert event.details == {"limit": "address", "client": "198.51.100.99"}
    assert event.object_id == two_orgs["partner_a"].id


def test_twenty_requests_an_hour_per_client_then_no_mail(app, client, two_orgs):
    for n in range(20):
        ask(client, f"nobody{n}@example.org", ip="203.0.113.9")
    ask(client, KNOWN, ip="203.0.113.9")
    assert queued() == 0
    assert "password_reset.throttled" in actions()
    ask(client, KNOWN, ip="203.0.113.10")  # another client is not held up
    assert queued() == 1


def test_requests_older_than_the_window_do_not_count(app, client, two_orgs):
    an_hour_ago = utcnow() - timedelta(seconds=app.config["PASSWORD_RESET_WINDOW_SECONDS"] + 1)
    for _ in range(5):
        password_reset.request_reset(KNOWN, client="198.51.100.1", now=an_hour_ago)
    db.session.commit()
    ask(client, KNOWN)
    assert queued() == 6


# -- the link -------------------------------------------------------------------------------------


def mailed_link(client, runner, smtp_server, email=KNOWN) -> str:
    ask(client, email)
    deliver(runner)
    return last_link(smtp_server)


def test_the_link_lasts_thirty_minutes(app, client, runner, smtp_server, two_orgs):
    before = utcnow()
    link = mailed_link(client, runner, smtp_server)
    reset = db.session.scalar(select(PasswordReset))
    assert timedelta(minutes=30) <= reset.expires_at - before < timedelta(minutes=31)
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for response in (client.get(path(link)), client.post(path(link), data={"new_password": NEW_PASSWORD})):
        assert response.status_code == 410
        assert "This link has expired" in response.text
        assert KNOWN not in response.text
    db.session.refresh(two_orgs["partner_a"])
    assert verify_password(two_orgs["partner_a"].password_hash, TEST_PASSWORD)


def test_a_weak_password_is_422_and_the_link_still_works(app, client, runner, smtp_server, two_orgs):
    link = mailed_link(client, runner, smtp_server)
    response = client.post(path(link), data={"new_password": "too short"})
    assert response.status_code == 422
    assert "Password must be 12 characters or more" in response.text
    assert 'href="#new_password"' in response.text
    assert "too short" not in response.text
    assert client.post(path(link), data={"new_password": NEW_PASSWORD}).status_code == 302


def test_using_one_link_uses_up_every_other(app, client, runner, smtp_server, two_orgs):
    first = mailed_link(client, runner, smtp_server)
    second = mailed_link(client, runner, smtp_server)
    assert first != second
    assert app.test_client().post(path(second), data={"new_password": NEW_PASSWORD}).status_code == 302
    assert app.test_client().get(path(first)).status_code == 410


def test_a_link_for_an_account_deactivated_since_is_refused(app, client, runner, smtp_server, two_orgs):
    link = mailed_link(client, runner, smtp_server)
    two_orgs["partner_a"].active = False
    db.session.commit()
    response = client.get(path(link))
    assert response.status_code == 410
    assert "This link can no longer be used" in response.text


def test_a_made_up_link_is_404(client):
    response = client.get("/password-reset/" + "b" * 43)
    assert response.status_code == 404
    assert "This link does not work" in response.text


def test_a_reset_lifts_the_sign_in_lock(app, client, runner, smtp_server, two_orgs):
    other = app.test_client()
    for _ in range(10):
        other.post("/sign-in", data={"email": KNOWN, "password": "wrong guess"})
    assert other.post("/sign-in", data={"email": KNOWN, "password": TEST_PASSWORD}).status_code == 429
    link = mailed_link(client, runner, smtp_server)
    assert client.post(path(link), data={"new_password": NEW_PASSWORD}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 0
    assert other.post("/sign-in", data={"email": KNOWN, "password": NEW_PASSWORD}).status_code == 302


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_every_form_needs_its_csrf_token(app, two_orgs):
    client = app.test_client()
    assert client.post("/password-reset", data={"email": KNOWN}).status_code == 400
    assert queued() == 0
