"""Nothing lost, nothing leaked: bad values, stale saves, other organisations, races, personal data,
expired sessions and tokens, markup in answers and forged form fields."""

from __future__ import annotations

import html
import io
import logging
import re
import threading
from decimal import Decimal

import docx
import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, OutboxMessage, ReturnRevision, User
from tests.conftest import TEST_PASSWORD, csrf_token_from

SAVE = {"save_continue": "Save and continue"}
LATER = {"save_later": "Save and come back later"}
HTMX = {"HX-Request": "true"}
# What a browser sends with a form posted from one of the portal's own pages (keep-text pages need it).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
NARRATIVE = {
    "progress": "Took 64 referrals and closed 51 cases.",
    "case_study": "A client was helped to move to safe housing.",
    "challenges": "Recruiting volunteers in the rural west.",
    "partner_rag": "green",
    "partner_rag_reason": "On profile.",
}
COUNT_RULE = "Referrals must be a whole number from 0 to 1,000,000, like 12, using the digits 0 to 9 only"
HOURS_RULE = "Volunteer hours must be a number from 0 to 1,000,000, like 12 or 7.5, with up to 2 decimal places"
POUNDS_RULE = "Spend in the quarter must be a number of pounds, like 1000.00"


# -- helpers ------------------------------------------------------------------------------------


def url(project, quarter: int = 1, page: str = "") -> str:
    return f"/partner/projects/{project.id}/q{quarter}/{page}"


