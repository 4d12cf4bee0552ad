"""Security headers on every response (RELIABILITY.md B20): every GET route in tests/test_access.py's table, as every
kind of visitor, over HTTPS with the production cookie settings, and the error answers a GET cannot reach.

Whatever the status (200, a redirect, 403, 404, 405, a download), the response carries the same policy. One app and
one client per visitor for the whole walk.
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD
from tests.test_access import EXPECTED, VISITORS, url_for_rule, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE_IN_TESTS": True}])

HTTPS = "https://localhost"
CSP_DIRECTIVES = (
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)
DOWNLOADS = (".<fmt>", ".csv", ".json", ".xlsx", ".docx")  # the rules that send a file


def header_problems(response, *, signed_in: bool, download: bool = False) -> list[str]:
    """What is missing or wrong in one response's headers; empty when all is well."""
    headers = response.headers
    problems = []
    csp = headers.get("Content-Security-Policy", "")
    problems += [f"CSP lacks {directive}" for directive in CSP_DIRECTIVES if directive not in csp]
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append("CSP allows unsafe scripts")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",  # never no-referrer: Flask-WTF's SSL-strict check needs the Referer
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    problems += [f"{name}: {headers.get(name)!r}" for name, value in expected.items() if headers.get(name) != value]
    if not headers.get("Strict-Transport-Security", "").startswith("max-age=31536000"):
        problems.append("no HSTS")
    if "Server" in headers or "X-Powered-By" in headers:
        problems.append("names the server")
    content_type = headers.get("Content-Type", "")
    # WhiteNoise, serving the static files, quotes it (charset="utf-8"), as RFC 9110 allows.
    if content_type.startswith("text/") and "charset=utf-8" not in content_type.replace('"', ""):
        problems.append(f"no charset: {content_type}")
    if signed_in and headers.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r} for a signed-in visitor")
    if download and response.status_code == 200 and "attachment" not in headers.get("Content-Disposition", ""):
        problems.append(f"a {content_type} download not sent as an attachment")
    for cookie in headers.getlist("Set-Cookie"):
        problems += cookie_problems(cookie)
    if b"Traceback" in response.get_data():
        problems.append("a traceback")
    return problems


def cookie_problems(cookie: str) -> list[str]:
    attributes = [part.strip().lower() for part in cookie.split(";")]
    wanted = ("secure", "httponly", "samesite=lax", "path=/")
    problems = [f"cookie without {name}: {cookie}" for name in wanted if name not in attributes]
    if not cookie.startswith("__Host-portal=") or any(part.startswith("domain=") for part in attributes):
        problems.append(f"not a __Host- cookie: {cookie}")
    return problems


@pytest.fixture
def clients(app, world):  # noqa: F811 - the fixture imported above
    """One HTTPS client per visitor, signed in once (as tests/conftest.py login_as does, over HTTPS)."""
    made = {}
    for visitor in VISITORS:
        client = made[visitor] = app.test_client()
        if visitor != "anonymous":
            with client.session_transaction(base_url=HTTPS) as session:
                session["_user_id"] = world[visitor].session_token
                session["_fresh"] = True
    return made


def is_signed_in_page(rule: str, visitor: str) -> bool:
    """Everything a signed-in visitor is sent is kept from caches, the static assets and the health check apart."""
    return visitor != "anonymous" and not rule.startswith(("/assets/", "/healthz"))


def test_every_get_route_as_every_visitor_carries_the_headers(world, clients):  # noqa: F811
    wrong: list[str] = []
    seen: dict[int, int] = {}
    downloads = 0
    for rule, (method, statuses) in sorted(EXPECTED.items()):
        if method != "GET":
            continue
        url = url_for_rule(rule, world)
        for visitor in VISITORS:
            response = clients[visitor].get(url, base_url=HTTPS)
            assert response.status_code == statuses[visitor], f"{rule} as {visitor}"
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            downloads += "attachment" in response.headers.get("Content-Disposition", "")
            signed_in = is_signed_in_page(rule, visitor)
            if rule.startswith("/assets/") and "no-store" in response.headers.get("Cache-Control", ""):
                wrong.append(f"GET {rule} as {visitor}: a static asset kept from caches")
            for problem in header_problems(response, signed_in=signed_in, download=rule.endswith(DOWNLOADS)):
                wrong.append(f"GET {rule} as {visitor} ({response.status_code}): {problem}")
    assert wrong == [], "\n".join(wrong)
    # The walk met every kind of answer it is meant to check.
    assert {200, 302, 403, 404} <= set(seen)
    assert downloads >= 5 * 3  # the CSV, Excel, Word and JSON downloads, for csu, finance and admin


def test_error_answers_carry_the_headers(app, world, clients):  # noqa: F811
    """405, an unknown page, a form with errors, a refused form, 413, and the sign-in that sets the cookie."""
    csu = clients["csu"]
    app.config["WTF_CSRF_ENABLED"] = True
    refused = csu.post("/account/name", data={"name": "No token"}, base_url=HTTPS)
    app.config["WTF_CSRF_ENABLED"] = False
    answers = [
        (refused, 400, True),
        (csu.open("/csu/", method="PUT", base_url=HTTPS), 405, True),
        (csu.get("/no-such-page", base_url=HTTPS), 404, True),
        (csu.post("/account/name", data={"name": "A\x00B"}, base_url=HTTPS), 422, True),
        (clients["anonymous"].post("/sign-in", data={"email": "x" * (3 << 20)}, base_url=HTTPS), 413, False),
        (clients["anonymous"].get("/no-such-page", base_url=HTTPS), 404, False),
    ]
    fresh = clients["anonymous"]
    signed_in = fresh.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD}, base_url=HTTPS)
    answers.append((signed_in, 302, False))
    assert "Set-Cookie" in signed_in.headers
    wrong = []
    for response, status, signed in answers:
        assert response.status_code == status, response.request.path
        wrong += [f"{response.request.path}: {p}" for p in header_problems(response, signed_in=signed)]
    assert wrong == [], "\n".join(wrong)


def test_the_walk_notices_a_missing_header(world, clients):  # noqa: F811
    """The checker itself: a response without the policy is reported, so the walks above cannot pass vacuously."""
    response = clients["csu"].get("/csu/", base_url=HTTPS)
    del response.headers["Content-Security-Policy"]
    response.headers["Cache-Control"] = "public"
    problems = header_problems(response, signed_in=True)
    assert any("object-src" in problem for problem in problems)
    assert any("Cache-Control" in problem for problem in problems)
