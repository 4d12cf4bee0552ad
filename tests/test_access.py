"""Who may reach what: every route in app.url_map, for every kind of visitor.

A new route that is not in EXPECTED fails test_every_route_is_in_the_table, so it cannot escape.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.extensions import db
from portal.models import (
    Invitation,
    MonitoringReturn,
    OutboxMessage,
    Payment,
    PaymentInstalment,
    Priority,
    ReturnRevision,
)
from portal.models.types import utcnow
from portal.models.vocabulary import MAIL_FAILED

VISITORS = ("anonymous", "partner_a", "partner_b", "csu", "finance", "admin")
SIGN_IN = 302  # a signed-out visitor is sent to sign in
# A signed-out POST of typed answers that does not show it came from the portal's own pages (no Sec-Fetch-Site,
# Origin or Referer, as here) is refused rather than offered the sign-in-again page (tests/test_keep_text_origin.py).
NOT_FROM_HERE = 403

STAFF_READ = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 200, "admin": 200}
CSU_DECIDES = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 422, "finance": 403, "admin": 403}
FINANCE_CHANGES = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 403, "finance": 422, "admin": 422}
FINANCE_FORM_PAGE = {**FINANCE_CHANGES, "finance": 200, "admin": 200}
# The set-up: finance reads it; the CSU and admin change it (finance is refused its forms); partners never see it.
SETUP_FORM = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 403, "admin": 200}
ADMIN_ONLY = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 403, "finance": 403, "admin": 200}
ADMIN_ACTS = {**ADMIN_ONLY, "admin": 302}  # a POST that works redirects
OWN_PARTNER_ONLY = {"anonymous": SIGN_IN, "partner_a": 200, "partner_b": 404, "csu": 403, "finance": 403, "admin": 403}
ADMIN_ONLY = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 403, "finance": 403, "admin": 200}
SIGNED_IN = {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 200)}
AUDIT_READ = {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 403, "admin": 200}

# rule -> (method, {visitor: status}); partner_a is DAVSS, whose project and return the URLs name.
EXPECTED: dict[str, tuple[str, dict[str, int]]] = {
    "/assets/<path:filename>": ("GET", dict.fromkeys(VISITORS, 200)),
    "/": ("GET", dict.fromkeys(VISITORS, 302)),
    "/healthz": ("GET", dict.fromkeys(VISITORS, 200)),
    "/accessibility": ("GET", dict.fromkeys(VISITORS, 200)),
    "/privacy": ("GET", dict.fromkeys(VISITORS, 200)),
    "/no-access": ("GET", {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 302)}),
    "/sign-in": ("GET", {"anonymous": 200, **dict.fromkeys(VISITORS[1:], 302)}),
    "/sign-out": ("POST", dict.fromkeys(VISITORS, 302)),
    "/account/password": ("GET", {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 200)}),
    "/partner/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 200, "partner_b": 200, "csu": 403, "finance": 403, "admin": 403},
    ),
    "/partner/<year_label>/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 200, "partner_b": 200, "csu": 403, "finance": 403, "admin": 403},
    ),
    "/partner/projects/<int:project_id>": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 200, "partner_b": 404, "csu": 403, "finance": 403, "admin": 403},
    ),
    "/csu/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 200, "admin": 200},
    ),
    "/csu/<year_label>/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 200, "admin": 200},
    ),
    "/finance/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 200, "admin": 200},
    ),
    "/finance/<year_label>/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 200, "finance": 200, "admin": 200},
    ),
    "/admin/": (
        "GET",
        {"anonymous": SIGN_IN, "partner_a": 404, "partner_b": 404, "csu": 403, "finance": 403, "admin": 200},
    ),
    "/csu/reviews": ("GET", STAFF_READ),
    "/csu/returns/<int:return_id>": ("GET", STAFF_READ),
    "/csu/returns/<int:return_id>/revisions/<int:number>": ("GET", STAFF_READ),
    "/csu/returns/<int:return_id>/compare": ("GET", STAFF_READ),
    # Removing a passage for good: the CSU and admin; finance reads the return but may not.
    "/csu/returns/<int:return_id>/revisions/<int:number>/redact": ("GET", SETUP_FORM),
    # A decision needs the CSU role; an empty form is then refused as incomplete (422). A signed-out
    # comment is not lost: the page asks to sign in again and keeps it (401).
    "/csu/returns/<int:return_id>/approve": ("POST", CSU_DECIDES),
    "/csu/returns/<int:return_id>/request-changes": ("POST", {**CSU_DECIDES, "anonymous": NOT_FROM_HERE}),
    "/csu/returns/<int:return_id>/reopen": ("POST", {**CSU_DECIDES, "anonymous": NOT_FROM_HERE}),
    "/csu/<year_label>/projects.<fmt>": ("GET", STAFF_READ),
    "/csu/<year_label>/measures.<fmt>": ("GET", STAFF_READ),
    "/csu/<year_label>/measures-for-publication.<fmt>": ("GET", STAFF_READ),
    "/csu/<year_label>/annual-report": ("GET", STAFF_READ),
    "/csu/<year_label>/annual-report.docx": ("GET", STAFF_READ),
    "/csu/projects/<int:project_id>": ("GET", STAFF_READ),
    # Only the CSU changes a due date; a signed-out reason is kept (401), as for a CSU comment.
    "/csu/projects/<int:project_id>/due-dates": ("POST", {**CSU_DECIDES, "anonymous": NOT_FROM_HERE}),
    "/csu/due": ("GET", STAFF_READ),
    # Only the CSU chases from the due list; an empty selection is refused (422) and nothing is sent.
    "/csu/due/chase/preview": ("POST", CSU_DECIDES),
    "/csu/due/chase": ("POST", CSU_DECIDES),
    "/csu/<year_label>/priorities": ("GET", STAFF_READ),
    "/finance/projects/<int:project_id>": ("GET", STAFF_READ),
    "/finance/<year_label>/ledger": ("GET", STAFF_READ),
    "/finance/<year_label>/allocation.<fmt>": ("GET", STAFF_READ),
    "/finance/<year_label>/ledger.<fmt>": ("GET", STAFF_READ),
    "/finance/<year_label>/reconciliation": ("GET", STAFF_READ),
    "/finance/<year_label>/360giving.json": ("GET", STAFF_READ),
    "/finance/<year_label>/360giving.csv": ("GET", STAFF_READ),
    # Finance and admin change the ledger; an empty form is refused as incomplete (422).
    # Each ledger form on a page of its own: finance and admin, who may post it; the CSU is refused it.
    "/finance/projects/<int:project_id>/payments/new": ("GET", FINANCE_FORM_PAGE),
    "/finance/projects/<int:project_id>/variations/new": ("GET", FINANCE_FORM_PAGE),
    "/finance/projects/<int:project_id>/instalments/new": ("GET", FINANCE_FORM_PAGE),
    "/finance/projects/<int:project_id>/payments": ("POST", FINANCE_CHANGES),
    "/finance/projects/<int:project_id>/variations": ("POST", FINANCE_CHANGES),
    "/finance/projects/<int:project_id>/instalments": ("POST", FINANCE_CHANGES),
    "/finance/payments/<int:payment_id>/reverse": ("GET", {**FINANCE_CHANGES, "finance": 200, "admin": 200}),
    "/finance/instalments/<int:instalment_id>/remove": ("POST", {**FINANCE_CHANGES, "finance": 302, "admin": 302}),
    "/finance/<year_label>/close": ("POST", FINANCE_CHANGES),
    "/finance/<year_label>/reopen": ("POST", {**FINANCE_CHANGES, "finance": 403}),
    "/setup/": ("GET", STAFF_READ),
    "/setup/<year_label>/": ("GET", STAFF_READ),
    "/setup/projects/<int:project_id>": ("GET", STAFF_READ),
    "/setup/<year_label>/workbook.xlsx": ("GET", STAFF_READ),
    **{
        rule: ("GET", SETUP_FORM)
        for rule in (
            "/setup/years/new",
            "/setup/<year_label>/edit",
            "/setup/<year_label>/streams/new",
            "/setup/streams/<int:stream_id>/edit",
            "/setup/<year_label>/priorities/new",
            "/setup/priorities/<int:priority_id>/edit",
            "/setup/<year_label>/roll-over",
            "/setup/<year_label>/projects/new",
            "/setup/projects/<int:project_id>/edit",
            "/setup/projects/<int:project_id>/measures/new",
            "/setup/measures/<int:measure_id>/edit",
            "/setup/measures/<int:measure_id>/retire",
            "/setup/<year_label>/workbook",
        )
    },
    # Organisations and people: the administrator's. The URLs name DAVSS and partner_a. Reinstating an
    # organisation that is not retired, or reactivating an active account, changes nothing (303 back).
    "/admin/organisations/new": ("GET", ADMIN_ONLY),
    "/admin/organisations/<int:organisation_id>": ("GET", ADMIN_ONLY),
    "/admin/organisations/<int:organisation_id>/edit": ("GET", ADMIN_ONLY),
    "/admin/organisations/<int:organisation_id>/retire": ("GET", ADMIN_ONLY),
    "/admin/organisations/<int:organisation_id>/reinstate": ("POST", {**ADMIN_ONLY, "admin": 303}),
    "/admin/users/<int:user_id>": ("GET", ADMIN_ONLY),
    "/admin/users/<int:user_id>/roles": ("GET", ADMIN_ONLY),
    "/admin/users/<int:user_id>/deactivate": ("GET", ADMIN_ONLY),
    "/admin/users/<int:user_id>/reactivate": ("POST", {**ADMIN_ONLY, "admin": 303}),
    # No second factor set up: nothing to reset, back to the account page.
    "/admin/users/<int:user_id>/authenticator/reset": ("GET", {**ADMIN_ONLY, "admin": 303}),
    # Your account: everyone signed in.
    "/account": ("GET", SIGNED_IN),
    "/account/name": ("GET", SIGNED_IN),
    "/account/emails": ("GET", SIGNED_IN),
    "/account/sign-out-everywhere-else": ("POST", {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 302)}),
    # The second factor (auth/mfa.py): the sign-in pages need a pending sign-in (after the password), else back to
    # sign in; turning it off needs it on. The idle warning's keep-alive answers 204.
    "/sign-in/code": ("GET", dict.fromkeys(VISITORS, 302)),
    "/sign-in/recovery-code": ("GET", dict.fromkeys(VISITORS, 302)),
    "/sign-in/set-up": ("GET", dict.fromkeys(VISITORS, 302)),
    "/account/authenticator": ("GET", SIGNED_IN),
    "/account/authenticator/turn-off": ("GET", {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 302)}),
    "/session/keep-alive": ("POST", {"anonymous": SIGN_IN, **dict.fromkeys(VISITORS[1:], 204)}),
    # The audit trail: the CSU and administrators; a partner is not told it exists, finance is refused.
    "/audit/": ("GET", AUDIT_READ),
    "/audit/events.csv": ("GET", AUDIT_READ),
    # Links sent by mail and the page that asks for one: open to everyone. A link that is not one of ours is
    # 404 for every visitor, signed in or not; real links: tests/test_invitations.py, tests/test_password_reset.py.
    "/password-reset": ("GET", dict.fromkeys(VISITORS, 200)),
    "/password-reset/sent": ("GET", dict.fromkeys(VISITORS, 200)),
    "/password-reset/<token>": ("GET", dict.fromkeys(VISITORS, 404)),
    "/invitations/<token>": ("GET", dict.fromkeys(VISITORS, 404)),
    # Invitations and the outbox: administrators only.
    "/admin/invitations": ("GET", ADMIN_ONLY),
    "/admin/invitations/new": ("GET", ADMIN_ONLY),
    "/admin/invitations/<int:invitation_id>/resend": ("POST", ADMIN_ACTS),
    "/admin/invitations/<int:invitation_id>/revoke": ("GET", ADMIN_ONLY),
    "/admin/outbox": ("GET", ADMIN_ONLY),
    "/admin/outbox/<int:message_id>": ("GET", ADMIN_ONLY),
    "/admin/outbox/<int:message_id>/send-again": ("POST", ADMIN_ACTS),
    # The check of one answer as it is typed: an empty form names no answer to check (422).
    "/partner/projects/<int:project_id>/q<int:quarter>/personal-data-check": (
        "POST",
        {**OWN_PARTNER_ONLY, "partner_a": 422},
    ),
    **{
        f"/partner/projects/<int:project_id>/q<int:quarter>/{page}": ("GET", OWN_PARTNER_ONLY)
        for page in (
            "",
            "outputs",
            "spend",
            "narrative",
            "check",
            "compare",
            "revisions/<int:number>",
            "submitted/<int:revision>",
        )
    },
}


def url_for_rule(rule: str, fixture: dict) -> str:
    return (
        rule.replace("<path:filename>", "css/portal.css")
        .replace("<year_label>", fixture["year"].label)
        .replace("<int:project_id>", str(fixture["davss_project"].id))
        .replace("<int:quarter>", "1")
        .replace("<int:return_id>", str(fixture["davss_return"].id))
        .replace("<int:number>", "1")
        .replace("<int:revision>", "1")
        .replace("<fmt>", "csv")
        .replace("<int:payment_id>", str(fixture["payment"].id))
        .replace("<int:instalment_id>", str(fixture["instalment"].id))
        .replace("<int:stream_id>", str(fixture["stream"].id))
        .replace("<int:priority_id>", str(fixture["priority"].id))
        .replace("<int:measure_id>", str(fixture["davss_project"].measures[0].id))
        .replace("<int:organisation_id>", str(fixture["davss"].id))
        .replace("<int:user_id>", str(fixture["partner_a"].id))
        .replace("<token>", "not-a-link-we-sent")
        .replace("<int:invitation_id>", str(fixture["invitation"].id))
        .replace("<int:message_id>", str(fixture["message"].id))
    )


@pytest.fixture
def world(two_orgs):
    """The two organisations, with a submitted Q1 return (one revision) on DAVSS's project."""
    mreturn = MonitoringReturn(project=two_orgs["davss_project"], quarter=1, status="submitted", spend_pence=100)
    db.session.add(mreturn)
    db.session.add(ReturnRevision(monitoring_return=mreturn, number=1, values={}, spend_pence=100))
    payment = Payment(project=two_orgs["davss_project"], amount_pence=500, paid_on=date(2021, 5, 1))
    instalment = PaymentInstalment(project=two_orgs["davss_project"], number=1, amount_pence=500)
    db.session.add_all([payment, instalment])
    # A waiting invitation, and a message the mail server refused for good (an admin may send it again).
    invitation = Invitation(
        email="new@davss.example",
        roles=["partner"],
        organisation=two_orgs["davss"],
        token_hash="0" * 64,
        expires_at=utcnow() + timedelta(days=7),
    )
    message = OutboxMessage(
        kind="invitation", to_address="new@davss.example", subject="S", text_body="T", html_body="H", status=MAIL_FAILED
    )
    priority = Priority(year=two_orgs["year"], name="Domestic Abuse", rank=1)
    db.session.add_all([invitation, message, priority])
    db.session.commit()
    return {
        **two_orgs,
        "davss_return": mreturn,
        "payment": payment,
        "instalment": instalment,
        "invitation": invitation,
        "message": message,
        "priority": priority,
    }