def hidden(page: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert tag, f"no {name} field on the page"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def form_fields(page: str, action: str) -> dict[str, str]:
    """Every input and text area of the form posting to action, as a browser would send them."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form, f"no form posting to {action}"
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form.group(1)):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1))
    for name, value in re.findall(r'<textarea [^>]*name="([^"]*)"[^>]*>(.*?)</textarea>', form.group(1), re.S):
        fields[html.unescape(name)] = html.unescape(value)
    return fields


def the_return(project, quarter: int = 1) -> MonitoringReturn | None:
    return db.session.scalar(
        select(MonitoringReturn).where(MonitoringReturn.project_id == project.id, MonitoringReturn.quarter == quarter)
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def snapshot(project, quarter: int = 1):
    """Everything a save or submit could change, to compare before and after."""
    db.session.expire_all()
    mreturn = the_return(project, quarter)
    state = None
    if mreturn is not None:
        state = (
            mreturn.status,
            mreturn.version,
            mreturn.spend_pence,
            mreturn.spend_explanation,
            mreturn.progress,
            mreturn.case_study,
            mreturn.challenges,
            mreturn.partner_rag,
            mreturn.partner_rag_reason,
            mreturn.submitted_by_id,
            sorted((value.measure_id, value.value) for value in mreturn.values),
        )
    changes = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "monitoring_return.conflict")
    )
    return state, count(ReturnRevision), changes


def conflicts() -> list[dict]:
    """The refused saves and decisions the audit trail recorded (RELIABILITY F6), oldest first."""
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "monitoring_return.conflict").order_by(AuditEvent.id)
    )
    return [{"actor_id": event.actor_id, **event.details} for event in events]


def measure_id(project) -> int:
    return project.measures[0].id


def complete(client, project, quarter: int = 1, **narrative):
    """A complete draft, saved page by page as a partner would."""
    assert (
        client.post(
            url(project, quarter, "outputs"), data={"version": "0", f"m{measure_id(project)}": "64", **SAVE}
        ).status_code
        == 302
    )
    version = str(the_return(project, quarter).version)
    data = {"version": version, "spend": "2500.00", "spend_explanation": "", **SAVE}
    assert client.post(url(project, quarter, "spend"), data=data).status_code == 302
    version = str(the_return(project, quarter).version)
    data = {"version": version, **NARRATIVE, **narrative, **SAVE}
    assert client.post(url(project, quarter, "narrative"), data=data).status_code == 302
    return the_return(project, quarter)


def check_form(client, project, quarter: int = 1) -> dict[str, str]:
    page = client.get(url(project, quarter, "check")).text
    return {"version": hidden(page, "version"), "submission_key": hidden(page, "submission_key")}


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


@pytest.fixture
def hours_project(two_orgs, make_project):
    return make_project(
        two_orgs["davss"],
        two_orgs["stream"],
        "Volunteer programme",
        measures=[{"name": "Volunteer hours", "unit": "hours"}],
    )


# -- bad values ---------------------------------------------------------------------------------

BAD_VALUES = [
    # (page, field, typed, message)
    *(
        ("outputs", "m", typed, COUNT_RULE)
        for typed in ("-1", "2.5", "1e3", "１２", "١٢", "10**30", "NaN", "text", "1,000", "9 9", "99999999", "1000001")
    ),
    ("hours", "m", "7.555", HOURS_RULE),
    ("hours", "m", "-7.5", HOURS_RULE),
    ("spend", "spend", "-5", "Spend in the quarter must not be negative"),
    ("spend", "spend", "12.345", "Spend in the quarter must have no more than 2 decimal places"),
    ("spend", "spend", "NaN", POUNDS_RULE),
    ("spend", "spend", "Infinity", POUNDS_RULE),
    ("spend", "spend", "1e3", POUNDS_RULE),
    ("spend", "spend", "abc", POUNDS_RULE),
    ("spend", "spend", "１０００", POUNDS_RULE),
    ("spend", "spend", "100000000", "Spend in the quarter must be £1,000,000.00 or less"),
    ("spend", "spend", "1000000.01", "Spend in the quarter must be £1,000,000.00 or less"),
    ("narrative", "progress", "x" * 5001, "Progress this quarter must be 5,000 characters or fewer"),
    ("narrative", "case_study", "x" * 3001, "Case study must be 3,000 characters or fewer"),
    (
        "narrative",
        "progress",
        "Before\x00after",
        "Progress this quarter must not contain control characters such as NUL",
    ),
    ("narrative", "partner_rag", "purple", "Select Green, Amber or Red"),
]


def _post_one(client, two_orgs, hours_project, page, field, typed, button):
    """Post one typed value, with every other answer of the page valid."""
    if page in ("outputs", "hours"):
        project = hours_project if page == "hours" else two_orgs["davss_project"]
        name = f"m{measure_id(project)}"
        return project, name, client.post(url(project, 1, "outputs"), data={"version": "0", name: typed, **button})
    project = two_orgs["davss_project"]
    data = {"spend": typed, "spend_explanation": "Explained."} if page == "spend" else {**NARRATIVE, field: typed}
    return project, field, client.post(url(project, 1, page), data={"version": "0", **data, **button})


@pytest.mark.parametrize(("page", "field", "typed", "message"), BAD_VALUES, ids=lambda value: repr(value)[:20])
def test_a_bad_value_gives_its_message_keeps_what_was_typed_and_saves_nothing(
    partner, two_orgs, hours_project, page, field, typed, message
):
    before = snapshot(two_orgs["davss_project"]), snapshot(hours_project)
    for button in (LATER, SAVE):  # a draft may have blanks, never a bad value
        _, name, response = _post_one(partner, two_orgs, hours_project, page, field, typed, button)
        assert response.status_code == 422
        text = response.text
        assert "There is a problem" in text
        assert text.count(html.escape(message, quote=False)) >= 2, "beside the field and in the error summary"
        assert f'href="#{name}"' in text  # the summary links to the field
        if name == "partner_rag":
            assert 'value="purple"' not in text  # not one of the choices offered
        else:
            assert f'id="{name}-error"' in text
            shown = html.escape(typed.replace("\x00", ""))
            assert shown in text.replace("\x00", "").replace("&#34;", "&quot;"), "what was typed stays on the page"
        assert (snapshot(two_orgs["davss_project"]), snapshot(hours_project)) == before


@pytest.mark.parametrize(
    ("page", "typed", "stored"),
    [
        ("outputs", " 7 ", 7),  # surrounding spaces are stripped: what a person meant
        ("outputs", "0", 0),
        ("outputs", "1000000", 1_000_000),
        ("outputs", "007", 7),
        ("hours", "7.5", "7.5"),
        ("hours", "7.55", "7.55"),
        ("spend", "£1,000.00", 100_000),
        ("spend", " 1000 ", 100_000),
        ("spend", "0.01", 1),
        ("spend", "1000000.00", 100_000_000),
    ],
)
def test_a_good_value_is_saved(partner, two_orgs, hours_project, page, typed, stored):
    field = "spend" if page == "spend" else "m"
    project, _, response = _post_one(partner, two_orgs, hours_project, page, field, typed, LATER)
    assert response.status_code == 302, response.text
    mreturn = the_return(project)
    if page == "spend":
        assert mreturn.spend_pence == stored
    else:
        assert mreturn.value_of(measure_id(project)) == Decimal(str(stored))


@pytest.mark.parametrize(
    ("page", "blank", "message"),
    [
        ("outputs", {"m": ""}, "Enter referrals"),
        ("outputs", {"m": "   "}, "Enter referrals"),
        ("spend", {"spend": " "}, "Enter the spend in the quarter, like 2500.00"),
        ("narrative", {"progress": "\n  \n"}, "Enter the progress this quarter"),
        ("narrative", {"partner_rag_reason": ""}, "Enter the reason for your rating"),
        ("narrative", {"partner_rag": None}, "Select Green, Amber or Red"),
    ],
)
def test_a_blank_required_answer_on_save_and_continue_gives_its_message(partner, two_orgs, page, blank, message):
    project = two_orgs["davss_project"]
    before = snapshot(project)
    if page == "outputs":
        data = {f"m{measure_id(project)}": blank["m"]}
    elif page == "spend":
        data = {"spend_explanation": "", **blank}
    else:
        data = {key: value for key, value in {**NARRATIVE, **blank}.items() if value is not None}
    response = partner.post(url(project, 1, page), data={"version": "0", **data, **SAVE})
    assert response.status_code == 422
    assert response.text.count(message) >= 2
    assert snapshot(project) == before


# -- stale saves --------------------------------------------------------------------------------


def test_a_save_from_a_stale_version_is_refused_and_a_deliberate_second_save_wins(partner, two_orgs, app, login):
    project = two_orgs["davss_project"]
    data = {"version": "0", **NARRATIVE, **LATER}
    assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    tab = partner.get(url(project, 1, "narrative")).text  # the partner's first tab, at version 1
    assert hidden(tab, "version") == "1"

    colleague = app.test_client()
    login(colleague, two_orgs["partner_a"])
    colleague_data = {"version": "1", **NARRATIVE, "progress": "The colleague's progress.", **LATER}
    assert colleague.post(url(project, 1, "narrative"), data=colleague_data).status_code == 302
    before = snapshot(project)

    mine = {**NARRATIVE, "progress": "My long progress report.", "partner_rag": "red"}
    response = partner.post(url(project, 1, "narrative"), data={"version": "1", **mine, **SAVE})
    assert response.status_code == 409
    text = html.unescape(response.text)
    assert "Your changes have not been saved" in text
    assert "Saved answers that differ from yours: Progress this quarter; Rating" in text
    assert "My long progress report." in text  # what was typed stays on the page
    assert re.search(r'value="red"[^>]*checked|checked[^>]*value="red"', response.text)
    assert snapshot(project) == before
    assert the_return(project).progress == "The colleague's progress."
    refused = {"refused": "save of narrative", "posted_version": 1, "current_version": 2}
    assert conflicts() == [{"actor_id": two_orgs["partner_a"].id, **refused}]  # the conflict is on the record

    # The page now carries the saved version: saving again on purpose keeps what was typed.
    assert hidden(response.text, "version") == "2"
    again = partner.post(url(project, 1, "narrative"), data={"version": "2", **mine, **SAVE})
    assert again.status_code == 302
    db.session.expire_all()
    assert the_return(project).progress == "My long progress report." and the_return(project).partner_rag == "red"


def test_a_stale_outputs_save_names_the_saved_figure(partner, two_orgs):
    project = two_orgs["davss_project"]
    name = f"m{measure_id(project)}"
    assert partner.post(url(project, 1, "outputs"), data={"version": "0", name: "5", **LATER}).status_code == 302
    assert partner.post(url(project, 1, "outputs"), data={"version": "1", name: "6", **LATER}).status_code == 302
    before = snapshot(project)
    response = partner.post(url(project, 1, "outputs"), data={"version": "1", name: "9", **LATER})
    assert response.status_code == 409
    assert "Referrals (saved: 6)" in response.text and 'value="9"' in response.text
    assert snapshot(project) == before


def test_two_tabs_starting_the_same_new_return_do_not_overwrite_each_other(partner, two_orgs):
    project = two_orgs["davss_project"]
    first = {"version": "0", **NARRATIVE, "progress": "From the first tab", **LATER}
    assert partner.post(url(project, 1, "narrative"), data=first).status_code == 302
    before = snapshot(project)
    second = {"version": "0", **NARRATIVE, "progress": "From the second tab", **LATER}
    response = partner.post(url(project, 1, "narrative"), data=second)
    assert response.status_code == 409
    assert "Your changes have not been saved" in response.text and "From the second tab" in response.text
    assert snapshot(project) == before


def test_a_stale_autosave_answers_with_a_conflict_fragment(partner, two_orgs):
    project = two_orgs["davss_project"]
    name = f"m{measure_id(project)}"
    assert partner.post(url(project, 1, "outputs"), data={"version": "0", name: "5", **LATER}).status_code == 302
    before = snapshot(project)
    response = partner.post(url(project, 1, "outputs"), data={"version": "0", name: "8", "autosave": "1"}, headers=HTMX)
    assert response.status_code == 409
    assert "Your changes have not been saved" in response.text and "<html" not in response.text
    assert snapshot(project) == before


# -- other organisations and other roles --------------------------------------------------------


@pytest.fixture
def a_returns(partner, two_orgs):
    """partner_a's Q1 submitted (revision 1) and Q2 a complete draft."""
    project = two_orgs["davss_project"]
    complete(partner, project, 1)
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project, 1)).status_code == 302
    complete(partner, project, 2)
    return project


