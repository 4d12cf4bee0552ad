"""The security log (finding S13): sign-ins, limits, denials, CSRF failures, privilege changes and sign-out
each leave one JSON line with the request's context, and never the e-mail typed, a password or a narrative."""

from __future__ import annotations

import json
import logging

import pytest
from flask_login import login_user

from portal.extensions import db
from portal.models import User
from portal.services import users as user_service
from tests.conftest import TEST_PASSWORD

WRONG = "a wrong password 4711"
NARRATIVE = "Met the client at her refuge on Elm Road"


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.WARNING, logger="portal.security")

    def lines() -> list[dict]:
        return [json.loads(record.getMessage()) for record in caplog.records if record.name == "portal.security"]

    return lines


def events(lines: list[dict]) -> list[str]:
    return [line["event"] for line in lines]


def assert_nothing_typed(caplog, *typed: str) -> None:
    for text in ("a@davss.example", "nobody@example.org", TEST_PASSWORD, WRONG, NARRATIVE, *typed):
        assert text not in caplog.text


def test_sign_in_success_and_failures_are_logged_without_the_email_or_password(client, two_orgs, security_log, caplog):
    partner = two_orgs["partner_a"]
    client.post("/sign-in", data={"email": "nobody@example.org", "password": WRONG})
    client.post("/sign-in", data={"email": "A@davss.example", "password": WRONG})
    client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD})
    failed_unknown, failed_known, succeeded = security_log()
    assert (failed_unknown["event"], failed_unknown["reason"], failed_unknown["user_id"]) == (
        "sign_in.failed",
        "unknown_account",
        None,
    )
    assert (failed_known["event"], failed_known["reason"], failed_known["user_id"]) == (
        "sign_in.failed",
        "wrong_password",
        partner.id,
    )
    assert (succeeded["event"], succeeded["user_id"]) == ("sign_in.succeeded", partner.id)
    for line in (failed_unknown, failed_known, succeeded):
        assert line["client"] == "127.0.0.1" and line["path"] == "/sign-in" and len(line["request_id"]) == 16
    assert_nothing_typed(caplog, "A@davss.example")


def test_a_deactivated_account_is_logged_as_such(client, make_user, security_log):
    user = make_user("gone@example.org", active=False)
    client.post("/sign-in", data={"email": "gone@example.org", "password": TEST_PASSWORD})
    (line,) = security_log()
    assert (line["event"], line["reason"], line["user_id"]) == ("sign_in.failed", "deactivated", user.id)


@pytest.mark.parametrize("app_config", [{"SIGN_IN_MAX_FAILURES": 2, "SIGN_IN_MAX_PER_CLIENT": 3}])
def test_throttled_sign_ins_name_the_limit(app, two_orgs, security_log, caplog):
    client = app.test_client()
    for _ in range(3):
        client.post("/sign-in", data={"email": "a@davss.example", "password": WRONG})
    assert events(security_log())[-1] == "sign_in.throttled"
    assert security_log()[-1]["reason"] == "account"
    client.post("/sign-in", data={"email": "b@kenward.example", "password": WRONG})
    client.post("/sign-in", data={"email": "b@kenward.example", "password": WRONG})
    assert (security_log()[-1]["event"], security_log()[-1]["reason"]) == ("sign_in.throttled", "client")
    assert_nothing_typed(caplog, "b@kenward.example")


def test_sign_out_is_logged(client, two_orgs, login, security_log):
    login(client, two_orgs["partner_a"])
    client.post("/sign-out")
    (line,) = security_log()
    assert (line["event"], line["user_id"]) == ("sign_out", two_orgs["partner_a"].id)


