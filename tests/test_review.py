"""The CSU's review: the queue, the return beside last quarter and the targets, decisions and their
refusals; and the autosave endpoint answering htmx with a fragment and a plain form with a redirect."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, MeasureValue, MonitoringReturn, ReturnRevision

HTMX = {"HX-Request": "true"}
LATER = {"save_later": "Save and come back later"}


def url(project, quarter: int = 1, page: str = "") -> str:
    return f"/partner/projects/{project.id}/q{quarter}/{page}"


def version_on(page: str) -> str:
    return re.search(r'<input[^>]*name="version"[^>]*value="(\d+)"', page).group(1)


def state(mreturn_id: int):
    db.session.expire_all()
    mreturn = db.session.get(MonitoringReturn, mreturn_id)
    changes = AuditEvent.action != "monitoring_return.conflict"  # a refused decision is recorded, changing nothing
    events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(changes))
    return mreturn.status, mreturn.version, mreturn.review_comment, mreturn.approved_by_id, events


@pytest.fixture
def csu(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["csu"])
    return client


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


def make_return(project, quarter: int, status: str, *, at: datetime | None = None, by=None, value=None, **fields):
    mreturn = MonitoringReturn(
        project=project,
        quarter=quarter,
        status=status,
        submitted_at=at,
        submitted_by=by,
        spend_pence=fields.pop("spend_pence", 250_000),
        progress=fields.pop("progress", "Progress"),
        partner_rag=fields.pop("partner_rag", "green"),
        partner_rag_reason=fields.pop("partner_rag_reason", "Fine"),
        **fields,
    )
    if value is not None:
        mreturn.values = [MeasureValue(measure=project.measures[0], value=Decimal(value))]
    db.session.add(mreturn)
    db.session.commit()
    return mreturn


@pytest.fixture
def submitted(two_orgs):
    """DAVSS's Q2 return, submitted, with Q1 approved before it."""
    project = two_orgs["davss_project"]
    measure = project.measures[0]
    measure.quarterly_targets = [Decimal(150), Decimal(200), None, None]
    make_return(project, 1, "approved", at=datetime(2021, 7, 5, 9, 0, tzinfo=UTC), value="140")
    return make_return(
        project, 2, "submitted", at=datetime(2021, 10, 8, 13, 45, tzinfo=UTC), by=two_orgs["partner_a"], value="185"
    )


# -- the queue ----------------------------------------------------------------------------------