def test_a_partner_cannot_read_or_change_another_organisations_return(app, two_orgs, login, a_returns):
    project = a_returns
    other = app.test_client()
    login(other, two_orgs["partner_b"])
    before = snapshot(project, 1), snapshot(project, 2)
    q1_key = db.session.scalar(select(ReturnRevision.submission_key))
    for quarter in (1, 2):
        for page in ("", "outputs", "spend", "narrative", "check", "submitted/1", "revisions/1", "compare"):
            response = other.get(url(project, quarter, page))
            assert response.status_code == 404, (quarter, page)
            assert "Support for Medium" not in response.text and "Took 64 referrals" not in response.text
    version = str(the_return(project, 2).version)
    posts = {
        "outputs": {f"m{measure_id(project)}": "1", **SAVE},
        "spend": {"spend": "1.00", "spend_explanation": "x", **SAVE},
        "narrative": {**NARRATIVE, "progress": "Overwritten", **SAVE},
        "check": {"submission_key": "b" * 32, "personal_data_reason": "Not about a client."},
    }
    for page, data in posts.items():
        for headers in ({}, HTMX):
            response = other.post(
                url(project, 2, page), data={"version": version, "autosave": "1", **data}, headers=headers
            )
            assert response.status_code == 404, page
    assert (snapshot(project, 1), snapshot(project, 2)) == before

    # partner_b's own return, submitted with partner_a's submission key, neither joins nor reveals it.
    kenward = two_orgs["kenward_project"]
    complete(other, kenward, 1, progress="Kenward's own progress.")
    response = other.post(
        url(kenward, 1, "check"), data={"version": str(the_return(kenward).version), "submission_key": q1_key}
    )
    assert response.status_code == 409
    assert "Took 64 referrals" not in response.text and "Support for Medium" not in response.text
    assert the_return(kenward).status == "draft"
    assert (snapshot(project, 1)[0], snapshot(project, 2)[0]) == (before[0][0], before[1][0])
    assert count(ReturnRevision) == 1


