"""Headers, cookies, error pages, health and configuration: the promises every response keeps."""

from __future__ import annotations

import re

import pytest

from portal import create_app
from portal.extensions import db
from tests.conftest import TEST_PASSWORD, base_config


def test_security_headers_on_every_page(client):
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_the_one_inline_script_carries_the_policy_nonce(client):
    response = client.get("/sign-in")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline_scripts, "the GOV.UK template's js-enabled script"
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline_scripts)
    assert client.get("/sign-in").headers["Content-Security-Policy"] != response.headers["Content-Security-Policy"]


def test_signed_in_pages_are_not_cached(client, two_orgs, login):
    assert "no-store" not in client.get("/sign-in").headers.get("Cache-Control", "")
    login(client, two_orgs["csu"])
    assert client.get("/csu/").headers["Cache-Control"] == "no-store"


def test_csrf_header_is_set_once_on_body_and_inherited(client):
    body = re.search(r"<body[^>]*>", client.get("/sign-in").text).group(0)
    assert "hx-headers:inherited=" in body
    assert "X-CSRFToken" in body.replace("&#34;", '"')


def test_session_cookie_flags_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-portal"
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/sign-in", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_set_cookie_after_sign_in_is_httponly_and_lax(client, two_orgs):
    response = client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("secret", ["", "dev", "changeme", "short-secret"])
def test_refuses_to_start_with_a_weak_secret(tmp_path, monkeypatch, secret):
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_generates_a_secret_into_instance_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app()
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text().strip() == app.config["SECRET_KEY"]
    assert len(app.config["SECRET_KEY"]) >= 32
    assert key_file.stat().st_mode & 0o077 == 0
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "y" * 48)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/portal.db"


@pytest.mark.parametrize(
    ("path", "method", "status", "title"),
    [
        ("/no-such-page", "GET", 404, "Page not found"),
        ("/sign-out", "GET", 405, "Sorry, you cannot do that here"),
        ("/healthz", "DELETE", 405, "Sorry, you cannot do that here"),
    ],
)
def test_error_pages(client, path, method, status, title):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert f"<title>{title}" in response.text
    assert "Traceback" not in response.text


def test_server_error_is_a_page_not_a_traceback(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_any_other_http_error_gets_the_fallback_page(app, client):
    from flask import abort

    @app.route("/teapot")
    def teapot():
        abort(418)

    response = client.get("/teapot")
    assert response.status_code == 418
    assert "Sorry, something went wrong" in response.text


def test_too_large_a_request_is_413(client):
    response = client.post("/sign-in", data={"email": "x" * (3 * 1024 * 1024), "password": "p"})
    assert response.status_code == 413


def test_health_answers_after_a_database_round_trip(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(tmp_path):
    # A database path inside a file cannot be opened: every connection fails.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    app = create_app(base_config(f"sqlite:///{blocker}/portal.db"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}


def test_a_page_is_503_not_500_when_the_database_is_down(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    app = create_app(base_config(f"sqlite:///{blocker}/portal.db"))
    response = app.test_client().post("/sign-in", data={"email": "a@b.example", "password": "whatever it is"})
    assert response.status_code == 503
    assert "Sorry, the service is busy" in response.text


class TestWithCsrf:
    """CSRF on: a form post or an htmx post without the token is refused."""

    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_form_post_without_token_is_400(self, client, two_orgs):
        response = client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD})
        assert response.status_code == 400
        assert "Your form has expired" in response.text
        assert client.get("/partner/").status_code == 302

    def test_htmx_post_without_token_is_400(self, client, two_orgs, login):
        login(client, two_orgs["partner_a"])
        response = client.post("/sign-out", headers={"HX-Request": "true"})
        assert response.status_code == 400
        assert client.get("/partner/").status_code == 200  # still signed in: nothing changed

    def test_htmx_post_with_the_body_header_token_works(self, client, two_orgs, login):
        login(client, two_orgs["partner_a"])
        page = client.get("/partner/").text
        body = re.search(r"<body[^>]*>", page).group(0).replace("&#34;", '"')
        token = re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)
        response = client.post("/sign-out", headers={"HX-Request": "true", "X-CSRFToken": token})
        assert response.status_code == 302
        assert client.get("/partner/").status_code == 302

    def test_form_post_with_the_token_signs_in(self, client, two_orgs):
        from tests.conftest import csrf_token_from

        token = csrf_token_from(client.get("/sign-in").text)
        response = client.post(
            "/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302


def test_a_host_outside_trusted_hosts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "z" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("TRUSTED_HOSTS", "portal.sevenoaks.example, localhost")
    app = create_app()
    client = app.test_client()
    assert client.get("/healthz", base_url="https://portal.sevenoaks.example").status_code == 200
    assert client.get("/healthz", base_url="https://evil.example").status_code == 400
