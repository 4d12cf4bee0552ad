"""A NUL character in anything sent never reaches the database: a form that checks the field says so beside it
(422), and anything else is refused with a 400 page by the one check every value passes (portal/database.py).

PostgreSQL text cannot hold NUL: a NUL in the sign-in e-mail (no sign-in needed) was a 500 there, and SQLite quietly
stored it. The check covers every form and query, including fields added later."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import MonitoringReturn
from tests.conftest import TEST_PASSWORD, csrf_token_from

NUL_MESSAGE = "contains a null character"
# Field names every form of the portal uses, each with a NUL in it: whichever the endpoint reads, it is refused.
TAINTED = {
    "email": "a\x00@davss.example",
    "password": TEST_PASSWORD + "\x00",
    "version": "1\x00",
    "progress": "Half\x00written",
    "amount": "100\x00.00",
    "reason": "Because\x00",
    "comment": "Fix\x00this",
    "name": "Name\x00",
    "label": "2030-31\x00",
}


@pytest.fixture
def staff(make_user):
    return make_user("all.staff@council.example", ("csu", "finance", "admin"))


def concrete_path(rule, two_orgs) -> str:
    """The rule's address, with real ids and labels from the fixtures."""
    values = {
        "project_id": two_orgs["davss_project"].id,
        "quarter": 1,
        "year_label": "2021-22",
        "fmt": "csv",
    }
    path = rule.rule
    for argument in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(values.get(argument, 1)), path)
    return path


def post_rules(app) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set()) and rule.endpoint != "static"),
        key=lambda rule: rule.rule,
    )


class StatementLog:
    """Every parameter the database was given while it is open."""

    def __init__(self):
        self.parameters: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.parameters.append(repr(parameters))

    def __enter__(self):
        sa.event.listen(db.engine, "after_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "after_cursor_execute", self)

    @property
    def saw_nul(self) -> bool:
        return any("\\x00" in text or "\x00" in text for text in self.parameters)


def test_no_post_form_lets_a_nul_reach_the_database(app, two_orgs, staff, login):
    rules = post_rules(app)
    assert len(rules) >= 20  # every form: sign-in, account, returns, review, ledger, set-up, admin
    outcomes: dict[int, int] = {}
    for rule in rules:
        path = concrete_path(rule, two_orgs)
        audience = two_orgs["partner_a"] if rule.endpoint.startswith("partner.") else staff
        for signed_in in (True, False):
            client = app.test_client()
            if signed_in:
                login(client, audience)
            with StatementLog() as log:
                response = client.post(path, data=TAINTED)
            assert response.status_code < 500, (path, signed_in, response.status_code)
            assert "Traceback" not in response.text
            assert not log.saw_nul, path
            if response.status_code == 400:
                assert NUL_MESSAGE in response.text, path
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
    assert outcomes.get(400, 0) > 0 and outcomes.get(422, 0) > 0  # refused by the check, and by forms' own checks


def test_a_nul_in_a_narrative_gets_the_fields_own_message_and_keeps_the_text(app, client, two_orgs, login):
    login(client, two_orgs["partner_a"])
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    response = client.post(path, data={"version": "0", "progress": "Half\x00written", "save_later": "Save"})
    assert response.status_code == 422 and "must not contain control characters" in response.text
    assert db.session.scalar(select(func.count()).select_from(MonitoringReturn)) == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_nul_in_the_sign_in_email_is_a_400_page_not_a_500(app, client, two_orgs):
    token = csrf_token_from(client.get("/sign-in").text)
    with StatementLog() as log:
        response = client.post("/sign-in", data={"csrf_token": token, "email": "a\x00@davss.example", "password": "x"})
    assert response.status_code == 400
    assert NUL_MESSAGE in response.text and "Traceback" not in response.text
    assert not log.saw_nul


@pytest.mark.parametrize(
    "path",
    [
        "/sign-in?next=/partner/%00",
        "/csu/?sort=name%00",
        "/csu/2021-22/?order=%00",
        "/finance/2021-22%00/",
        "/setup/2021-22%00/",
    ],
)
def test_a_nul_in_the_address_never_reaches_the_database(app, client, staff, login, path):
    login(client, staff)
    with StatementLog() as log:
        response = client.get(path)
    assert response.status_code < 500
    assert not log.saw_nul
    if response.status_code == 400:
        assert NUL_MESSAGE in response.text


def test_the_check_refuses_a_nul_from_any_code_path(app, two_orgs):
    from portal.database import NulCharacterError
    from portal.models import Organisation

    db.session.add(Organisation(short_name="NUL", name="Bad\x00name"))
    with pytest.raises(NulCharacterError):
        db.session.commit()
    db.session.rollback()
    assert (
        db.session.scalar(select(func.count()).select_from(Organisation).where(Organisation.short_name == "NUL")) == 0
    )


def test_other_control_characters_still_reach_the_forms_own_checks(app, client, two_orgs, login):
    """Only NUL is refused wholesale: a tab or a line break in a narrative is ordinary text."""
    login(client, two_orgs["partner_a"])
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    response = client.post(
        path, data={"version": "0", "progress": "Line one\r\nLine two\twith a tab", "save_later": "Save"}
    )
    assert response.status_code == 302
    saved = db.session.scalars(select(MonitoringReturn)).one()
    assert saved.progress.replace("\r\n", "\n") == "Line one\nLine two\twith a tab"