def test_denials_are_logged_with_the_status_the_person_got(app, two_orgs, login, security_log):
    partner, csu, finance = app.test_client(), app.test_client(), app.test_client()
    login(partner, two_orgs["partner_a"])
    login(csu, two_orgs["csu"])
    login(finance, two_orgs["finance"])
    kenward = two_orgs["kenward_project"]

    assert partner.get(f"/partner/projects/{kenward.id}").status_code == 404  # another organisation's
    assert partner.get("/csu/").status_code == 404  # staff pages are not admitted to
    assert csu.get("/partner/").status_code == 403
    due_dates = {"quarter": "1", "arrangement": "extend", "reason": NARRATIVE}
    assert finance.post(f"/csu/projects/{kenward.id}/due-dates", data=due_dates).status_code == 403

    other_org, staff_page, partner_page, not_permitted = security_log()
    assert other_org["event"] == "access.denied" and other_org["reason"] == "other_organisation"
    assert (other_org["status"], other_org["user_id"]) == (404, two_orgs["partner_a"].id)
    assert (staff_page["reason"], staff_page["status"], staff_page["endpoint"]) == ("role", 404, "csu.home")
    assert (partner_page["reason"], partner_page["status"]) == ("role", 403)
    assert partner_page["user_id"] == two_orgs["csu"].id
    assert (not_permitted["reason"], not_permitted["status"]) == ("can_arrange_returns", 403)
    assert NARRATIVE not in json.dumps(security_log())


def test_a_tampered_form_naming_another_projects_measure_is_logged(app, two_orgs, login, security_log):
    partner = app.test_client()
    login(partner, two_orgs["partner_a"])
    own, foreign = two_orgs["davss_project"].measures[0], two_orgs["kenward_project"].measures[0]
    data = {"version": "0", f"m{own.id}": "3", f"m{foreign.id}": "5", "save_later": "Save and come back later"}
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/outputs"
    assert partner.post(path, data=data).status_code == 404
    (line,) = security_log()
    assert (line["event"], line["reason"], line["status"]) == ("access.denied", "tampered_form", 404)
    assert (line["user_id"], line["endpoint"]) == (two_orgs["partner_a"].id, "partner.return_outputs")


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_csrf_failure_is_logged_with_the_user_and_without_the_form(app, two_orgs, login, security_log, caplog):
    partner = app.test_client()
    login(partner, two_orgs["partner_a"])
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    partner.post(path, data={"version": "0", "progress": NARRATIVE}, headers={"Sec-Fetch-Site": "same-origin"})
    line = security_log()[0]
    assert line["event"] == "csrf.failed"
    assert line["reason"] == "The CSRF token is missing."
    assert line["endpoint"] == "partner.return_narrative"
    assert_nothing_typed(caplog)


def test_privilege_changes_are_logged_with_who_did_it_to_whom(app, two_orgs, security_log, caplog):
    admin, target = two_orgs["admin"], db.session.get(User, two_orgs["csu"].id)
    with app.test_request_context("/admin/users", method="POST"):
        login_user(admin)
        user_service.change_roles(target, roles=["csu", "finance"], organisation=None, actor=admin)
        user_service.deactivate(target, actor=admin)
        user_service.reactivate(target, actor=admin)
        created = user_service.create_user(
            "new@council.example", roles=["finance"], password="a long enough password 42", actor=admin
        )
    roles, deactivated, reactivated, made = security_log()
    assert roles["event"] == "user.roles_changed"
    assert (roles["roles_before"], roles["roles_after"]) == (["csu"], ["csu", "finance"])
    assert (deactivated["event"], reactivated["event"], made["event"]) == (
        "user.deactivated",
        "user.reactivated",
        "user.created",
    )
    assert made["target_user_id"] == created.id and made["roles_after"] == ["finance"]
    for line in (roles, deactivated, reactivated, made):
        assert line["user_id"] == admin.id
    assert all(line["target_user_id"] == target.id for line in (roles, deactivated, reactivated))
    assert_nothing_typed(caplog, "csu@council.example", "new@council.example", "a long enough password 42")


def test_a_refused_form_is_logged_without_what_was_typed(app, two_orgs, login, security_log, caplog):
    partner = app.test_client()
    login(partner, two_orgs["partner_a"])
    project = two_orgs["davss_project"]
    typed = {"version": "0", f"m{project.measures[0].id}": "-12345", "save_later": "Save and come back later"}
    response = partner.post(f"/partner/projects/{project.id}/q1/outputs", data=typed)
    assert response.status_code == 422
    (line,) = security_log()
    assert (line["event"], line["status"], line["endpoint"]) == ("input.refused", 422, "partner.return_outputs")
    assert line["user_id"] == two_orgs["partner_a"].id
    assert "12345" not in caplog.text  # what was typed stays out of the log


def test_a_failed_sign_in_is_logged_once_not_also_as_refused_input(client, two_orgs, security_log):
    assert client.post("/sign-in", data={"email": "a@davss.example", "password": WRONG}).status_code == 422
    assert events(security_log()) == ["sign_in.failed"]
