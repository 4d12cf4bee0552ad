"""Method tampering (RELIABILITY.md B19): every rule in app.url_map, sent every method it does not allow, as a
signed-in user who may use it, answers 405 with the methods it does allow and changes nothing; a method-override
header is never read.

One app and one signed-in client per visitor for the whole walk, with CSRF on as in production; the database is
compared whole before and after the walk.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.conftest import csrf_token_from
from tests.test_access import EXPECTED, SIGN_IN, VISITORS, url_for_rule, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE")
# The portal's forms post and its links get: no route takes anything else.
PORTAL_METHODS = {"GET", "HEAD", "POST", "OPTIONS"}
OVERRIDES = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
# Statuses that show the visitor got through the guard to the view itself.
REACHED = {200, 204, 302, 303, 422}


def database_snapshot() -> dict[str, list[str]]:
    """Every row of every table, in a stable order: two snapshots are equal when nothing changed."""
    db.session.rollback()
    return {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
        for table in db.Model.metadata.sorted_tables
    }


def allowed_methods(app, url: str) -> set[str]:
    """The methods the URL answers, from every rule that matches it (OPTIONS and HEAD are added by Flask)."""
    return set(app.url_map.bind("localhost").allowed_methods(url.split("?")[0]))


def right_visitor(rule: str) -> str:
    """A visitor who reaches the rule's view (signed in where anyone signed in can), else the first signed-in."""
    statuses = EXPECTED[rule][1]
    for visitor in VISITORS[1:]:
        if statuses[visitor] in REACHED:
            return visitor
    if statuses["anonymous"] in REACHED - {SIGN_IN}:
        return "anonymous"
    return "partner_a"


@pytest.fixture
def clients(app, world, login):  # noqa: F811 - the fixture imported above
    """One client per visitor, signed in once."""
    made = {}
    for visitor in VISITORS:
        made[visitor] = app.test_client()
        if visitor != "anonymous":
            login(made[visitor], world[visitor])
    return made


STATIC_FILES = "/assets/<path:filename>"


def test_every_method_a_rule_does_not_allow_is_405_and_changes_nothing(app, world, clients):  # noqa: F811
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert rules == set(EXPECTED)  # the walk covers what tests/test_access.py covers
    wrong: list[str] = []
    walked = 0
    before = database_snapshot()
    for rule in sorted(rules):
        visitor = right_visitor(rule)
        url = url_for_rule(rule, world)
        allowed = allowed_methods(app, url)
        if not allowed <= PORTAL_METHODS:
            wrong.append(f"{rule} takes {sorted(allowed - PORTAL_METHODS)}")
        if EXPECTED[rule][0] == "POST" and "GET" in allowed:
            wrong.append(f"{rule} changes state and takes GET")
        for method in METHODS:
            if method in allowed:
                continue
            walked += 1
            response = clients[visitor].open(url, method=method)
            if response.status_code != 405:
                wrong.append(f"{method} {rule} as {visitor}: {response.status_code}")
                continue
            if rule == STATIC_FILES:
                # Answered by WhiteNoise in front of the app (portal/assets.py): its own plain 405, GET and HEAD.
                if set(response.headers["Allow"].split(", ")) != {"GET", "HEAD"}:
                    wrong.append(f"{method} {rule}: Allow {response.headers['Allow']!r}")
                continue
            if set(response.headers["Allow"].split(", ")) != allowed:
                wrong.append(f"{method} {rule}: Allow {response.headers['Allow']!r}")
            if method != "HEAD" and "Sorry, you cannot do that here" not in response.text:
                wrong.append(f"{method} {rule}: not the 405 page")
    assert wrong == [], "\n".join(wrong)
    # Compared once for the whole walk (per rule would triple its time); every request above was refused.
    assert database_snapshot() == before
    assert walked >= 4 * len(rules)  # at least PUT, DELETE, PATCH and TRACE on every rule


def test_trace_never_echoes_the_request(clients):
    response = clients["csu"].open("/csu/", method="TRACE", headers={"X-Secret": "echo-me"})
    assert response.status_code == 405
    assert "echo-me" not in response.text
    assert "message/http" not in response.headers["Content-Type"]


def test_an_override_header_on_a_get_is_ignored(world, clients):  # noqa: F811
    """Every GET route, with each common override header saying DELETE, answers as the plain GET and writes nothing
    the plain GET did not (opening the authenticator page once makes the secret to set up: the first walk)."""
    gets = [(rule, statuses) for rule, (method, statuses) in sorted(EXPECTED.items()) if method == "GET"]
    for rule, statuses in gets:
        visitor = right_visitor(rule)
        assert clients[visitor].get(url_for_rule(rule, world)).status_code == statuses[visitor], rule
    before = database_snapshot()
    wrong: list[str] = []
    for rule, statuses in gets:
        visitor = right_visitor(rule)
        response = clients[visitor].get(url_for_rule(rule, world), headers=dict.fromkeys(OVERRIDES, "DELETE"))
        if response.status_code != statuses[visitor]:
            wrong.append(f"GET {rule} with override headers as {visitor}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)
    assert database_snapshot() == before


@pytest.mark.parametrize(
    ("rule", "visitor"),
    [
        ("/finance/projects/<int:project_id>/payments", "finance"),
        ("/csu/returns/<int:return_id>/approve", "csu"),
        ("/csu/due/chase", "csu"),
    ],
)
def test_an_override_header_on_a_post_is_ignored(world, clients, rule, visitor):  # noqa: F811
    """An empty form posted with its token and 'DELETE' in an override header is the incomplete POST it is: 422."""
    client = clients[visitor]
    token = csrf_token_from(client.get("/account/name").text)
    before = database_snapshot()
    response = client.post(
        url_for_rule(rule, world), data={"csrf_token": token}, headers={**dict.fromkeys(OVERRIDES, "DELETE")}
    )
    assert response.status_code == 422
    assert database_snapshot() == before


def test_a_delete_to_a_post_route_is_405_even_with_a_valid_token(world, clients):  # noqa: F811
    """The token does not turn another method into the one the route takes: the payment form refuses DELETE."""
    client = clients["finance"]
    token = csrf_token_from(client.get("/account/name").text)
    before = database_snapshot()
    for method in ("DELETE", "PUT", "PATCH"):
        response = client.open(
            url_for_rule("/finance/projects/<int:project_id>/payments", world),
            method=method,
            data={
                "csrf_token": token,
                "amount": "5.00",
                "paid_on-day": "1",
                "paid_on-month": "6",
                "paid_on-year": "2021",
            },
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 405, method
    assert database_snapshot() == before
