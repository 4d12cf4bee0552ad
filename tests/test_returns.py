"""The quarterly return: the partner's journey, the rules a return must meet, its audit trail and its costs."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, Payment, ReturnRevision, User
from portal.services import audit as audit_service

SAVE = {"save_continue": "Save and continue"}
LATER = {"save_later": "Save and come back later"}
NARRATIVE = {
    "progress": "Took 64 referrals and closed 51 cases.",
    "case_study": "A client was helped to move to safe housing.",
    "challenges": "Recruiting volunteers in the rural west.",
    "partner_rag": "amber",
    "partner_rag_reason": "Referrals are behind the profile.",
}


# -- helpers ------------------------------------------------------------------------------------


def url(project, quarter: int = 1, page: str = "") -> str:
    return f"/partner/projects/{project.id}/q{quarter}/{page}"


def hidden(page: str, name: str) -> str:
    """The value of a hidden input on the page."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert tag, f"no {name} field on the page"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def version_of(client, project, page: str, quarter: int = 1) -> str:
    response = client.get(url(project, quarter, page))
    assert response.status_code == 200
    return hidden(response.text, "version")


def the_return(project, quarter: int = 1) -> MonitoringReturn | None:
    return db.session.scalar(
        select(MonitoringReturn).where(MonitoringReturn.project_id == project.id, MonitoringReturn.quarter == quarter)
    )


def measure_id(project) -> int:
    return project.measures[0].id


def fill_outputs(client, project, value="64", quarter: int = 1, button=SAVE):
    version = version_of(client, project, "outputs", quarter)
    return client.post(
        url(project, quarter, "outputs"), data={"version": version, f"m{measure_id(project)}": value, **button}
    )


def fill_spend(client, project, spend="2500.00", explanation="", quarter: int = 1, button=SAVE):
    version = version_of(client, project, "spend", quarter)
    return client.post(
        url(project, quarter, "spend"),
        data={"version": version, "spend": spend, "spend_explanation": explanation, **button},
    )


def fill_narrative(client, project, quarter: int = 1, button=SAVE, **answers):
    version = version_of(client, project, "narrative", quarter)
    return client.post(url(project, quarter, "narrative"), data={"version": version, **NARRATIVE, **answers, **button})


def complete(client, project, quarter: int = 1, value="64", spend="2500.00"):
    assert fill_outputs(client, project, value, quarter).status_code == 302
    assert fill_spend(client, project, spend, quarter=quarter).status_code == 302
    assert fill_narrative(client, project, quarter).status_code == 302


def submit(client, project, quarter: int = 1, **extra):
    page = client.get(url(project, quarter, "check")).text
    return client.post(
        url(project, quarter, "check"),
        data={"version": hidden(page, "version"), "submission_key": hidden(page, "submission_key"), **extra},
    )


def review_version(client, mreturn_id: int) -> str:
    response = client.get(f"/csu/returns/{mreturn_id}")
    assert response.status_code == 200
    return hidden(response.text, "version")


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


@pytest.fixture
def csu(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["csu"])
    return client


# -- the journey --------------------------------------------------------------------------------


