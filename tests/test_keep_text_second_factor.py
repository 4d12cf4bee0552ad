"""The "Sign in again to save your answers" page asks for the authenticator code of someone who has one.

Before, it took a password alone, which is not a sign-in for someone with a second factor: the save could not go
ahead. Now, after a right password, the same page asks for the code (or a recovery code), keeps every typed answer
through a wrong code, and then saves.
"""

from __future__ import annotations

import html
import json
import logging
import re

import pyotp
import pytest
from sqlalchemy import func, select

from portal.config import Config
from portal.extensions import db
from portal.models import MonitoringReturn, SignInFailure, User
from portal.services import mfa
from tests.conftest import TEST_PASSWORD
from tests.test_reauth import enable_authenticator
from tests.test_returns_safety import form_fields, the_return, url

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
LATER = {"save_later": "Save and come back later"}
TYPED = {
    "progress": 'An hour of careful writing, with <angle brackets> & "quotes".\nAnd a second line.',
    "case_study": "A second long answer.",
    "challenges": "",
    "partner_rag": "amber",
    "partner_rag_reason": "Behind on referrals.",
}


@pytest.fixture
def app_config():
    return {"MFA_REQUIRED_ROLES": Config.MFA_REQUIRED_ROLES}


def session_ended(app, login, user: User):
    """A browser that was signed in, whose session has since ended."""
    client = app.test_client()
    login(client, user)
    user = db.session.get(User, user.id)
    user.end_all_sessions()
    db.session.commit()
    return client


def wrong(totp: pyotp.TOTP) -> str:
    return f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'<p id="{field}-error" class="govuk-error-message">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("Error:", "").strip()


def answers(fields: dict[str, str]) -> dict[str, str]:
    return {key: html.unescape(fields[key]) for key in TYPED}