def test_another_projects_measure_in_the_posted_form_is_refused(partner, two_orgs):
    project = two_orgs["davss_project"]
    foreign = measure_id(two_orgs["kenward_project"])
    own = f"m{measure_id(project)}"
    for extra in ({f"m{foreign}": "5"}, {"m999999": "5"}, {f"m0{measure_id(project)}": "5"}):
        response = partner.post(url(project, 1, "outputs"), data={"version": "0", own: "3", **extra, **LATER})
        assert response.status_code == 404, extra
    assert the_return(project) is None and the_return(two_orgs["kenward_project"]) is None
    assert count(AuditEvent) == 0


def test_a_partner_sees_no_other_organisations_project_in_any_list(app, two_orgs, login, a_returns):
    other = app.test_client()
    login(other, two_orgs["partner_b"])
    kenward = two_orgs["kenward_project"]
    for path in ("/partner/", "/partner/2021-22/", f"/partner/projects/{kenward.id}", url(kenward, 1)):
        page = other.get(path)
        assert page.status_code == 200, path
        assert "Support for Medium" not in page.text and "Domestic Abuse Volunteer" not in page.text, path
        assert f"/projects/{a_returns.id}/" not in page.text and f'/projects/{a_returns.id}"' not in page.text


@pytest.mark.parametrize("role", ["csu", "finance", "admin"])
def test_staff_cannot_use_the_partner_pages(app, two_orgs, login, a_returns, role):
    project = a_returns
    staff = app.test_client()
    login(staff, two_orgs[role])
    before = snapshot(project, 2)
    for page in ("", "outputs", "spend", "narrative", "check", "submitted/1"):
        assert staff.get(url(project, 1, page)).status_code == 403
    version = str(the_return(project, 2).version)
    for page, data in (
        ("outputs", {f"m{measure_id(project)}": "1"}),
        ("spend", {"spend": "1.00"}),
        ("narrative", {"progress": "Changed by staff"}),
        ("check", {"submission_key": "s" * 32}),
    ):
        response = staff.post(url(project, 2, page), data={"version": version, **data, **LATER})
        assert response.status_code == 403, page
    assert snapshot(project, 2) == before


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_only_the_csu_decides_on_a_return(app, two_orgs, login, a_returns, role):
    project = a_returns
    mreturn = the_return(project, 1)
    staff = app.test_client()
    login(staff, two_orgs[role])
    page = staff.get(f"/csu/returns/{mreturn.id}")
    assert page.status_code == 200 and "Approve return" not in page.text  # read-only for them
    before = snapshot(project, 1)
    version = str(mreturn.version)
    for action, data in (("approve", {}), ("request-changes", {"comment": "No"}), ("reopen", {"reason": "No"})):
        assert staff.post(f"/csu/returns/{mreturn.id}/{action}", data={"version": version, **data}).status_code == 403
    assert snapshot(project, 1) == before


def test_a_partner_cannot_reach_the_review_pages(partner, two_orgs, a_returns):
    mreturn = the_return(a_returns, 1)
    before = snapshot(a_returns, 1)
    for path in ("/csu/reviews", f"/csu/returns/{mreturn.id}", f"/csu/returns/{mreturn.id}/revisions/1"):
        assert partner.get(path).status_code == 404
    version = str(mreturn.version)
    for action, data in (("approve", {}), ("request-changes", {"comment": "Self"}), ("reopen", {"reason": "Self"})):
        assert partner.post(f"/csu/returns/{mreturn.id}/{action}", data={"version": version, **data}).status_code == 404
    assert snapshot(a_returns, 1) == before


