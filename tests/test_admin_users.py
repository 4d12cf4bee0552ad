"""People's accounts in the administrator's pages: deactivation ends every session and reactivation undoes it;
roles and a partner's organisation change after a check of what will change; an administrator can neither
deactivate themselves nor remove their own administrator role. Each change audited with before and after."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.models.user import OWN_ACCOUNT, OWN_ADMIN_ROLE
from portal.templating import uk_datetime
from tests.conftest import TEST_PASSWORD


@pytest.fixture
def admin(client, two_orgs, login):
    login(client, two_orgs["admin"])
    return client


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def fresh(user: User) -> User:
    return db.session.get(User, user.id)


def signed_in(app, email: str):
    client = app.test_client()
    assert client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD}).status_code == 302
    return client


# -- deactivation and reactivation ----------------------------------------------------------------


def test_deactivation_asks_first(admin, two_orgs):
    partner = two_orgs["partner_a"]
    page = admin.get(f"/admin/users/{partner.id}/deactivate")
    assert page.status_code == 200
    assert "Are you sure you want to deactivate a@davss.example?" in page.text
    assert fresh(partner).active


def test_deactivation_ends_every_session_even_a_copied_cookie(app, admin, two_orgs):
    partner = two_orgs["partner_a"]
    laptop = signed_in(app, partner.email)
    copied = app.test_client()
    cookie = app.config["SESSION_COOKIE_NAME"]
    copied.set_cookie(cookie, laptop.get_cookie(cookie).value)
    assert copied.get("/partner/").status_code == 200

    response = admin.post(f"/admin/users/{partner.id}/deactivate")

    assert response.status_code == 302
    assert "a@davss.example has been deactivated" in admin.get(response.headers["Location"]).text
    for client in (laptop, copied):
        response = client.get("/partner/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    refused = app.test_client().post("/sign-in", data={"email": partner.email, "password": TEST_PASSWORD})
    assert refused.status_code == 422
    assert fresh(partner).active is False
    [event] = events("user.deactivated")
    assert (event.object_type, event.object_id, event.actor_id) == ("user", partner.id, two_orgs["admin"].id)
    assert event.details == {"changes": {"active": [True, False]}}


def test_reactivation_lets_them_sign_in_again_with_their_password(app, admin, two_orgs):
    partner = two_orgs["partner_a"]
    admin.post(f"/admin/users/{partner.id}/deactivate")
    assert "Reactivate a@davss.example" in admin.get(f"/admin/users/{partner.id}").text

    response = admin.post(f"/admin/users/{partner.id}/reactivate")

    assert response.status_code == 303
    assert fresh(partner).active
    assert signed_in(app, partner.email).get("/partner/").status_code == 200
    [event] = events("user.reactivated")
    assert event.details == {"changes": {"active": [False, True]}}
    assert event.actor_id == two_orgs["admin"].id


def test_reactivating_an_active_account_changes_nothing(admin, two_orgs):
    response = admin.post(f"/admin/users/{two_orgs['partner_a'].id}/reactivate")
    assert response.status_code == 303
    assert "is not deactivated: nothing was changed" in admin.get(response.headers["Location"]).text
    assert events("user.reactivated") == []


def test_an_administrator_cannot_deactivate_themselves_and_is_told_so(admin, two_orgs):
    me = two_orgs["admin"]
    page = admin.get(f"/admin/users/{me.id}").text
    assert "You cannot deactivate it or remove your own administrator role" in page
    assert f"/admin/users/{me.id}/deactivate" not in page

    for response in (admin.get(f"/admin/users/{me.id}/deactivate"), admin.post(f"/admin/users/{me.id}/deactivate")):
        assert response.status_code == 409
        assert OWN_ACCOUNT in response.text
    assert fresh(me).active
    assert events("user.deactivated") == []
    assert admin.get("/admin/").status_code == 200  # still signed in


def test_a_deactivated_account_is_not_deactivated_again(admin, two_orgs):
    partner = two_orgs["partner_a"]
    admin.post(f"/admin/users/{partner.id}/deactivate")
    again = admin.post(f"/admin/users/{partner.id}/deactivate")
    assert again.status_code == 409
    assert "already deactivated" in again.text
    assert len(events("user.deactivated")) == 1


def test_the_command_line_uses_the_same_rules(runner, two_orgs):
    email = two_orgs["partner_a"].email
    assert runner.invoke(args=["user", "deactivate", email]).exit_code == 0
    again = runner.invoke(args=["user", "deactivate", email])
    assert again.exit_code == 1 and "already deactivated" in again.output
    assert runner.invoke(args=["user", "reactivate", email]).exit_code == 0
    assert fresh(two_orgs["partner_a"]).active
    assert [event.actor_id for event in events("user.deactivated") + events("user.reactivated")] == [None, None]


# -- roles and organisation -----------------------------------------------------------------------


def test_changing_roles_shows_the_change_first_then_makes_it(admin, two_orgs):
    partner = two_orgs["partner_a"]
    form = admin.get(f"/admin/users/{partner.id}/roles").text
    assert 'value="partner" checked' in form

    check = admin.post(f"/admin/users/{partner.id}/roles", data={"roles": ["csu"], "organisation": ""})

    assert check.status_code == 200
    assert "Check the change before you make it" in check.text
    assert "from Partner to Community Safety Unit" in check.text
    assert "from DAVSS to blank" in check.text
    assert fresh(partner).roles == {"partner"}  # nothing changed yet
    assert events("user.roles_changed") == []

    response = admin.post(
        f"/admin/users/{partner.id}/roles", data={"roles": ["csu"], "organisation": "", "confirmed": "yes"}
    )

    assert response.status_code == 302
    partner = fresh(partner)
    assert (partner.roles, partner.organisation_id) == ({"csu"}, None)
    [event] = events("user.roles_changed")
    assert event.details == {"changes": {"roles": [["partner"], ["csu"]], "organisation": ["DAVSS", None]}}
    assert event.actor_id == two_orgs["admin"].id


def test_a_partner_moved_to_another_organisation_sees_only_its_projects(app, admin, two_orgs):
    partner, kenward = two_orgs["partner_a"], two_orgs["kenward"]
    data = {"roles": ["partner"], "organisation": str(kenward.id), "confirmed": "yes"}
    assert admin.post(f"/admin/users/{partner.id}/roles", data=data).status_code == 302

    client = signed_in(app, partner.email)
    assert client.get(f"/partner/projects/{two_orgs['kenward_project'].id}").status_code == 200
    assert client.get(f"/partner/projects/{two_orgs['davss_project'].id}").status_code == 404
    [event] = events("user.roles_changed")
    assert event.details == {"changes": {"organisation": ["DAVSS", "Kenward"]}}


@pytest.mark.parametrize("confirmed", ["", "yes"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"organisation": ""}, "Select at least one role"),
        ({"roles": ["partner"], "organisation": ""}, "Select the partner&#39;s organisation"),
        ({"roles": ["csu"], "organisation": "DAVSS_ID"}, "Only partners belong to an organisation"),
        ({"roles": ["partner"], "organisation": "999999"}, "Select an organisation from the list"),
        ({"roles": ["superuser"], "organisation": ""}, "Select roles from the list"),
    ],
)
def test_bad_roles_are_refused_and_nothing_changes(admin, two_orgs, data, message, confirmed):
    partner = two_orgs["partner_a"]
    data = {**data, "confirmed": confirmed}
    if data["organisation"] == "DAVSS_ID":
        data["organisation"] = str(two_orgs["davss"].id)
    response = admin.post(f"/admin/users/{partner.id}/roles", data=data)

    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert message in response.text
    assert (fresh(partner).roles, fresh(partner).organisation_id) == ({"partner"}, two_orgs["davss"].id)
    assert events("user.roles_changed") == []


def test_a_partner_cannot_be_moved_into_a_retired_organisation(admin, two_orgs):
    admin.post(f"/admin/organisations/{two_orgs['kenward'].id}/retire")
    partner = two_orgs["partner_a"]
    data = {"roles": ["partner"], "organisation": str(two_orgs["kenward"].id), "confirmed": "yes"}
    response = admin.post(f"/admin/users/{partner.id}/roles", data=data)
    assert response.status_code == 422
    assert fresh(partner).organisation_id == two_orgs["davss"].id


@pytest.mark.parametrize("confirmed", ["", "yes"])
def test_an_administrator_cannot_remove_their_own_administrator_role(admin, two_orgs, confirmed):
    me = two_orgs["admin"]
    assert "you cannot remove your own administrator role" in admin.get(f"/admin/users/{me.id}/roles").text

    response = admin.post(f"/admin/users/{me.id}/roles", data={"roles": ["csu"], "confirmed": confirmed})

    assert response.status_code == 422
    assert OWN_ADMIN_ROLE in response.text
    assert fresh(me).roles == {"admin"}
    assert events("user.roles_changed") == []


def test_an_administrator_may_add_a_role_to_themselves_and_remove_another_administrators(admin, two_orgs, make_user):
    me = two_orgs["admin"]
    response = admin.post(f"/admin/users/{me.id}/roles", data={"roles": ["admin", "csu"], "confirmed": "yes"})
    assert response.status_code == 302
    assert fresh(me).roles == {"admin", "csu"}

    other = make_user("second.admin@council.example", ("admin",))
    response = admin.post(f"/admin/users/{other.id}/roles", data={"roles": ["finance"], "confirmed": "yes"})
    assert response.status_code == 302
    assert fresh(other).roles == {"finance"}
    assert len(events("user.roles_changed")) == 2


def test_unchanged_roles_change_nothing(admin, two_orgs):
    partner = two_orgs["partner_a"]
    data = {"roles": ["partner"], "organisation": str(two_orgs["davss"].id)}
    response = admin.post(f"/admin/users/{partner.id}/roles", data=data)
    assert response.status_code == 302
    assert "Nothing was changed" in admin.get(response.headers["Location"]).text
    assert events("user.roles_changed") == []


def test_a_user_that_does_not_exist_is_404(admin):
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999/deactivate").status_code == 404


def test_the_account_page_shows_roles_organisation_and_last_sign_in(app, admin, two_orgs):
    partner = two_orgs["partner_a"]
    assert "Never" in admin.get(f"/admin/users/{partner.id}").text
    signed_in(app, partner.email)

    page = admin.get(f"/admin/users/{partner.id}").text

    assert uk_datetime(fresh(partner).last_sign_in_at) in page
    assert "Domestic Abuse Volunteer Support Services" in page and "Partner" in page
    assert f"/audit/?object_type=user&amp;object_id={partner.id}" in page
    assert f"/admin/users/{partner.id}/deactivate" in page