def test_every_route_is_in_the_table(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert rules == set(EXPECTED), "add new routes to EXPECTED with the status each visitor gets"


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_route_matrix(app, world, login, rule, visitor):
    method, statuses = EXPECTED[rule]
    client = app.test_client()
    if visitor != "anonymous":
        login(client, world[visitor])
    response = client.open(url_for_rule(rule, world), method=method)
    assert response.status_code == statuses[visitor], f"{method} {rule} as {visitor}"
    if response.status_code == SIGN_IN and visitor == "anonymous" and rule not in {"/", "/sign-out", "/healthz"}:
        assert response.headers["Location"].startswith("/sign-in")


def test_partner_gets_404_for_a_missing_project_too(client, two_orgs, login):
    """Another organisation's project and a project that does not exist look the same."""
    login(client, two_orgs["partner_b"])
    other = client.get(f"/partner/projects/{two_orgs['davss_project'].id}")
    missing = client.get("/partner/projects/999999")
    assert other.status_code == missing.status_code == 404
    for page in (other, missing):
        assert "<title>Page not found" in page.text
        assert "Support for Medium" not in page.text


def test_unknown_year_is_404(client, two_orgs, login):
    login(client, two_orgs["csu"])
    assert client.get("/csu/2099-00/").status_code == 404
    assert client.get("/csu/1999-01/").status_code == 404
    assert client.get("/csu/not-a-year/").status_code == 404


@pytest.mark.parametrize("path", ["/partner/", "/partner/2021-22/"])
def test_partner_home_lists_only_their_own_projects(client, two_orgs, login, path):
    login(client, two_orgs["partner_b"])
    page = client.get(path).text
    assert "Youth Diversionary" in page
    assert "Domestic Abuse" not in page
    assert "Kenward Trust" in page