# -- concurrent and repeated submits ------------------------------------------------------------


def _submit_concurrently(app, clients, url_path, forms):
    barrier = threading.Barrier(len(clients), timeout=30)
    results: list = [None] * len(clients)

    def run(index):
        try:
            with app.app_context():
                barrier.wait()
                response = clients[index].post(url_path, data=forms[index])
                results[index] = (response.status_code, response.headers.get("Location"))
        except Exception as error:  # reported below
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("keys", ["same", "different"])
def test_ten_concurrent_submits_give_one_revision(app, partner, two_orgs, login, keys):
    project = two_orgs["davss_project"]
    complete(partner, project)
    form = check_form(partner, project)
    clients = []
    for _ in range(10):
        client = app.test_client()
        login(client, two_orgs["partner_a"])
        clients.append(client)
    forms = [
        {**form, "submission_key": form["submission_key"] if keys == "same" else f"{index:02d}" + "k" * 30}
        for index in range(10)
    ]
    path = url(project, 1, "check")
    db.session.commit()
    db.session.close()  # the test holds no connection or lock while the requests race

    results = _submit_concurrently(app, clients, path, forms)

    assert all(isinstance(result, tuple) for result in results), results
    assert {status for status, _ in results} == {302}, results
    assert {location for _, location in results} == {path.replace("check", "submitted/1")}
    assert count(ReturnRevision) == 1
    submitted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "monitoring_return.submitted"))
    assert len(submitted.all()) == 1
    assert db.session.scalar(select(MonitoringReturn.status)) == "submitted"


def test_a_double_submit_with_the_same_key_gives_the_same_submission(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    form = check_form(partner, project)
    other_tab = check_form(partner, project)  # another tab's page: another key
    first = partner.post(url(project, 1, "check"), data=form)
    again = partner.post(url(project, 1, "check"), data=form)
    later = partner.post(url(project, 1, "check"), data=other_tab)
    assert first.status_code == again.status_code == later.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == later.headers["Location"]
    assert first.headers["Location"].endswith(url(project, 1, "submitted/1"))
    assert "Return submitted" in partner.get(again.headers["Location"]).text
    assert count(ReturnRevision) == 1
    assert count(AuditEvent) - 3 == 1  # three saves and one submission


def test_a_submit_from_a_check_page_older_than_the_answers_is_refused(partner, two_orgs):
    """Submitting must send what the partner checked: answers changed since the page opened are shown again."""
    project = two_orgs["davss_project"]
    complete(partner, project)
    form = check_form(partner, project)
    data = {"version": form["version"], **NARRATIVE, "progress": "Changed in another tab.", **LATER}
    assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    before = snapshot(project)
    response = partner.post(url(project, 1, "check"), data=form)
    assert response.status_code == 409
    assert "This return was changed after you opened this page" in response.text
    assert "Changed in another tab." in response.text  # the answers as they now are, to check
    assert snapshot(project) == before
    response = partner.post(url(project, 1, "check"), data={**form, "version": hidden(response.text, "version")})
    assert response.status_code == 302
    assert count(ReturnRevision) == 1
    assert db.session.scalar(select(ReturnRevision.progress)) == "Changed in another tab."


# -- the personal-data guard --------------------------------------------------------------------

PERSONAL = {
    "progress": "We supported Mrs Smith through the court process.",
    "case_study": "She wrote to jane.doe@example.com for advice.",
    "challenges": "Call her on 07700 900123 if needed.",
    "partner_rag_reason": "She moved to TN13 1HU last month.",
}
FOUND = [
    ("Progress this quarter", "a name with a title", "Mrs Smith"),
    ("Case study", "an email address", "jane.doe@example.com"),
    ("Challenges and risks", "a phone number", "07700 900123"),
    ("Reason for your rating", "a postcode", "TN13 1HU"),
]
CONFIRM = "Say why these answers do not contain personal information"
REASON = "Mrs Smith is our volunteer coordinator; the rest is made up for training."


def test_the_check_page_lists_personal_data_and_submitting_needs_a_reason(partner, two_orgs, caplog):
    caplog.set_level(logging.DEBUG)
    project = two_orgs["davss_project"]
    complete(partner, project, **PERSONAL)
    page = partner.get(url(project, 1, "check")).text
    table = re.search(r'<table class="govuk-table" id="personal-data-findings">(.*?)</table>', page, re.S).group(1)
    rows = [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", table, re.S)
        if "<td" in row
    ]
    assert rows == FOUND
    assert "Why these answers do not contain personal information" in page

    form = check_form(partner, project)
    response = partner.post(url(project, 1, "check"), data=form)
    assert response.status_code == 422
    assert response.text.count(CONFIRM) >= 2
    assert the_return(project).status == "draft" and count(ReturnRevision) == 0

    response = partner.post(url(project, 1, "check"), data={**form, "personal_data_reason": "   "})
    assert response.status_code == 422
    assert the_return(project).status == "draft" and count(ReturnRevision) == 0

    response = partner.post(url(project, 1, "check"), data={**form, "personal_data_reason": REASON})
    assert response.status_code == 302
    assert the_return(project).status == "submitted"

    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''} {record.__dict__!r}"
        for record in caplog.records
    )
    for _, _, text in FOUND:
        assert text not in logged


