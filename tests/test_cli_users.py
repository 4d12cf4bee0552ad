"""`flask user create` and `flask user set-password`: passwords from standard input, checked against the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.services.passwords import verify_password
from tests.conftest import TEST_PASSWORD

PASSWORD = "a long enough password"
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "portal" / "data" / "common-passwords.txt"


def common_password() -> str:
    """A password of 12 characters or more that is on the bundled deny list."""
    for line in COMMON_PASSWORDS.read_text().splitlines():
        if len(line.strip()) >= 12:
            return line.strip()
    raise AssertionError("no password of 12+ characters in the common-password list")


def create(runner, email: str, *options: str, password: str = PASSWORD):
    return runner.invoke(args=["user", "create", email, *options, "--password-stdin"], input=f"{password}\n")


def set_password(runner, email: str, password: str):
    return runner.invoke(args=["user", "set-password", email, "--password-stdin"], input=f"{password}\n")


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


@pytest.fixture
def davss(make_org):
    return make_org("DAVSS", "Domestic Abuse Volunteer Support Services")


# -- user create ----------------------------------------------------------------------------------


def test_create_partner(runner, davss):
    result = create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS", "--name", "A Person")

    assert result.exit_code == 0, result.output
    assert "Created a.person@davss.example (partner)" in result.stdout
    assert PASSWORD not in result.output
    user = user_by_email("a.person@davss.example")
    assert user.name == "A Person"
    assert user.roles == {"partner"}
    assert user.organisation_id == davss.id
    assert user.active
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert verify_password(user.password_hash, PASSWORD)
    assert not verify_password(user.password_hash, "another long password")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
    assert event.object_id == user.id
    assert event.organisation_id == davss.id


def test_create_normalises_the_email(runner, davss):
    result = create(runner, "  A.Person@DAVSS.example ", "--role", "partner", "--org", "DAVSS")

    assert result.exit_code == 0, result.output
    assert user_by_email("a.person@davss.example") is not None


def test_create_with_several_roles(runner, app):
    result = create(runner, "officer@council.example", "--role", "csu", "--role", "finance", "--name", "An Officer")

    assert result.exit_code == 0, result.output
    assert "Created officer@council.example (csu, finance)" in result.stdout
    user = user_by_email("officer@council.example")
    assert user.roles == {"csu", "finance"}
    assert user.organisation_id is None


def test_unknown_organisation_is_refused(runner, davss):
    result = create(runner, "a.person@nowhere.example", "--role", "partner", "--org", "NOWHERE")

    assert result.exit_code != 0
    assert "no organisation with the short name NOWHERE" in result.stderr
    assert user_count() == 0


def test_partner_without_organisation_is_refused(runner, davss):
    result = create(runner, "a.person@davss.example", "--role", "partner")

    assert result.exit_code != 0
    assert "A partner must belong to an organisation" in result.stderr
    assert user_count() == 0


def test_staff_with_organisation_is_refused(runner, davss):
    result = create(runner, "officer@council.example", "--role", "csu", "--org", "DAVSS")

    assert result.exit_code != 0
    assert "Only partners belong to an organisation" in result.stderr
    assert user_count() == 0


def test_unknown_role_is_refused(runner, app):
    result = create(runner, "officer@council.example", "--role", "superuser")

    assert result.exit_code != 0
    assert "superuser" in result.stderr
    assert user_count() == 0


@pytest.mark.parametrize("password", ["short", "elevenchars", " " * 3])
def test_short_password_is_refused(runner, davss, password):
    result = create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS", password=password)

    assert result.exit_code != 0
    assert "12 characters" in result.stderr
    assert user_count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_empty_password_is_refused(runner, davss):
    result = create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS", password="")

    assert result.exit_code != 0
    assert "no password" in result.stderr
    assert user_count() == 0


def test_common_password_is_refused(runner, davss):
    password = common_password()
    assert len(password) >= 12

    result = create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS", password=password)

    assert result.exit_code != 0
    assert "too common" in result.stderr
    assert user_count() == 0


def test_common_password_in_other_case_is_refused(runner, davss):
    result = create(
        runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS", password=common_password().upper()
    )

    assert result.exit_code != 0
    assert "too common" in result.stderr


def test_duplicate_email_is_refused(runner, davss, make_user):
    existing = make_user("a.person@davss.example", ("partner",), davss)
    hash_before = existing.password_hash

    result = create(runner, "A.Person@davss.example", "--role", "partner", "--org", "DAVSS")

    assert result.exit_code != 0
    assert "already exists" in result.stderr
    assert user_count() == 1
    assert user_by_email("a.person@davss.example").password_hash == hash_before


def test_created_user_signs_in_and_lands_on_their_home(runner, client, davss):
    assert create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS").exit_code == 0

    response = client.post("/sign-in", data={"email": "a.person@davss.example", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/partner/"
    home = client.get("/partner/")
    assert home.status_code == 200
    assert "<title>Your projects" in home.text


def test_created_staff_user_lands_on_their_home(runner, client, app):
    assert create(runner, "finance@council.example", "--role", "finance").exit_code == 0

    response = client.post("/sign-in", data={"email": "finance@council.example", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/finance/"
    assert client.get("/finance/").status_code == 200


def test_wrong_password_does_not_sign_in(runner, client, davss):
    assert create(runner, "a.person@davss.example", "--role", "partner", "--org", "DAVSS").exit_code == 0

    response = client.post("/sign-in", data={"email": "a.person@davss.example", "password": "not the password!"})

    assert response.status_code == 422
    assert client.get("/partner/").status_code == 302


# -- user set-password ----------------------------------------------------------------------------


def test_set_password_changes_the_hash_and_ends_sessions(runner, client, login, make_user, davss):
    user = make_user("a.person@davss.example", ("partner",), davss)
    old_hash, old_token = user.password_hash, user.session_token
    login(client, user)
    assert client.get("/partner/").status_code == 200

    result = set_password(runner, "a.person@davss.example", "a brand new pass phrase")

    assert result.exit_code == 0, result.output
    assert "Password set for a.person@davss.example" in result.stdout
    user = user_by_email("a.person@davss.example")
    assert user.password_hash != old_hash
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "a brand new pass phrase")
    assert user.session_token != old_token
    signed_out = client.get("/partner/")
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/sign-in")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_set"))
    assert event.object_id == user.id


def test_new_password_signs_in_and_old_one_does_not(runner, client, make_user, davss):
    make_user("a.person@davss.example", ("partner",), davss, password="the old pass phrase")
    assert set_password(runner, "a.person@davss.example", "a brand new pass phrase").exit_code == 0

    old = client.post("/sign-in", data={"email": "a.person@davss.example", "password": "the old pass phrase"})
    assert old.status_code == 422
    new = client.post("/sign-in", data={"email": "a.person@davss.example", "password": "a brand new pass phrase"})
    assert new.status_code == 302
    assert new.headers["Location"] == "/partner/"


@pytest.mark.parametrize(("password", "message"), [("too short", "12 characters"), (None, "too common")])
def test_set_password_refuses_a_weak_password(runner, client, login, make_user, davss, password, message):
    user = make_user("a.person@davss.example", ("partner",), davss)
    old_hash, old_token = user.password_hash, user.session_token
    login(client, user)

    result = set_password(runner, "a.person@davss.example", password or common_password())

    assert result.exit_code != 0
    assert message in result.stderr
    user = user_by_email("a.person@davss.example")
    assert (user.password_hash, user.session_token) == (old_hash, old_token)
    assert client.get("/partner/").status_code == 200


def test_set_password_for_unknown_user(runner, app):
    result = set_password(runner, "nobody@example.org", PASSWORD)

    assert result.exit_code != 0
    assert "no user with the e-mail nobody@example.org" in result.stderr


def test_deactivate_stops_sign_in_and_ends_sessions(app, runner, make_org, make_user, login):
    user = make_user("leaver@davss.example", ("partner",), make_org("DAVSS"))
    client = app.test_client()
    login(client, user)
    assert client.get("/partner/").status_code == 200
    result = runner.invoke(args=["user", "deactivate", "Leaver@DAVSS.example"])
    assert result.exit_code == 0 and "Deactivated leaver@davss.example" in result.output
    assert client.get("/partner/").status_code == 302
    response = app.test_client().post("/sign-in", data={"email": "leaver@davss.example", "password": TEST_PASSWORD})
    assert response.status_code == 422
    assert runner.invoke(args=["user", "deactivate", "nobody@example.org"]).exit_code == 1