def test_the_whole_journey_from_first_answer_to_approval_and_reopening(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    measure = measure_id(project)

    # Outputs: a new return starts at version 0 and "Save and continue" moves on to spend.
    page = partner.get(url(project, 1, "outputs"))
    assert page.status_code == 200 and hidden(page.text, "version") == "0"
    assert "Referrals" in page.text and "Target this quarter: 200 (a quarter of the annual 800)." in page.text
    response = partner.post(url(project, 1, "outputs"), data={"version": "0", f"m{measure}": "64", **SAVE})
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1, "spend"))

    response = fill_spend(partner, project, "2400.00")
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1, "narrative"))
    response = fill_narrative(partner, project)
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1, "check"))

    # Check your answers: every answer, each with a Change link to its page.
    check = partner.get(url(project, 1, "check")).text
    for answer in ("64 people", "£2,400.00", *(html.escape(text) for text in NARRATIVE.values() if text != "amber")):
        assert answer in check, answer
    assert "Amber" in check
    for section, question in (
        ("outputs", "referrals"),
        ("spend", "spend in the quarter"),
        ("narrative", "progress this quarter"),
        ("narrative", "case study"),
        ("narrative", "challenges and risks"),
        ("narrative", "rating"),
        ("narrative", "reason for your rating"),
    ):
        assert re.search(
            # Change goes to the answer's field, and Save and continue comes back here (tests/test_return_context.py).
            rf'href="{re.escape(url(project, 1, section))}\?from=check#[\w]+">Change'
            rf'<span class="govuk-visually-hidden"> {question}<',
            check,
        ), question
    assert "Submit return" in check and "Before you can submit" not in check

    response = submit(partner, project)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url(project, 1, "submitted/1"))
    assert "Return submitted" in partner.get(response.headers["Location"]).text

    mreturn = the_return(project)
    assert mreturn.status == "submitted"
    assert mreturn.submitted_by_id == two_orgs["partner_a"].id and mreturn.submitted_at is not None
    (revision,) = db.session.scalars(select(ReturnRevision).where(ReturnRevision.return_id == mreturn.id)).all()
    assert revision.number == 1
    assert {name: Decimal(value) for name, value in revision.values.items()} == {"Referrals": Decimal(64)}
    assert revision.spend_pence == 240_000
    assert revision.progress == NARRATIVE["progress"]
    assert revision.case_study == NARRATIVE["case_study"]
    assert revision.challenges == NARRATIVE["challenges"]
    assert revision.partner_rag == "amber" and revision.partner_rag_reason == NARRATIVE["partner_rag_reason"]
    assert revision.submitted_by_id == two_orgs["partner_a"].id
    home = partner.get("/partner/").text
    assert "Submitted" in home

    # The CSU sends it back with a comment: the partner sees it on its home and on the return.
    comment = "Please say how many referrals came from the police."
    response = csu.post(
        f"/csu/returns/{mreturn.id}/request-changes",
        data={"version": review_version(csu, mreturn.id), "comment": comment},
    )
    assert response.status_code == 302
    assert db.session.get(MonitoringReturn, mreturn.id).status == "changes_requested"
    home = partner.get("/partner/").text
    assert comment in home and "Changes requested" in home
    overview = partner.get(url(project, 1)).text
    assert comment in overview and "Changes requested" in overview

    # The partner edits and submits again: revision 2, and the comparison shows what changed.
    assert fill_outputs(partner, project, "71").status_code == 302
    response = submit(partner, project)
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1, "submitted/2"))
    assert db.session.get(MonitoringReturn, mreturn.id).status == "submitted"
    assert db.session.scalar(select(func.count()).where(ReturnRevision.return_id == mreturn.id)) == 2
    compare = partner.get(url(project, 1, "compare") + "?from=1&to=2")
    assert compare.status_code == 200
    assert "1 answer changed." in compare.text
    row = re.search(r"<tr[^>]*portal-changed[^>]*>(.*?)</tr>", compare.text, re.S).group(1)
    assert "Referrals" in row and ">64<" in row and ">71<" in row

    # The CSU approves: the return is read-only for the partner.
    response = csu.post(f"/csu/returns/{mreturn.id}/approve", data={"version": review_version(csu, mreturn.id)})
    assert response.status_code == 302
    approved = db.session.get(MonitoringReturn, mreturn.id)
    assert approved.status == "approved" and approved.approved_by_id == two_orgs["csu"].id
    version = approved.version
    response = partner.post(url(project, 1, "outputs"), data={"version": str(version), f"m{measure}": "999", **SAVE})
    assert response.status_code == 409
    assert "This return has been approved" in response.text
    db.session.expire_all()
    assert db.session.get(MonitoringReturn, mreturn.id).value_of(measure) == 71
    assert db.session.get(MonitoringReturn, mreturn.id).version == version

    # Reopening needs a reason.
    response = csu.post(f"/csu/returns/{mreturn.id}/reopen", data={"version": str(version), "reason": "  "})
    assert response.status_code == 422
    assert "Enter why the return is being reopened" in response.text
    assert db.session.get(MonitoringReturn, mreturn.id).status == "approved"
    reason = "The police figures were corrected."
    response = csu.post(f"/csu/returns/{mreturn.id}/reopen", data={"version": str(version), "reason": reason})
    assert response.status_code == 302
    reopened = db.session.get(MonitoringReturn, mreturn.id)
    assert reopened.status == "changes_requested" and reopened.review_comment == reason
    assert reason in partner.get(url(project, 1)).text
    assert fill_outputs(partner, project, "72").status_code == 302