def test_clean_answers_need_no_reason(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project, progress="We supported Mrs A and Mr X; 12 people in April 2021 (Q1 2021-22).")
    page = partner.get(url(project, 1, "check")).text
    assert "personal-data-findings" not in page and "personal_data_reason" not in page
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302


def test_personal_data_found_after_the_check_page_was_opened_still_needs_a_reason(partner, two_orgs):
    """The findings are worked out again when submitting, not taken from the page."""
    project = two_orgs["davss_project"]
    complete(partner, project)
    form = check_form(partner, project)
    version = str(the_return(project).version)
    data = {"version": version, **NARRATIVE, "progress": "Met Mr Jones at home.", **LATER}
    assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    response = partner.post(url(project, 1, "check"), data={**form, "version": str(the_return(project).version)})
    assert response.status_code == 422 and CONFIRM in response.text
    assert "Mr Jones" in response.text
    assert the_return(project).status == "draft"


# -- an expired session or token while typing ---------------------------------------------------

TYPED = {
    "progress": 'An hour of careful writing about the quarter, with <angle brackets> & "quotes".',
    "case_study": "A second long answer.",
    "challenges": "",
    "partner_rag": "amber",
    "partner_rag_reason": "Behind on referrals.",
}


def _end_sessions(user):
    user = db.session.get(User, user.id)
    user.end_all_sessions()
    db.session.commit()


def test_a_session_that_ended_while_typing_keeps_the_text_and_saves_after_signing_in(partner, two_orgs):
    project = two_orgs["davss_project"]
    _end_sessions(two_orgs["partner_a"])
    path = url(project, 1, "narrative")

    response = partner.post(path, data={"version": "0", **TYPED, **SAVE}, headers=SAME_ORIGIN)
    assert response.status_code == 401
    assert "Sign in again to save your answers" in response.text
    assert str(escape(TYPED["progress"])) in response.text  # shown, to copy
    fields = form_fields(response.text, path)
    assert {key: fields[key] for key in TYPED} == TYPED  # and carried, to send again
    assert fields["version"] == "0" and fields["reauth"] == "1"
    assert the_return(project) is None

    # A wrong password: still not saved, still there.
    response = partner.post(
        path, data={**fields, "email": "a@davss.example", "password": "wrong password"}, headers=SAME_ORIGIN
    )
    assert response.status_code == 422
    assert "Enter a correct email address and password" in response.text
    assert str(escape(TYPED["progress"])) in response.text
    again = form_fields(response.text, path)
    assert {key: again[key] for key in TYPED} == TYPED and again["version"] == "0"
    assert the_return(project) is None

    response = partner.post(
        path, data={**fields, "email": "a@davss.example", "password": TEST_PASSWORD}, headers=SAME_ORIGIN
    )
    assert response.status_code == 302
    mreturn = the_return(project)
    assert mreturn.progress == TYPED["progress"] and mreturn.case_study == TYPED["case_study"]
    assert mreturn.partner_rag == "amber" and mreturn.partner_rag_reason == TYPED["partner_rag_reason"]
    assert mreturn.updated_by_id == two_orgs["partner_a"].id
    assert partner.get(url(project, 1)).status_code == 200  # signed in again


def test_signing_in_again_as_someone_else_does_not_save_into_their_organisation(partner, two_orgs):
    project = two_orgs["davss_project"]
    _end_sessions(two_orgs["partner_a"])
    path = url(project, 1, "narrative")
    fields = form_fields(partner.post(path, data={"version": "0", **TYPED, **SAVE}, headers=SAME_ORIGIN).text, path)
    response = partner.post(
        path, data={**fields, "email": "b@kenward.example", "password": TEST_PASSWORD}, headers=SAME_ORIGIN
    )
    assert response.status_code == 404
    assert the_return(project) is None and the_return(two_orgs["kenward_project"]) is None


def test_an_autosave_after_the_session_ended_says_it_was_not_saved(partner, two_orgs):
    project = two_orgs["davss_project"]
    _end_sessions(two_orgs["partner_a"])
    response = partner.post(
        url(project, 1, "narrative"), data={"version": "0", **TYPED, "autosave": "1"}, headers={**HTMX, **SAME_ORIGIN}
    )
    assert response.status_code == 401
    assert "HX-Redirect" not in response.headers
    assert "You have been signed out, so the latest changes are not saved" in response.text
    assert "<html" not in response.text
    assert the_return(project) is None