def test_the_queue_lists_submitted_returns_oldest_first(csu, two_orgs, make_project):
    davss, kenward = two_orgs["davss_project"], two_orgs["kenward_project"]
    extra = make_project(two_orgs["davss"], two_orgs["stream"], "Stalking Advocacy Service")
    make_return(kenward, 1, "submitted", at=datetime(2021, 7, 12, 8, 30, tzinfo=UTC), by=two_orgs["partner_b"])
    make_return(davss, 1, "submitted", at=datetime(2021, 7, 3, 16, 5, tzinfo=UTC), by=two_orgs["partner_a"])
    make_return(extra, 1, "submitted", at=datetime(2021, 7, 20, 10, 0, tzinfo=UTC), by=two_orgs["partner_a"])
    make_return(davss, 2, "draft", progress="A draft")
    make_return(kenward, 2, "approved", at=datetime(2021, 10, 1, tzinfo=UTC), by=two_orgs["partner_b"])
    make_return(extra, 2, "changes_requested", at=datetime(2021, 10, 2, tzinfo=UTC), by=two_orgs["partner_a"])

    page = csu.get("/csu/reviews")
    assert page.status_code == 200
    assert "3 submitted returns, oldest first" in page.text
    body = page.text.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    rows = [
        [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]
    assert rows == [
        [
            "DAVSS",
            "Support for Medium &amp; High Risk Victims - Domestic Abuse",
            "2021-22 Q1",
            "3 July 2021 at 17:05",
            "a",
        ],
        ["Kenward", "Youth Diversionary &amp; Targeted Youth Project", "2021-22 Q1", "12 July 2021 at 09:30", "b"],
        ["DAVSS", "Stalking Advocacy Service", "2021-22 Q1", "20 July 2021 at 11:00", "a"],
    ]
    for mreturn in db.session.scalars(select(MonitoringReturn)):
        listed = f'href="/csu/returns/{mreturn.id}"' in body
        assert listed == (mreturn.status == "submitted"), mreturn.status


def test_an_empty_queue_says_so(csu, two_orgs):
    make_return(two_orgs["davss_project"], 1, "draft")
    assert "There are no returns waiting for review." in csu.get("/csu/reviews").text


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_finance_and_admin_may_read_the_queue_but_not_decide(app, two_orgs, login, submitted, role):
    client = app.test_client()
    login(client, two_orgs[role])
    assert client.get("/csu/reviews").status_code == 200
    page = client.get(f"/csu/returns/{submitted.id}").text
    assert "Your decision" not in page and "Approve return" not in page


# -- the review page ----------------------------------------------------------------------------


def test_the_review_page_shows_the_answers_beside_last_quarter_and_the_targets(csu, two_orgs, submitted):
    page = csu.get(f"/csu/returns/{submitted.id}").text
    row = re.search(r"<tr[^>]*>\s*<th scope=\"row\"[^>]*>Referrals.*?</tr>", page, re.S).group(0)
    cells = [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["185", "140", "200", "800"]  # this quarter, Q1, target this quarter, annual target
    assert ">Q2<" in page and ">Q1<" in page
    assert "£10,000.00" in page and "£2,500.00" in page  # award and spend
    assert "Progress" in page and "Green" in page
    assert "submitted 8 October 2021 at 14:45 by a" in page
    assert "Approve return" in page and "Send back for changes" in page


def test_the_first_quarter_has_no_previous_quarter(csu, two_orgs):
    mreturn = make_return(two_orgs["davss_project"], 1, "submitted", at=datetime(2021, 7, 1, tzinfo=UTC), value="12")
    page = csu.get(f"/csu/returns/{mreturn.id}").text
    assert "Previous quarter" in page
    row = re.search(r"<th scope=\"row\"[^>]*>Referrals.*?</tr>", page, re.S).group(0)
    assert [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] == ["12", "—", "No target", "800"]


def test_figures_on_the_review_page_are_formatted_like_everywhere_else(csu, two_orgs):
    """Thousands separated, decimals to two places: "24,000" and "5,900.50", never "24000" or "5900.50"."""
    make_return(two_orgs["davss_project"], 1, "approved", at=datetime(2021, 7, 1, tzinfo=UTC), value="5900.5")
    mreturn = make_return(
        two_orgs["davss_project"], 2, "submitted", at=datetime(2021, 10, 1, tzinfo=UTC), value="24000"
    )
    page = csu.get(f"/csu/returns/{mreturn.id}").text
    row = re.search(r"<th scope=\"row\"[^>]*>Referrals.*?</tr>", page, re.S).group(0)
    assert [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][:2] == ["24,000", "5,900.50"]
    assert "None" not in page


def test_an_unknown_return_is_not_found(csu, two_orgs):
    assert csu.get("/csu/returns/999").status_code == 404
    assert csu.post("/csu/returns/999/approve", data={"version": "1"}).status_code == 404


# -- decisions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", ["", "   ", "\n\t"])
def test_requesting_changes_needs_a_comment(csu, submitted, comment):
    before = state(submitted.id)
    response = csu.post(
        f"/csu/returns/{submitted.id}/request-changes", data={"version": str(before[1]), "comment": comment}
    )
    assert response.status_code == 422
    assert response.text.count("Enter what needs to change") >= 2  # in the summary and beside the field
    assert state(submitted.id) == before


def test_an_over_long_or_control_character_comment_is_refused(csu, submitted):
    before = state(submitted.id)
    for comment, message in (
        ("x" * 2001, "What needs to change must be 2,000 characters or fewer"),
        ("Fix\x00this", "What needs to change must not contain control characters such as NUL"),
    ):
        response = csu.post(
            f"/csu/returns/{submitted.id}/request-changes", data={"version": str(before[1]), "comment": comment}
        )
        assert response.status_code == 422 and message in response.text
    assert state(submitted.id) == before


def test_requesting_changes_keeps_the_comment_and_tells_the_partner(csu, partner, two_orgs, submitted):
    comment = "Referrals look high\nagainst Q1: please check."
    response = csu.post(
        f"/csu/returns/{submitted.id}/request-changes", data={"version": str(submitted.version), "comment": comment}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/csu/reviews")
    status, _, stored, _, _ = state(submitted.id)
    assert (status, stored) == ("changes_requested", comment)
    assert "Sent the Q2 return for" in csu.get("/csu/reviews").text
    assert "Referrals look high" in partner.get("/partner/").text
    overview = partner.get(url(two_orgs["davss_project"], 2)).text
    assert "The Community Safety Unit asked for changes" in overview and "Referrals look high" in overview


@pytest.mark.parametrize(
    ("action", "data"), [("approve", {}), ("request-changes", {"comment": "Please check the figures."})]
)
def test_a_decision_from_a_stale_version_is_refused(csu, partner, two_orgs, submitted, action, data):
    stale = str(submitted.version)
    # Meanwhile the return was sent back, changed and submitted again.
    db.session.execute(
        MonitoringReturn.__table__.update()
        .where(MonitoringReturn.id == submitted.id)
        .values(version=MonitoringReturn.version + 2)
    )
    db.session.commit()
    before = state(submitted.id)
    response = csu.post(f"/csu/returns/{submitted.id}/{action}", data={"version": stale, **data})
    assert response.status_code == 409
    assert "This return changed after you opened it. Check it again before you decide." in response.text
    # Every form on the page now carries the current version: a decision taken from it goes ahead.
    versions = re.findall(r'<input[^>]*name="version"[^>]*value="(\d+)"', response.text)
    assert versions and set(versions) == {str(before[1])}
    assert state(submitted.id) == before
    (conflict,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "monitoring_return.conflict"))
    assert (conflict.actor_id, conflict.object_id) == (two_orgs["csu"].id, submitted.id)
    refused = {"approve": "approval", "request-changes": "request for changes"}[action]
    assert conflict.details == {"refused": refused, "posted_version": int(stale), "current_version": before[1]}
    if data:
        assert data["comment"] in response.text  # what was typed stays
    response = csu.post(f"/csu/returns/{submitted.id}/approve", data={"version": versions[0]})
    assert response.status_code == 302
    assert state(submitted.id)[0] == "approved"


def test_approving_an_approved_return_is_refused(csu, two_orgs, submitted):
    assert csu.post(f"/csu/returns/{submitted.id}/approve", data={"version": str(submitted.version)}).status_code == 302
    before = state(submitted.id)
    assert before[0] == "approved"
    for action, data in (("approve", {}), ("request-changes", {"comment": "Too late"})):
        response = csu.post(f"/csu/returns/{submitted.id}/{action}", data={"version": str(before[1]), **data})
        assert response.status_code == 409
        assert "This return is approved: it cannot be changed that way" in response.text
    assert state(submitted.id) == before


def test_only_an_approved_return_can_be_reopened(csu, submitted):
    before = state(submitted.id)
    response = csu.post(f"/csu/returns/{submitted.id}/reopen", data={"version": str(before[1]), "reason": "Why not"})
    assert response.status_code == 409
    assert "This return is submitted: it cannot be changed that way" in response.text
    assert state(submitted.id) == before


def test_a_decision_with_a_missing_or_forged_version_is_refused(csu, submitted):
    before = state(submitted.id)
    for version in ("", "abc", "-1"):
        response = csu.post(f"/csu/returns/{submitted.id}/approve", data={"version": version})
        assert response.status_code == 422, version
    assert state(submitted.id) == before


def test_revisions_are_listed_and_compared_on_the_review_page(csu, partner, two_orgs):
    project = two_orgs["davss_project"]
    data = {"version": "0", f"m{project.measures[0].id}": "10", "save_continue": "Save and continue"}
    assert partner.post(url(project, 1, "outputs"), data=data).status_code == 302
    data = {"version": "1", "spend": "2500", "save_continue": "y"}
    assert partner.post(url(project, 1, "spend"), data=data).status_code == 302
    data = {"version": "2", "progress": "P", "partner_rag": "red", "partner_rag_reason": "R", "save_continue": "y"}
    assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', partner.get(url(project, 1, "check")).text).group(1)
    assert partner.post(url(project, 1, "check"), data={"version": "3", "submission_key": key}).status_code == 302
    mreturn = db.session.scalar(select(MonitoringReturn))
    data = {"version": str(mreturn.version), "comment": "Change the rating"}
    assert csu.post(f"/csu/returns/{mreturn.id}/request-changes", data=data).status_code == 302
    data = {"version": str(state(mreturn.id)[1]), "progress": "P", "partner_rag": "amber", "partner_rag_reason": "R"}
    assert partner.post(url(project, 1, "narrative"), data={**data, "save_continue": "y"}).status_code == 302
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', partner.get(url(project, 1, "check")).text).group(1)
    version = str(state(mreturn.id)[1])
    assert partner.post(url(project, 1, "check"), data={"version": version, "submission_key": key}).status_code == 302

    page = csu.get(f"/csu/returns/{mreturn.id}").text
    assert "Revision 1" in page and "Revision 2" in page
    assert "Change the rating" in page  # the history keeps the comment
    compare = csu.get(f"/csu/returns/{mreturn.id}/compare?from=1&to=2").text
    changed = re.findall(r'<tr class="govuk-table__row portal-changed">\s*<th scope="row"[^>]*>([^<]+)</th>', compare)
    assert changed == ["Rating"]
    assert csu.get(f"/csu/returns/{mreturn.id}/compare?from=1&to=9").status_code == 404
    assert csu.get(f"/csu/returns/{mreturn.id}/revisions/2").status_code == 200
    revisions = db.session.scalars(select(ReturnRevision).order_by(ReturnRevision.number)).all()
    assert [revision.partner_rag for revision in revisions] == ["red", "amber"]


# -- htmx fragment and full page ----------------------------------------------------------------


def test_autosave_as_htmx_returns_a_fragment_with_the_new_version(partner, two_orgs):
    project = two_orgs["davss_project"]
    name = f"m{project.measures[0].id}"
    response = partner.post(
        url(project, 1, "outputs"), data={"version": "0", name: "12", "autosave": "1"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text and "govuk-header" not in response.text
    assert re.search(r"Draft saved at \d{2}:\d{2}", response.text)
    mreturn = db.session.scalar(select(MonitoringReturn))
    assert mreturn.value_of(project.measures[0].id) == 12 and mreturn.status == "draft"
    oob = re.search(r'<input[^>]*id="version"[^>]*>', response.text).group(0)
    assert 'hx-swap-oob="true"' in oob and f'value="{mreturn.version}"' in oob

    # The next autosave carries that version and succeeds; a blank answer is fine in a draft.
    data = {"version": str(mreturn.version), name: "", "autosave": "1"}
    response = partner.post(url(project, 1, "outputs"), data=data, headers=HTMX)
    assert response.status_code == 200 and "Draft saved at" in response.text
    db.session.expire_all()
    assert db.session.scalar(select(MonitoringReturn)).value_of(project.measures[0].id) is None


def test_an_invalid_autosave_returns_a_fragment_naming_the_field(partner, two_orgs):
    project = two_orgs["davss_project"]
    name = f"m{project.measures[0].id}"
    response = partner.post(
        url(project, 1, "outputs"), data={"version": "0", name: "1e3", "autosave": "1"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "Draft not saved: check Referrals" in response.text and "<html" not in response.text
    assert 'id="version"' not in response.text
    assert db.session.scalar(select(func.count()).select_from(MonitoringReturn)) == 0


def test_the_autosave_form_posted_without_javascript_is_a_full_page_save(partner, two_orgs):
    """The form always carries autosave=1; without htmx's header it is an ordinary save and redirect."""
    project = two_orgs["davss_project"]
    name = f"m{project.measures[0].id}"
    page = partner.get(url(project, 1, "outputs")).text
    assert '<input type="hidden" name="autosave" value="1">' in page
    response = partner.post(url(project, 1, "outputs"), data={"version": "0", name: "12", "autosave": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 1))
    assert "Your answers were saved at" in partner.get(response.headers["Location"]).text
    response = partner.post(url(project, 1, "outputs"), data={"version": "1", name: "1e3", "autosave": "1"})
    assert response.status_code == 422 and "<html" in response.text and "There is a problem" in response.text


def test_an_htmx_request_that_is_not_an_autosave_gets_the_full_page(partner, two_orgs):
    project = two_orgs["davss_project"]
    name = f"m{project.measures[0].id}"
    response = partner.post(url(project, 1, "outputs"), data={"version": "0", name: "x", **LATER}, headers=HTMX)
    assert response.status_code == 422 and "<html" in response.text


def test_an_autosave_of_a_submitted_return_is_refused_with_a_fragment(partner, two_orgs, submitted):
    project = two_orgs["davss_project"]
    before = state(submitted.id)
    data = {"version": str(before[1]), "progress": "Sneaky change", "autosave": "1"}
    response = partner.post(url(project, 2, "narrative"), data=data, headers=HTMX)
    assert response.status_code == 409
    assert "This return has been submitted" in response.text and "<html" not in response.text
    assert state(submitted.id) == before
    page = partner.get(url(project, 2, "narrative")).text
    assert "cannot be changed" in page and "hx-post" not in page and "Save and continue" not in page