# -- save and continue, save and come back later ------------------------------------------------


def test_save_and_come_back_later_keeps_a_draft_with_blanks(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = fill_outputs(partner, project, "", button=LATER)
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1))
    assert "Your answers were saved at" in partner.get(response.headers["Location"]).text
    mreturn = the_return(project)
    assert mreturn.status == "draft" and mreturn.value_of(measure_id(project)) is None

    assert fill_spend(partner, project, "", button=LATER).status_code == 302
    # No rating chosen: a browser sends no partner_rag at all.
    response = partner.post(
        url(project, 1, "narrative"),
        data={"version": version_of(partner, project, "narrative"), "progress": "Half written", **LATER},
    )
    assert response.status_code == 302
    db.session.expire_all()
    mreturn = the_return(project)
    assert mreturn.progress == "Half written" and mreturn.partner_rag is None and mreturn.spend_pence is None


@pytest.mark.parametrize(
    ("page", "data", "message"),
    [
        ("outputs", {"m{measure}": ""}, "Enter referrals"),
        ("spend", {"spend": "", "spend_explanation": ""}, "Enter the spend in the quarter, like 2500.00"),
        ("narrative", {**NARRATIVE, "progress": ""}, "Enter the progress this quarter"),
        ("narrative", {**NARRATIVE, "partner_rag": ""}, "Select Green, Amber or Red"),
        ("narrative", {**NARRATIVE, "partner_rag_reason": "  "}, "Enter the reason for your rating"),
    ],
)
def test_save_and_continue_needs_every_answer_and_saves_nothing_without_one(partner, two_orgs, page, data, message):
    project = two_orgs["davss_project"]
    data = {key.format(measure=measure_id(project)): value for key, value in data.items()}
    response = partner.post(url(project, 1, page), data={"version": "0", **data, **SAVE})
    assert response.status_code == 422
    assert response.text.count(message) >= 2  # beside the field and in the error summary
    assert "There is a problem" in response.text
    assert the_return(project) is None
    assert events("monitoring_return.saved") == []


def test_a_missing_answer_leaves_the_other_answers_of_the_page_unsaved(partner, two_orgs):
    project = two_orgs["davss_project"]
    assert fill_narrative(partner, project, button=LATER, progress="First draft").status_code == 302
    before = the_return(project).version
    response = fill_narrative(partner, project, progress="Second draft", partner_rag_reason="")
    assert response.status_code == 422
    assert "Second draft" in response.text
    db.session.expire_all()
    mreturn = the_return(project)
    assert mreturn.progress == "First draft" and mreturn.version == before


# -- the spend explanation rule -----------------------------------------------------------------

# The award is £10,000.00: the straight-line profile is £2,500.00 a quarter, ±20% is £2,000.00-£3,000.00 for Q1.


@pytest.mark.parametrize(
    ("spend", "needs_explanation"),
    [
        ("2500.00", False),
        ("3000.00", False),  # exactly 20% over: within the tolerance
        ("2000.00", False),  # exactly 20% under
        ("3000.01", True),
        ("1999.99", True),
        ("0", True),
        ("10000.01", True),  # more than the award
    ],
)
def test_spend_far_from_the_profile_needs_an_explanation(partner, two_orgs, spend, needs_explanation):
    project = two_orgs["davss_project"]
    response = fill_spend(partner, project, spend)
    if not needs_explanation:
        assert response.status_code == 302
        assert the_return(project).spend_pence == int(Decimal(spend) * 100)
        return
    assert response.status_code == 422
    assert "explain why" in response.text
    field = re.search(
        r'<div class="govuk-form-group govuk-form-group--error[^"]*"[^>]*>(.*?)</textarea>', response.text, re.S
    )
    assert field and 'name="spend_explanation"' in field.group(1) and "explain why" in field.group(1)
    assert f'value="{spend}"' in response.text  # what was typed stays
    assert the_return(project) is None

    response = fill_spend(partner, project, spend, "Two quarters of rent were paid at once.")
    assert response.status_code == 302
    mreturn = the_return(project)
    assert mreturn.spend_pence == int(Decimal(spend) * 100)
    assert mreturn.spend_explanation == "Two quarters of rent were paid at once."