def test_a_signed_out_page_without_typed_answers_still_goes_to_sign_in(client, two_orgs):
    response = client.get(url(two_orgs["davss_project"], 1, "narrative"))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
class TestExpiredCsrfToken:
    @pytest.mark.parametrize("token", ["wrong-token", None])
    def test_the_text_is_shown_again_with_a_fresh_token_and_then_saved(self, partner, two_orgs, token):
        project = two_orgs["davss_project"]
        path = url(project, 1, "narrative")
        data = {"version": "0", **TYPED, **SAVE}
        if token:
            data["csrf_token"] = token
        response = partner.post(path, data=data, headers=SAME_ORIGIN)
        assert response.status_code == 400
        assert "Send your answers again" in response.text
        assert str(escape(TYPED["progress"])) in response.text
        assert the_return(project) is None

        fields = form_fields(response.text, path)
        assert fields["csrf_token"] == csrf_token_from(response.text)
        assert {key: fields[key] for key in TYPED} == TYPED
        response = partner.post(path, data=fields, headers=SAME_ORIGIN)
        assert response.status_code == 302
        mreturn = the_return(project)
        assert mreturn.progress == TYPED["progress"] and mreturn.partner_rag == "amber"

    def test_a_session_that_expired_entirely_asks_to_sign_in_and_then_saves(self, partner, two_orgs):
        """The cookie is gone (token and sign-in with it): the text is kept and sign-in happens on the page."""
        project = two_orgs["davss_project"]
        path = url(project, 1, "narrative")
        with partner.session_transaction() as session:
            session.clear()
        response = partner.post(
            path, data={"csrf_token": "from-the-old-session", "version": "0", **TYPED, **SAVE}, headers=SAME_ORIGIN
        )
        assert response.status_code == 400
        assert "Sign in again to save your answers" in response.text
        assert str(escape(TYPED["progress"])) in response.text
        fields = form_fields(response.text, path)
        response = partner.post(
            path, data={**fields, "email": "a@davss.example", "password": TEST_PASSWORD}, headers=SAME_ORIGIN
        )
        assert response.status_code == 302
        assert the_return(project).progress == TYPED["progress"]

    def test_an_ordinary_save_with_the_pages_token_works(self, partner, two_orgs):
        project = two_orgs["davss_project"]
        page = partner.get(url(project, 1, "narrative")).text
        data = {"csrf_token": csrf_token_from(page), "version": "0", **TYPED, **LATER}
        assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302


# -- markup in answers --------------------------------------------------------------------------

MARKUP = {
    "progress": "<script>alert(1)</script>",
    "case_study": '<div hx-get="/admin/" hx-trigger="load">x</div>',
    "challenges": "{{7*7}} and {% raw %}",
}


def test_markup_is_stored_verbatim_and_shown_as_text(app, partner, two_orgs, login):
    project = two_orgs["davss_project"]
    mreturn = complete(partner, project, **MARKUP)
    db.session.expire_all()
    mreturn = the_return(project)
    assert (mreturn.progress, mreturn.case_study, mreturn.challenges) == tuple(MARKUP.values())

    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    csu = app.test_client()
    login(csu, two_orgs["csu"])
    pages = {
        "check": partner.get(url(project, 1, "check")).text,
        "narrative": partner.get(url(project, 1, "narrative")).text,
        "revision": partner.get(url(project, 1, "revisions/1")).text,
        "review": csu.get(f"/csu/returns/{mreturn.id}").text,
        "csu revision": csu.get(f"/csu/returns/{mreturn.id}/revisions/1").text,
    }
    for name, page in pages.items():
        assert "<script>alert(1)" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
        assert "<div hx-get" not in page and "&lt;div hx-get=" in page, name
        assert "{{7*7}} and {% raw %}" in page and "49 and" not in page, name


def test_markup_stays_text_in_mail_and_in_the_word_document(app, partner, two_orgs, login):
    project = two_orgs["davss_project"]
    mreturn = complete(partner, project, **MARKUP)
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    csu = app.test_client()
    login(csu, two_orgs["csu"])
    db.session.expire_all()
    comment = MARKUP["progress"] + " " + MARKUP["challenges"]
    data = {"version": str(the_return(project).version), "comment": comment}
    assert csu.post(f"/csu/returns/{mreturn.id}/request-changes", data=data).status_code == 302
    (mail,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "a@davss.example"))
    assert comment in mail.text_body  # plain text says exactly what was typed
    assert "<script>alert(1)" not in mail.html_body and "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html_body
    assert "{{7*7}} and {% raw %}" in mail.html_body and "49 and" not in mail.html_body

    partner.post(url(project, 1, "check"), data=check_form(partner, project))
    db.session.expire_all()
    assert (
        csu.post(f"/csu/returns/{mreturn.id}/approve", data={"version": str(the_return(project).version)}).status_code
        == 302
    )
    document = docx.Document(io.BytesIO(csu.get(f"/csu/{project.year.label}/annual-report.docx").data))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert MARKUP["progress"] in text  # printed as the characters typed, not run or dropped
    assert "<script>" not in document.part.blob.decode()  # escaped in the document's XML


