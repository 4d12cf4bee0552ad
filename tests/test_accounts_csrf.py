"""CSRF on, as in production: every form of the organisation, account and "Your account" pages is refused
without the page's token (and changes nothing), and works with it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Organisation
from tests.conftest import csrf_token_from

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])

POSTS = [
    ("admin", "/admin/organisations/new", {"name": "Protection Against Stalking", "short_name": "PAS"}),
    ("admin", "/admin/organisations/{davss}/edit", {"name": "DAVSS renamed", "short_name": "DAVSS"}),
    ("admin", "/admin/organisations/{davss}/retire", {}),
    ("admin", "/admin/organisations/{davss}/reinstate", {}),
    ("admin", "/admin/users/{partner}/deactivate", {}),
    ("admin", "/admin/users/{partner}/reactivate", {}),
    ("admin", "/admin/users/{partner}/roles", {"roles": "csu", "organisation": "", "confirmed": "yes"}),
    ("partner_a", "/account/name", {"name": "A new name"}),
    ("partner_a", "/account/sign-out-everywhere-else", {}),
]


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize(("who", "path", "data"), POSTS)
def test_a_post_without_the_pages_token_is_refused_and_changes_nothing(client, two_orgs, login, who, path, data):
    login(client, two_orgs[who])
    path = path.format(davss=two_orgs["davss"].id, partner=two_orgs["partner_a"].id)
    before = audit_count()

    response = client.post(path, data=data)

    assert response.status_code == 400
    assert "Your form has expired" in response.text
    assert audit_count() == before
    assert client.get("/account").status_code == 200  # still signed in


def test_a_post_with_the_pages_token_works(client, two_orgs, login):
    login(client, two_orgs["admin"])
    token = csrf_token_from(client.get("/admin/organisations/new").text)
    data = {"name": "Protection Against Stalking", "short_name": "PAS", "csrf_token": token}
    assert client.post("/admin/organisations/new", data=data).status_code == 302
    assert db.session.scalar(select(Organisation.id).where(Organisation.short_name == "PAS")) is not None