def test_spend_over_the_award_says_so(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = fill_spend(partner, project, "10000.01")
    assert response.status_code == 422
    assert "Spend to date would be £10,000.01, more than the award of £10,000.00: explain why" in response.text


def test_the_profile_counts_the_quarters_already_reported(partner, two_orgs):
    """After a reported Q1 of £2,500, Q2's spend to date is compared with 2 of 4 quarters: £5,000 ± 20%."""
    project = two_orgs["davss_project"]
    db.session.add(MonitoringReturn(project=project, quarter=1, status="submitted", spend_pence=250_000))
    db.session.commit()
    assert fill_spend(partner, project, "3500.00", quarter=2).status_code == 302  # to date £6,000: 20% over
    response = fill_spend(partner, project, "3500.01", quarter=2)
    assert response.status_code == 422
    assert "Spend to date would be £6,000.01, more than 20% away from the expected £5,000.00" in response.text
    assert the_return(project, 2).spend_pence == 350_000


@pytest.mark.parametrize("app_config", [{"SPEND_PROFILE_TOLERANCE": "0.50"}])
def test_the_tolerance_is_configurable(partner, two_orgs):
    project = two_orgs["davss_project"]
    assert fill_spend(partner, project, "3750.00").status_code == 302
    response = fill_spend(partner, project, "3750.01")
    assert response.status_code == 422 and "more than 50% away" in response.text


# -- check your answers -------------------------------------------------------------------------


def test_check_lists_missing_answers_and_refuses_to_submit_until_they_are_given(partner, two_orgs):
    project = two_orgs["davss_project"]
    page = partner.get(url(project, 1, "check")).text
    assert "Before you can submit" in page
    for section, message in (
        ("outputs", "Enter referrals"),
        ("spend", "Enter the spend in the quarter"),
        ("narrative", "Enter the progress this quarter"),
        ("narrative", "Select a rating: Green, Amber or Red"),
        ("narrative", "Enter the reason for your rating"),
    ):
        assert f'href="{url(project, 1, section)}">{message}</a>' in page
    assert "Submit return" not in page

    assert fill_outputs(partner, project, "64", button=LATER).status_code == 302
    page = partner.get(url(project, 1, "check")).text
    assert "Enter referrals" not in page and "Enter the spend in the quarter" in page

    # Posting the submit form anyway is refused.
    response = partner.post(
        url(project, 1, "check"), data={"version": str(the_return(project).version), "submission_key": "k" * 32}
    )
    assert response.status_code == 409
    assert "Some answers are missing: complete them before you submit" in response.text
    mreturn = the_return(project)
    assert mreturn.status == "draft"
    assert db.session.scalar(select(func.count()).select_from(ReturnRevision)) == 0


def test_submitting_with_an_unexplained_spend_is_refused(partner, two_orgs):
    """The explanation rule is checked again at submission: a later report can change the profile."""
    project = two_orgs["davss_project"]
    complete(partner, project, quarter=2, spend="2500.00")  # Q2 alone: £2,500 of 1 quarter, fine
    db.session.add(MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=900_000))
    db.session.commit()  # now £11,500 to date: over the award
    page = partner.get(url(project, 2, "check")).text
    assert f'href="{url(project, 2, "spend")}">Explain the spend to date</a>' in page
    response = partner.post(
        url(project, 2, "check"), data={"version": str(the_return(project, 2).version), "submission_key": "k" * 32}
    )
    assert response.status_code == 409
    assert "Some answers are missing" in response.text
    assert the_return(project, 2).status == "draft"


# -- the partner home ---------------------------------------------------------------------------


def _action_links(page: str) -> dict[int, str]:
    return {
        int(quarter): word
        for word, quarter in re.findall(r'>\s*(Start|Continue|View)<span class="govuk-visually-hidden"> Q(\d)', page)
    }