def test_a_partner_with_an_app_gives_the_code_on_the_same_page_and_the_answers_are_saved(app, two_orgs, login):
    partner, project = two_orgs["partner_a"], two_orgs["davss_project"]
    totp, _ = enable_authenticator(partner)
    client = session_ended(app, login, partner)
    path = url(project, 1, "narrative")

    page = client.post(path, data={"version": "0", **TYPED, **LATER}, headers=SAME_ORIGIN)
    assert page.status_code == 401 and "Sign in again to save your answers" in page.text
    fields = form_fields(page.text, path)

    # The right password: not signed in yet, the page now asks for the code, the answers still there.
    page = client.post(path, data={**fields, "email": partner.email, "password": TEST_PASSWORD}, headers=SAME_ORIGIN)
    assert page.status_code == 401
    assert "Enter the code from your authenticator app" in page.text and 'id="code"' in page.text
    assert 'name="password"' not in page.text
    fields = form_fields(page.text, path)
    assert fields["reauth"] == "code" and answers(fields) == TYPED
    assert the_return(project) is None
    assert client.get("/partner/").status_code == 302, "a password alone does not sign in"

    # A wrong code: the error beside the field, every answer (and a change made meanwhile) kept, nothing saved.
    fields["progress"] = "Changed while waiting for the code."
    page = client.post(path, data={**fields, "code": wrong(totp)}, headers=SAME_ORIGIN)
    assert page.status_code == 422
    assert "<title>Error: Sign in again to save your answers" in page.text
    assert error_beside(page.text, "code").startswith("The code is not correct")
    assert '<a href="#code">' in page.text  # and in the error summary
    kept = form_fields(page.text, path)
    assert answers(kept) == {**TYPED, "progress": "Changed while waiting for the code."}
    assert wrong(totp) not in page.text
    assert the_return(project) is None

    # The right code: signed in, and the answers saved.
    response = client.post(path, data={**kept, "code": totp.now()}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    saved = the_return(project)
    assert saved.progress == "Changed while waiting for the code." and saved.case_study == TYPED["case_study"]
    assert saved.updated_by_id == partner.id
    assert client.get("/partner/").status_code == 200


def test_a_partners_outputs_are_saved_after_a_recovery_code(app, two_orgs, login):
    partner, project = two_orgs["partner_a"], two_orgs["davss_project"]
    _, codes = enable_authenticator(partner)
    client = session_ended(app, login, partner)
    path = url(project, 1, "outputs")
    measure = f"m{project.measures[0].id}"
    page = client.post(path, data={"version": "0", measure: "64", **LATER}, headers=SAME_ORIGIN)
    fields = form_fields(page.text, path)
    page = client.post(path, data={**fields, "email": partner.email, "password": TEST_PASSWORD}, headers=SAME_ORIGIN)
    fields = form_fields(page.text, path)
    assert fields[measure] == "64"
    response = client.post(path, data={**fields, "code": codes[0]}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    assert the_return(project).value_of(project.measures[0].id) == 64
    assert mfa.recovery_codes_left(db.session.get(User, partner.id)) == 9


def test_a_csu_officers_comment_is_sent_after_the_code(app, two_orgs, login, caplog):
    caplog.set_level(logging.INFO, logger="portal.security")
    csu, project = two_orgs["csu"], two_orgs["davss_project"]
    mreturn = MonitoringReturn(project=project, quarter=1, status="submitted", spend_pence=100)
    db.session.add(mreturn)
    db.session.commit()
    totp, _ = enable_authenticator(csu)
    client = session_ended(app, login, csu)
    path = f"/csu/returns/{mreturn.id}/request-changes"
    comment = "Please check the referral figures: they look higher than the case list.\nThanks."
    page = client.post(path, data={"version": str(mreturn.version), "comment": comment}, headers=SAME_ORIGIN)
    fields = form_fields(page.text, path)
    page = client.post(path, data={**fields, "email": csu.email, "password": TEST_PASSWORD}, headers=SAME_ORIGIN)
    fields = form_fields(page.text, path)
    page = client.post(path, data={**fields, "code": wrong(totp)}, headers=SAME_ORIGIN)
    assert page.status_code == 422 and html.unescape(form_fields(page.text, path)["comment"]) == comment
    assert db.session.get(MonitoringReturn, mreturn.id).status == "submitted"
    response = client.post(path, data={**form_fields(page.text, path), "code": totp.now()}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    assert db.session.get(MonitoringReturn, mreturn.id).status != "submitted"
    events = [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "portal.security"]
    assert "mfa.code_rejected" in events and "mfa.code_accepted" in events


def test_wrong_codes_here_count_toward_the_throttle(app, two_orgs, login):
    partner, project = two_orgs["partner_a"], two_orgs["davss_project"]
    totp, _ = enable_authenticator(partner)
    client = session_ended(app, login, partner)
    path = url(project, 1, "narrative")
    page = client.post(path, data={"version": "0", **TYPED, **LATER}, headers=SAME_ORIGIN)
    page = client.post(
        path,
        data={**form_fields(page.text, path), "email": partner.email, "password": TEST_PASSWORD},
        headers=SAME_ORIGIN,
    )
    fields = form_fields(page.text, path)
    for _ in range(app.config["SIGN_IN_MAX_FAILURES"]):
        assert client.post(path, data={**fields, "code": wrong(totp)}, headers=SAME_ORIGIN).status_code == 422
    refused = client.post(path, data={**fields, "code": totp.now()}, headers=SAME_ORIGIN)
    assert refused.status_code == 429 and "too many wrong codes" in error_beside(refused.text, "code")
    assert answers(form_fields(refused.text, path)) == TYPED
    assert the_return(project) is None
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) >= app.config["SIGN_IN_MAX_FAILURES"]


def test_a_code_without_the_password_first_signs_nothing_in(app, two_orgs, login):
    partner, project = two_orgs["partner_a"], two_orgs["davss_project"]
    totp, _ = enable_authenticator(partner)
    client = session_ended(app, login, partner)
    path = url(project, 1, "narrative")
    data = {"version": "0", **TYPED, **LATER, "reauth": "code", "code": totp.now()}
    page = client.post(path, data=data, headers=SAME_ORIGIN)
    assert page.status_code == 401 and "Sign in again" in page.text and 'name="password"' in page.text
    assert answers(form_fields(page.text, path)) == TYPED
    assert the_return(project) is None
    assert client.get("/partner/").status_code == 302


def test_staff_who_must_set_up_an_app_are_told_to_sign_in_elsewhere(app, two_orgs, login):
    """The page cannot set an app up: their answers are kept and they are told what to do."""
    csu, project = two_orgs["csu"], two_orgs["davss_project"]
    mreturn = MonitoringReturn(project=project, quarter=1, status="submitted", spend_pence=100)
    db.session.add(mreturn)
    db.session.commit()
    client = session_ended(app, login, csu)
    path = f"/csu/returns/{mreturn.id}/request-changes"
    page = client.post(path, data={"version": str(mreturn.version), "comment": "Kept"}, headers=SAME_ORIGIN)
    fields = form_fields(page.text, path)
    page = client.post(path, data={**fields, "email": csu.email, "password": TEST_PASSWORD}, headers=SAME_ORIGIN)
    assert page.status_code == 401 and "needs an authenticator app set up first" in page.text
    assert form_fields(page.text, path)["comment"] == "Kept"
    assert db.session.get(MonitoringReturn, mreturn.id).status == "submitted"