# -- forged fields ------------------------------------------------------------------------------


def test_extra_posted_fields_are_ignored(partner, two_orgs):
    project = two_orgs["davss_project"]
    other = two_orgs["kenward_project"]
    forged = {
        "status": "approved",
        "project_id": str(other.id),
        "submitted_by_id": str(two_orgs["csu"].id),
        "approved_by_id": str(two_orgs["csu"].id),
        "quarter": "4",
        "id": "999",
        "review_comment": "Looks fine",
        "updated_by_id": str(two_orgs["csu"].id),
    }
    name = f"m{measure_id(project)}"
    assert (
        partner.post(url(project, 1, "outputs"), data={"version": "0", name: "5", **forged, **SAVE}).status_code == 302
    )
    version = str(the_return(project).version)
    data = {"version": version, "spend": "2500", **forged, **SAVE}
    assert partner.post(url(project, 1, "spend"), data=data).status_code == 302
    version = str(the_return(project).version)
    assert (
        partner.post(url(project, 1, "narrative"), data={"version": version, **NARRATIVE, **forged, **SAVE}).status_code
        == 302
    )
    mreturn = the_return(project)
    assert (mreturn.status, mreturn.project_id, mreturn.quarter) == ("draft", project.id, 1)
    assert mreturn.submitted_by_id is None and mreturn.approved_by_id is None and mreturn.review_comment is None
    assert mreturn.updated_by_id == two_orgs["partner_a"].id
    assert the_return(other) is None and count(MonitoringReturn) == 1

    response = partner.post(url(project, 1, "check"), data={**check_form(partner, project), **forged})
    assert response.status_code == 302
    db.session.expire_all()
    mreturn = the_return(project)
    assert mreturn.status == "submitted" and mreturn.submitted_by_id == two_orgs["partner_a"].id
    assert mreturn.approved_by_id is None and the_return(other) is None


# -- the page's own autosave, a garbled form, logs ---------------------------------------------


def test_a_pages_own_autosave_racing_its_button_is_not_a_conflict(partner, two_orgs):
    """The same open page (same editor token) autosaved a moment before its button press: no conflict."""
    project = two_orgs["davss_project"]
    page = {"editor": "a1b2c3d4e5f60718", **NARRATIVE}
    autosave = partner.post(url(project, 1, "narrative"), data={"version": "0", **page, "autosave": "1"}, headers=HTMX)
    assert autosave.status_code == 200 and "Draft saved at" in autosave.text
    # The button press still carries version 0: the autosave's new version had not reached the form yet.
    pressed = {"version": "0", **page, "progress": "Typed after the autosave", **SAVE}
    assert partner.post(url(project, 1, "narrative"), data=pressed).status_code == 302
    db.session.expire_all()
    assert the_return(project).progress == "Typed after the autosave"


def test_another_page_of_the_same_person_is_still_a_conflict(partner, two_orgs):
    project = two_orgs["davss_project"]
    first = {"version": "0", "editor": "1111111111111111", **NARRATIVE, **LATER}
    assert partner.post(url(project, 1, "narrative"), data=first).status_code == 302
    before = snapshot(project)
    other_tab = {"version": "0", "editor": "2222222222222222", **NARRATIVE, "progress": "Other tab", **LATER}
    assert partner.post(url(project, 1, "narrative"), data=other_tab).status_code == 409
    assert snapshot(project) == before


def test_a_form_without_its_version_says_what_to_do_and_saves_nothing(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = partner.post(url(project, 1, "narrative"), data={"version": "garbled", **NARRATIVE, **LATER})
    assert response.status_code == 422
    assert "Something went wrong with the form" in response.text
    assert the_return(project) is None


def test_a_draft_keeps_its_spend_while_the_explanation_is_written_later(partner, two_orgs):
    project = two_orgs["davss_project"]
    over = {"version": "0", "spend": "12000.00", "spend_explanation": ""}  # more than the £10,000 award
    assert partner.post(url(project, 1, "spend"), data={**over, **LATER}).status_code == 302
    assert the_return(project).spend_pence == 1_200_000
    version = str(the_return(project).version)
    response = partner.post(url(project, 1, "spend"), data={**over, "version": version, **SAVE})
    assert response.status_code == 422 and "more than the award" in response.text
    check = partner.get(url(project, 1, "check")).text
    assert "Explain the spend to date" in check


def test_database_errors_never_carry_typed_text(app):
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is True
    assert db.engine.hide_parameters is True