def test_home_links_each_open_quarter_with_start_continue_or_view(partner, two_orgs):
    project = two_orgs["davss_project"]
    db.session.add_all(
        [
            MonitoringReturn(project=project, quarter=2, status="draft"),
            MonitoringReturn(project=project, quarter=3, status="changes_requested", review_comment="Fix Q3"),
            MonitoringReturn(project=project, quarter=4, status="approved"),
        ]
    )
    db.session.commit()
    page = partner.get("/partner/").text
    assert _action_links(page) == {1: "Start", 2: "Continue", 3: "Continue", 4: "View"}
    for quarter in (1, 2, 3, 4):
        assert f'href="{url(project, quarter)}"' in page


@freeze_time("2021-08-20 12:00:00")
def test_a_future_quarter_is_not_linked_and_its_pages_say_when_it_opens(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    project = two_orgs["davss_project"]
    page = client.get("/partner/").text
    assert _action_links(page) == {1: "Start", 2: "Start"}
    assert f'href="{url(project, 3)}"' not in page
    assert "Opens 1 October 2021" in page and "Opens 1 January 2022" in page
    for quarter in (3, 4):
        for page_name in ("", "outputs", "spend", "narrative", "check"):
            response = client.get(url(project, quarter, page_name))
            assert response.status_code == 200 and f"The Q{quarter} return is not open yet" in response.text
        response = client.post(
            url(project, quarter, "outputs"), data={"version": "0", f"m{measure_id(project)}": "1", **SAVE}
        )
        assert response.status_code == 409
    for bad in (0, 5):
        assert client.get(url(project, bad)).status_code == 404
    assert client.get(url(project, 2, "outputs")).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(MonitoringReturn)) == 0


# -- the audit trail ----------------------------------------------------------------------------


