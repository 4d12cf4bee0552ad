"""Invitations end to end: the admin's form, the mail through a real SMTP server (aiosmtpd), the one-time link,
and the pages a dead link gets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Invitation, MonitoringReturn, OutboxMessage, User
from portal.models.types import utcnow
from portal.services.passwords import verify_password
from tests.conftest import mail_config

PASSWORD = "a long and unusual pass phrase"
LINK = re.compile(r"https://portal\.example/invitations/[A-Za-z0-9_-]+")


@pytest.fixture
def app_config(smtp_server):
    return mail_config(smtp_server.port)


@pytest.fixture
def admin_client(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["admin"])
    return client


def invite(client, email="new.person@davss.example", roles=("partner",), organisation=None, org_id=None):
    data = {"email": email, "roles": list(roles), "organisation": str(org_id) if org_id else ""}
    return client.post("/admin/invitations/new", data=data)


def deliver(runner) -> None:
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output


def link_path(link: str) -> str:
    return link.removeprefix("https://portal.example")


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Invitation)),
        db.session.scalar(select(func.count()).select_from(OutboxMessage)),
        db.session.scalar(select(func.count()).select_from(User)),
    )


def invited_link(admin_client, runner, smtp_server, two_orgs, email="new.person@davss.example") -> str:
    assert invite(admin_client, email, org_id=two_orgs["davss"].id).status_code == 302
    deliver(runner)
    return LINK.search(smtp_server.messages[-1].get_body(("plain",)).get_content()).group(0)


# -- the journey ----------------------------------------------------------------------------------


def test_an_invited_partner_gets_the_mail_sets_a_password_and_is_signed_in(
    app, admin_client, runner, smtp_server, two_orgs
):
    # A return with narrative text exists: none of it may reach any mail.
    db.session.add(
        MonitoringReturn(project=two_orgs["davss_project"], quarter=1, progress="Narrative that stays in the portal")
    )
    db.session.commit()
    response = invite(admin_client, "New.Person@DAVSS.example ", org_id=two_orgs["davss"].id)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/invitations"
    listing = admin_client.get("/admin/invitations").text
    assert "Invited new.person@davss.example" in listing
    assert "new.person@davss.example" in listing and ">Waiting</strong>" in listing

    deliver(runner)
    [received] = smtp_server.messages
    assert received["To"] == "new.person@davss.example"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    link = LINK.search(text).group(0)
    assert f'href="{link}"' in html  # the same absolute link in both parts
    for part in (text, html):
        assert "Partner" in part
        assert "Domestic Abuse Volunteer Support Services" in part
        assert "Narrative that stays in the portal" not in part
    invitation = db.session.scalar(select(Invitation))
    token = link.rsplit("/", 1)[1]
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64  # only the hash is stored

    person = app.test_client()
    page = person.get(link_path(link))
    assert page.status_code == 200
    assert "Set up your account" in page.text
    assert "new.person@davss.example" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    response = person.post(link_path(link), data={"name": "New Person", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/partner/"
    home = person.get("/partner/")
    assert home.status_code == 200
    assert "Support for Medium" in home.text  # their organisation's project
    assert "Your account is set up" in home.text

    user = db.session.scalar(select(User).where(User.email == "new.person@davss.example"))
    assert user.name == "New Person"
    assert user.roles == {"partner"}
    assert user.organisation_id == two_orgs["davss"].id
    assert verify_password(user.password_hash, PASSWORD)
    db.session.refresh(invitation)
    assert invitation.accepted_at is not None and invitation.user_id == user.id
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"invitation.created", "invitation.accepted", "user.created", "mail.sent"} <= actions

    # The link worked once.
    again = app.test_client().get(link_path(link))
    assert again.status_code == 410
    assert "This invitation has already been used" in again.text
    assert "new.person" not in again.text
    assert "No invitations are waiting." in admin_client.get("/admin/invitations").text


def test_a_staff_member_can_be_invited_with_several_roles(app, admin_client, runner, smtp_server, two_orgs):
    assert invite(admin_client, "manager@council.example", roles=("csu", "admin")).status_code == 302
    deliver(runner)
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "Your roles: Community Safety Unit, Administrator" in text
    assert "Organisation" not in text
    link = LINK.search(text).group(0)
    person = app.test_client()
    response = person.post(link_path(link), data={"name": "A Manager", "password": PASSWORD})
    assert response.headers["Location"] == "/csu/"
    assert db.session.scalar(select(User).where(User.email == "manager@council.example")).roles == {"csu", "admin"}


# -- links that no longer work ------------------------------------------------------------------


def test_an_expired_link_gets_a_clear_page_without_the_address(app, admin_client, runner, smtp_server, two_orgs):
    link = invited_link(admin_client, runner, smtp_server, two_orgs)
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for response in (
        app.test_client().get(link_path(link)),
        app.test_client().post(link_path(link), data={"name": "X", "password": PASSWORD}),
    ):
        assert response.status_code == 410
        assert "This invitation has expired" in response.text
        assert "new.person" not in response.text
    assert counts()[2] == 5  # no account was made
    assert "Expired" in admin_client.get("/admin/invitations").text


def test_the_link_lasts_seven_days(app, admin_client, runner, smtp_server, two_orgs):
    before = utcnow()
    invited_link(admin_client, runner, smtp_server, two_orgs)
    invitation = db.session.scalar(select(Invitation))
    assert timedelta(days=7) <= invitation.expires_at - before < timedelta(days=7, minutes=1)


def test_a_withdrawn_invitation_is_refused(app, admin_client, runner, smtp_server, two_orgs):
    link = invited_link(admin_client, runner, smtp_server, two_orgs)
    invitation = db.session.scalar(select(Invitation))
    confirm = admin_client.get(f"/admin/invitations/{invitation.id}/revoke")
    assert confirm.status_code == 200
    assert "Withdraw the invitation to new.person@davss.example?" in confirm.text
    response = admin_client.post(f"/admin/invitations/{invitation.id}/revoke")
    assert response.status_code == 302
    refused = app.test_client().get(link_path(link))
    assert refused.status_code == 410
    assert "This invitation has been withdrawn" in refused.text
    assert "new.person" not in refused.text
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitation.revoked")).actor_id == (
        two_orgs["admin"].id
    )
    assert admin_client.post(f"/admin/invitations/{invitation.id}/revoke").status_code == 409


def test_sending_again_makes_a_new_link_and_kills_the_old_one(app, admin_client, runner, smtp_server, two_orgs):
    old = invited_link(admin_client, runner, smtp_server, two_orgs)
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(days=1)  # expired ones can be sent again too
    db.session.commit()
    assert admin_client.post(f"/admin/invitations/{invitation.id}/resend").status_code == 302
    deliver(runner)
    new = LINK.search(smtp_server.messages[-1].get_body(("plain",)).get_content()).group(0)
    assert new != old
    gone = app.test_client().get(link_path(old))
    assert gone.status_code == 404
    assert "This link does not work" in gone.text
    assert "new.person" not in gone.text
    assert app.test_client().get(link_path(new)).status_code == 200
    assert "invitation.resent" in set(db.session.scalars(select(AuditEvent.action)))


@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 500])
def test_a_made_up_link_is_404_and_says_nothing(client, token):
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 404
    assert "This link does not work" in response.text


def test_an_account_made_meanwhile_uses_up_the_link(app, admin_client, runner, smtp_server, two_orgs, make_user):
    link = invited_link(admin_client, runner, smtp_server, two_orgs)
    make_user("new.person@davss.example", ("partner",), two_orgs["davss"])
    response = app.test_client().post(link_path(link), data={"name": "X", "password": PASSWORD})
    assert response.status_code == 410
    assert "already been used" in response.text


# -- what the person types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "password": PASSWORD}, "name", "Enter your full name"),
        ({"name": "A Person", "password": ""}, "password", "Enter a password"),
        ({"name": "A Person", "password": "short"}, "password", "Password must be 12 characters or more"),
    ],
)
def test_bad_input_on_the_link_page_is_422_and_keeps_the_link_alive(
    app, admin_client, runner, smtp_server, two_orgs, data, field, message
):
    link = invited_link(admin_client, runner, smtp_server, two_orgs)
    person = app.test_client()
    response = person.post(link_path(link), data=data)
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert f'href="#{field}"' in response.text
    assert message in response.text
    if data["name"]:
        assert 'value="A Person"' in response.text
    if data["password"]:
        assert f'value="{data["password"]}"' not in response.text  # a password is never sent back
    assert counts()[2] == 5
    assert person.post(link_path(link), data={"name": "A Person", "password": PASSWORD}).status_code == 302


# -- the admin's form -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "roles", "org", "field", "message"),
    [
        ("", ("partner",), "davss", "email", "Enter the email address of the person to invite"),
        ("not an address", ("csu",), None, "email", "Enter an email address in the correct format"),
        ("x@example.org", (), None, "roles", "Select at least one role"),
        ("x@example.org", ("partner",), None, "organisation", "Select the partner&#39;s organisation"),
        ("x@example.org", ("csu",), "davss", "organisation", "Only partners belong to an organisation"),
        ("a@davss.example", ("partner",), "davss", "email", "There is already an account for a@davss.example"),
    ],
)
def test_the_invitation_form_refuses_bad_input_and_saves_nothing(
    admin_client, smtp_server, two_orgs, email, roles, org, field, message
):
    before = counts()
    response = invite(admin_client, email, roles=roles, org_id=two_orgs[org].id if org else None)
    assert response.status_code == 422
    assert "Error: Invite someone" in response.text
    assert f'href="#{field}"' in response.text
    assert message in response.text
    if email:
        assert f'value="{email}"' in response.text  # what was typed stays
    assert counts() == before


def test_inviting_an_address_already_invited_says_to_send_it_again(admin_client, runner, smtp_server, two_orgs):
    invited_link(admin_client, runner, smtp_server, two_orgs)
    response = invite(admin_client, "new.person@davss.example", org_id=two_orgs["davss"].id)
    assert response.status_code == 422
    assert "has already been invited" in response.text
    assert counts()[0] == 1


def test_an_accepted_invitation_cannot_be_sent_again(app, admin_client, runner, smtp_server, two_orgs):
    link = invited_link(admin_client, runner, smtp_server, two_orgs)
    app.test_client().post(link_path(link), data={"name": "A Person", "password": PASSWORD})
    invitation = db.session.scalar(select(Invitation))
    response = admin_client.post(f"/admin/invitations/{invitation.id}/resend")
    assert response.status_code == 409
    assert "accepted or withdrawn" in response.text
    assert len(smtp_server.messages) == 1


def test_an_unknown_invitation_is_404_for_the_admin(admin_client):
    assert admin_client.post("/admin/invitations/999999/resend").status_code == 404
    assert admin_client.get("/admin/invitations/999999/revoke").status_code == 404
