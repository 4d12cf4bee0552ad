"""Security headers on every response, with a per-request nonce for the one inline script."""

import secrets

from flask import Flask, g, request, session


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(app: Flask, nonce: str | None = None) -> dict[str, str]:
    """The headers every response carries: pages (with the request's nonce) and static files alike."""
    script_src = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    headers = {
        "Content-Security-Policy": (
            "default-src 'self'; "
            f"script-src {script_src}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if app.config["SESSION_COOKIE_SECURE"]:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def register(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        response.headers.update(security_headers(app, g.get("csp_nonce")))
        response.vary.add("HX-Request")
        if _private(request.endpoint):
            response.headers["Cache-Control"] = "no-store"
        return response


def _private(endpoint: str | None) -> bool:
    """Whether a response may carry a signed-in person's data, so no cache may keep it.

    A header must never query the database: a user already loaded by this request counts, and so does a session
    that names one (a view that answers from the session alone, such as a redirect, loads nobody). The static
    assets are the same for everyone and stay cacheable.
    """
    # Not `is_authenticated`: it reads `active`, which a commit has expired, and would read the user again.
    user = g.get("_login_user")
    if (user is not None and not user.is_anonymous) or g.get("no_store"):
        return True
    return endpoint != "static" and "_user_id" in session