def test_every_change_is_audited_with_its_actor_and_what_changed(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    partner_a, csu_user = two_orgs["partner_a"], two_orgs["csu"]
    assert fill_outputs(partner, project, "64", button=LATER).status_code == 302
    (saved,) = events("monitoring_return.saved")
    mreturn = the_return(project)
    assert saved.actor_id == partner_a.id and saved.object_id == mreturn.id
    assert saved.organisation_id == two_orgs["davss"].id
    assert saved.details["section"] == "outputs"
    assert saved.details["changes"] == {"Referrals": ["blank", "64"]}

    assert fill_outputs(partner, project, "65", button=LATER).status_code == 302
    assert events("monitoring_return.saved")[-1].details["changes"] == {"Referrals": ["64", "65"]}
    assert fill_spend(partner, project, "2500.00").status_code == 302
    assert events("monitoring_return.saved")[-1].details["changes"] == {"Spend in the quarter": ["blank", "£2,500.00"]}
    assert fill_narrative(partner, project).status_code == 302
    narrative = events("monitoring_return.saved")[-1]
    assert narrative.details["section"] == "narrative"
    assert narrative.details["changes"]["Rating"] == [None, "amber"]
    assert "Progress this quarter" in narrative.details["changes"]
    assert NARRATIVE["progress"] not in str(narrative.details)  # narratives are not copied into the trail

    assert submit(partner, project).status_code == 302
    (submitted,) = events("monitoring_return.submitted")
    assert submitted.actor_id == partner_a.id and submitted.object_id == mreturn.id
    assert submitted.details["revision"] == 1

    version = review_version(csu, mreturn.id)
    assert (
        csu.post(
            f"/csu/returns/{mreturn.id}/request-changes", data={"version": version, "comment": "More detail"}
        ).status_code
        == 302
    )
    (changes,) = events("monitoring_return.changes_requested")
    assert changes.actor_id == csu_user.id and changes.details["comment"] == "More detail"

    assert submit(partner, project).status_code == 302
    assert (
        csu.post(f"/csu/returns/{mreturn.id}/approve", data={"version": review_version(csu, mreturn.id)}).status_code
        == 302
    )
    (approved,) = events("monitoring_return.approved")
    assert approved.actor_id == csu_user.id

    assert (
        csu.post(
            f"/csu/returns/{mreturn.id}/reopen", data={"version": review_version(csu, mreturn.id), "reason": "Typo"}
        ).status_code
        == 302
    )
    (reopened,) = events("monitoring_return.reopened")
    assert reopened.actor_id == csu_user.id and reopened.details["comment"] == "Typo"
    assert [event.action for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        *["monitoring_return.saved"] * 4,
        "monitoring_return.submitted",
        "monitoring_return.changes_requested",
        "monitoring_return.submitted",
        "monitoring_return.approved",
        "monitoring_return.reopened",
    ]


def _failing_audit(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(audit_service, "record", boom)


def test_a_save_is_not_kept_when_its_audit_event_cannot_be_written(partner, two_orgs, monkeypatch):
    project = two_orgs["davss_project"]
    assert fill_outputs(partner, project, "64", button=LATER).status_code == 302
    _failing_audit(monkeypatch)
    version = str(the_return(project).version)
    response = partner.post(
        url(project, 1, "outputs"), data={"version": version, f"m{measure_id(project)}": "99", **LATER}
    )
    assert response.status_code == 500
    db.session.expire_all()
    assert the_return(project).value_of(measure_id(project)) == 64
    assert str(the_return(project).version) == version


@pytest.mark.parametrize("decision", ["submit", "approve", "request-changes", "reopen"])
def test_a_decision_is_not_kept_when_its_audit_event_cannot_be_written(partner, csu, two_orgs, monkeypatch, decision):
    project = two_orgs["davss_project"]
    complete(partner, project)
    if decision != "submit":
        assert submit(partner, project).status_code == 302
    mreturn = the_return(project)
    if decision == "reopen":
        mreturn.status = "approved"
        db.session.commit()
    before = (the_return(project).status, the_return(project).version)
    _failing_audit(monkeypatch)
    if decision == "submit":
        response = submit(partner, project)
    else:
        response = csu.post(
            f"/csu/returns/{mreturn.id}/{decision}",
            data={"version": review_version(csu, mreturn.id), "comment": "Why", "reason": "Why"},
        )
    assert response.status_code == 500
    db.session.expire_all()
    assert (the_return(project).status, the_return(project).version) == before
    revisions = 0 if decision == "submit" else 1
    assert db.session.scalar(select(func.count()).select_from(ReturnRevision)) == revisions


# -- the number of queries ----------------------------------------------------------------------


@pytest.fixture
def many_returns(make_org, make_year, make_stream, make_project, make_user):
    year = make_year(2021)
    stream = make_stream(year)
    org = make_org("BIG", "Big organisation")
    partner_user = make_user("p@big.example", ("partner",), org)
    made: list[int] = []

    def grow(count: int):
        for number in range(len(made), len(made) + count):
            made.append(number)
            project = make_project(org, stream, f"Project {number:03d}", measures=[{"name": "People"}])
            db.session.add_all(
                [
                    MonitoringReturn(
                        project=project,
                        quarter=1,
                        status="submitted",
                        spend_pence=100,
                        submitted_at=datetime(2021, 7, 1, tzinfo=UTC) + timedelta(minutes=number),
                        # A different person each time: their names must not be loaded one by one.
                        submitted_by=User(email=f"s{number}@big.example", name=f"Sender {number}", password_hash="x"),
                    ),
                    MonitoringReturn(project=project, quarter=2, status="changes_requested", review_comment="Fix"),
                    Payment(project=project, amount_pence=1000, paid_on=date(2021, 5, 1)),
                ]
            )
        db.session.commit()

    return {"grow": grow, "partner": partner_user, "csu": make_user("c@x.example")}


@pytest.mark.parametrize(("who", "path"), [("partner", "/partner/2021-22/"), ("csu", "/csu/reviews")])
def test_partner_home_and_review_queue_queries_do_not_grow(client, many_returns, login, count_queries, who, path):
    login(client, many_returns[who])
    counts = []
    for size in (5, 195):  # 5, then 200
        many_returns["grow"](size)
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    if who == "partner":
        assert "Project 199" in response.text and "Project 000" in response.text
    else:  # the queue pages, oldest first: the first return on page 1, the 200th on the last page (8 of 25)
        assert "Project 000" in response.text and "Sender 0</td>" in response.text
        last = client.get(f"{path}?page=8")
        assert "Project 199" in last.text and "Sender 199" in last.text and "Project 000" not in last.text
