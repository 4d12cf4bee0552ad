"""The personal-data guard where the text is typed, and an override that is a recorded decision the CSU sees.

Without JavaScript: every save that brings something new shows the page again, the warning beside the answer and
a summary linking to it. With JavaScript (htmx): each answer is checked by the portal after a pause in typing.
Submitting over findings needs a reason; the revision and the audit trail keep the kinds and the reason, never
the matched words.
"""

from __future__ import annotations

import html
import json
import logging
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, ReturnRevision
from portal.models.vocabulary import AUDIT_REASON_GIVEN, PERSONAL_DATA_FLAG
from tests.conftest import csrf_token_from
from tests.test_returns_safety import (
    HTMX,
    LATER,
    NARRATIVE,
    SAVE,
    check_form,
    complete,
    count,
    the_return,
    url,
)

POSTCODE = "TN13 1AA"
# (answer, its page, what is typed)
FIELDS = [
    ("progress", "narrative", f"We visited a client at {POSTCODE} twice."),
    ("case_study", "narrative", f"Mrs Jones of {POSTCODE} called on 07700 900123."),
    ("challenges", "narrative", f"Outreach near {POSTCODE} was hard."),
    ("partner_rag_reason", "narrative", f"One client moved to {POSTCODE}."),
    ("spend_explanation", "spend", f"Rent paid for the flat at {POSTCODE}."),
]
MATCHED = [POSTCODE, "Mrs Jones", "07700 900123", "12 High Street"]
REASON = "Mrs Jones is our volunteer coordinator and the postcode is our office."


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


def region(page: str, name: str) -> str:
    """The inside of the warning region beside an answer."""
    found = re.search(rf'<div id="personal-data-{name}"[^>]*>(.*?)</div>\s*(?=<|$)', page, re.S)
    assert found, f"no warning region beside {name}"
    start = found.start(1)
    # The region holds nested divs: take everything up to the next form group or button group.
    ends = (page.find('<div class="govuk-form-group', start), page.find("govuk-button-group", start))
    end = min(i for i in ends if i > 0)
    return page[start:end]


def saved_form(client, project, page: str) -> dict[str, str]:
    """The page's fields as saved, as a browser would send them back."""
    text = client.get(url(project, 1, page)).text
    data = {"version": str(the_return(project).version)}
    if page == "narrative":
        data.update(NARRATIVE)
    else:
        data.update({"spend": "2500.00", "spend_explanation": ""})
    assert 'name="version"' in text
    return data


def logged_text(caplog) -> str:
    return "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''} {record.__dict__!r}"
        for record in caplog.records
    )


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to action (its first one), as a browser would send them."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S).group(1)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag).group(1)
            fields[name] = html.unescape(re.search(r'value="([^"]*)"', tag).group(1))
    return fields


def audit_details() -> str:
    return "\n".join(json.dumps(event.details, ensure_ascii=False) for event in db.session.scalars(select(AuditEvent)))


# -- without JavaScript: on every save ----------------------------------------------------------


@pytest.mark.parametrize(("name", "page", "typed"), FIELDS, ids=[name for name, _, _ in FIELDS])
def test_a_save_shows_the_warning_beside_the_answer_and_in_the_summary(partner, two_orgs, name, page, typed):
    project = two_orgs["davss_project"]
    complete(partner, project)
    data = {**saved_form(partner, project, page), name: typed, **SAVE}
    response = partner.post(url(project, 1, page), data=data)
    # Saved (a warning never blocks a draft), but the page comes back instead of moving on.
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url(project, 1, page))
    assert getattr(the_return(project), name) == typed

    shown = partner.get(url(project, 1, page)).text
    assert "look like they contain personal information" in shown  # the flashed message
    beside = region(shown, name)
    assert "a postcode" in beside and f"<mark>{POSTCODE}</mark>" in beside
    summary = re.search(r'id="personal-data-summary">(.*?)</div>', shown, re.S).group(1)
    assert f'href="#{name}"' in summary and "a postcode" in summary
    # The other answers on the page carry no warning.
    for other, other_page, _ in FIELDS:
        if other_page == page and other != name:
            assert "govuk-warning-text" not in region(shown, other)

    # Saving again with nothing new moves on: the partner has seen the warning.
    again = {**data, "version": str(the_return(project).version)}
    response = partner.post(url(project, 1, page), data=again)
    assert response.status_code == 302
    assert not response.headers["Location"].endswith(url(project, 1, page))


def test_the_case_study_names_every_kind_found(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    typed = "Mrs Jones of 12 High Street, TN13 1AA, called on 07700 900123."
    data = {**saved_form(partner, project, "narrative"), "case_study": typed, **LATER}
    assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    beside = region(partner.get(url(project, 1, "narrative")).text, "case_study")
    for label, text in [
        ("a name with a title", "Mrs Jones"),
        ("a street address", "12 High Street"),
        ("a postcode", POSTCODE),
        ("a phone number", "07700 900123"),
    ]:
        assert f"{label}: <mark>{text}</mark>" in beside


def test_an_invalid_save_warns_from_what_was_posted(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    data = {**saved_form(partner, project, "narrative"), "case_study": f"Moved to {POSTCODE}.", "progress": "", **SAVE}
    response = partner.post(url(project, 1, "narrative"), data=data)
    assert response.status_code == 422  # progress is required on Save and continue
    assert f"<mark>{POSTCODE}</mark>" in region(response.text, "case_study")
    assert the_return(project).case_study == NARRATIVE["case_study"]  # nothing saved


def test_clean_answers_carry_no_warning(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project, progress="12 people attended the group on Station Road in April 2021.")
    page = partner.get(url(project, 1, "narrative")).text
    assert "personal-data-summary" not in page
    for name, page_name, _ in FIELDS:
        if page_name == "narrative":
            assert "govuk-warning-text" not in region(page, name)


# -- with JavaScript: the portal checks one answer after a pause in typing ------------------------


@pytest.mark.parametrize(("name", "page", "typed"), FIELDS, ids=[name for name, _, _ in FIELDS])
def test_each_answer_asks_the_portal_to_check_it_as_it_is_typed(partner, two_orgs, name, page, typed):
    project = two_orgs["davss_project"]
    shown = partner.get(url(project, 1, page)).text
    textarea = re.search(rf'<textarea[^>]*name="{name}"[^>]*>', shown).group(0)
    assert f'hx-post="{url(project, 1, "personal-data-check")}"' in textarea
    assert 'hx-trigger="input changed delay:800ms"' in textarea
    assert f'hx-target="#personal-data-{name}"' in textarea
    assert html.unescape(re.search(r'hx-vals="([^"]*)"', textarea).group(1)) == json.dumps({"field": name})
    assert re.search(rf'<div id="personal-data-{name}" class="portal-personal-data" aria-live="polite">', shown)


@pytest.mark.parametrize(("name", "page", "typed"), FIELDS, ids=[name for name, _, _ in FIELDS])
def test_the_check_answers_with_the_warning_and_keeps_nothing(partner, two_orgs, caplog, name, page, typed):
    caplog.set_level(logging.DEBUG)
    project = two_orgs["davss_project"]
    complete(partner, project)
    before = (the_return(project).version, count(AuditEvent))
    response = partner.post(
        url(project, 1, "personal-data-check"),
        data={"field": name, name: typed, "version": "1", "autosave": "1"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "a postcode" in response.text and f"<mark>{POSTCODE}</mark>" in response.text
    assert "<html" not in response.text  # a fragment
    assert response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    assert (the_return(project).version, count(AuditEvent)) == before
    assert POSTCODE not in (getattr(the_return(project), name) or "")
    assert POSTCODE not in logged_text(caplog)


def test_the_check_of_clean_text_clears_the_warning(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = partner.post(
        url(project, 1, "personal-data-check"), data={"field": "case_study", "case_study": "12 people"}, headers=HTMX
    )
    assert response.status_code == 200 and "govuk-warning-text" not in response.text


@pytest.mark.parametrize("field", ["", "spend", "partner_rag", "review_comment"])
def test_the_check_refuses_anything_but_a_narrative_answer(partner, two_orgs, field):
    project = two_orgs["davss_project"]
    response = partner.post(
        url(project, 1, "personal-data-check"), data={"field": field, field: POSTCODE}, headers=HTMX
    )
    assert response.status_code == 422 and POSTCODE not in response.text


def test_the_check_needs_the_csrf_header(app_config, app, two_orgs, login):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    project = two_orgs["davss_project"]
    page = client.get(url(project, 1, "narrative")).text
    token = csrf_token_from(page)  # the same token as the X-CSRFToken header the page's body sends
    data = {"field": "case_study", "case_study": POSTCODE}
    assert client.post(url(project, 1, "personal-data-check"), data=data, headers=HTMX).status_code == 400
    response = client.post(url(project, 1, "personal-data-check"), data=data, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200 and "a postcode" in response.text


# -- an override is a decision, recorded --------------------------------------------------------


def submit_with_findings(partner, project, reason: str | None = REASON):
    complete(partner, project, case_study="Mrs Jones of 12 High Street, TN13 1AA, called on 07700 900123.")
    form = check_form(partner, project)
    if reason is not None:
        form["personal_data_reason"] = reason
    return partner.post(url(project, 1, "check"), data=form)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_no_submit_over_findings_without_a_reason(partner, two_orgs, reason):
    project = two_orgs["davss_project"]
    complete(partner, project, case_study=f"Moved to {POSTCODE}.")
    events_before = count(AuditEvent)
    form = check_form(partner, project)
    if reason is not None:
        form["personal_data_reason"] = reason
    response = partner.post(url(project, 1, "check"), data=form)
    assert response.status_code == 422
    assert "Say why these answers do not contain personal information" in response.text
    assert the_return(project).status == "draft"
    assert count(ReturnRevision) == 0 and count(AuditEvent) == events_before


def test_a_reason_over_the_limit_is_refused(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = submit_with_findings(partner, project, reason="x" * 501)
    assert response.status_code == 422 and "500 characters or fewer" in response.text
    assert count(ReturnRevision) == 0


def test_the_revision_records_the_override_and_the_trail_never_the_words(partner, two_orgs, caplog):
    caplog.set_level(logging.DEBUG)
    project = two_orgs["davss_project"]
    assert submit_with_findings(partner, project).status_code == 302
    revision = db.session.scalars(select(ReturnRevision)).one()
    assert revision.personal_data_kinds == ["phone", "postcode", "title_name", "address"]
    assert revision.personal_data_reason == REASON
    assert revision.overrode_personal_data

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "monitoring_return.submitted")).one()
    assert event.details["personal_data_overridden"] is True
    assert event.details["personal_data_reason"] == AUDIT_REASON_GIVEN
    assert set(event.details["personal_data_found"]) == {
        "a phone number",
        "a postcode",
        "a name with a title",
        "a street address",
    }
    trail = audit_details()
    logged = logged_text(caplog)
    for text in ["TN13 1AA", "07700 900123", "12 High Street"]:
        assert text not in trail
        assert text not in logged
    # Nor the partner's reason: it may hold personal data too, and only the revision (which a redaction reaches)
    # keeps it.
    assert "Mrs Jones" not in json.dumps(event.details) and REASON not in trail


def test_a_clean_submission_records_no_override(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    revision = db.session.scalars(select(ReturnRevision)).one()
    assert revision.personal_data_kinds is None and revision.personal_data_reason is None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "monitoring_return.submitted")).one()
    assert "personal_data_overridden" not in event.details


def test_a_reason_typed_for_clean_answers_is_not_kept(partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    form = {**check_form(partner, project), "personal_data_reason": "Nothing personal."}
    assert partner.post(url(project, 1, "check"), data=form).status_code == 302
    assert db.session.scalars(select(ReturnRevision.personal_data_reason)).one() is None


# -- the CSU sees it, and sends it back in one action -------------------------------------------


def test_the_queue_flags_the_return_and_the_review_page_shows_the_findings_and_reason(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    kenward = two_orgs["kenward_project"]
    assert submit_with_findings(partner, project).status_code == 302
    mreturn = the_return(project)

    queue = csu.get("/csu/reviews").text
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', queue, re.S)
    flagged = [row for row in rows if project.name.replace("&", "&amp;") in row]
    assert len(flagged) == 1 and PERSONAL_DATA_FLAG in flagged[0]
    assert queue.count(PERSONAL_DATA_FLAG) == 1
    assert kenward.name not in queue or PERSONAL_DATA_FLAG not in queue.split(kenward.name)[1].split("</tr>")[0]

    page = csu.get(f"/csu/returns/{mreturn.id}").text
    assert PERSONAL_DATA_FLAG in page
    table = re.search(r'id="personal-data-findings">(.*?)</table>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert cells == [
        "Case study", "a name with a title", "Mrs Jones",
        "Case study", "a street address", "12 High Street",
        "Case study", "a postcode", POSTCODE,
        "Case study", "a phone number", "07700 900123",
    ]  # fmt: skip
    assert html.escape(REASON, quote=False) in page.replace("&#39;", "'")


def test_one_action_sends_it_back_asking_for_the_text_to_be_removed(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    assert submit_with_findings(partner, project).status_code == 302
    mreturn = the_return(project)
    page = csu.get(f"/csu/returns/{mreturn.id}").text
    action = f"/csu/returns/{mreturn.id}/request-changes"
    form = re.search(r'<form[^>]*id="personal-data-send-back"[^>]*>(.*?)</form>', page, re.S).group(0)
    assert f'action="{action}"' in form
    fields = hidden_fields(form, action)
    assert set(fields) == {"version", "comment"}  # CSRF is off in these tests
    response = csu.post(action, data=fields)
    assert response.status_code == 302
    db.session.expire_all()
    mreturn = the_return(project)
    assert mreturn.status == "changes_requested"
    assert mreturn.review_comment.startswith("Some answers look like they contain personal information")
    assert "a postcode" in mreturn.review_comment and POSTCODE not in mreturn.review_comment
    # The partner sees the comment on the return.
    assert "Some answers look like they contain personal information" in html.unescape(
        partner.get(url(project, 1)).text
    )
    assert POSTCODE not in audit_details()


def test_a_clean_return_is_not_flagged(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    assert PERSONAL_DATA_FLAG not in csu.get("/csu/reviews").text
    page = csu.get(f"/csu/returns/{the_return(project).id}").text
    assert PERSONAL_DATA_FLAG not in page and "personal-data-send-back" not in page


def test_no_send_back_button_once_decided(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    assert submit_with_findings(partner, project).status_code == 302
    mreturn = the_return(project)
    fields = hidden_fields(csu.get(f"/csu/returns/{mreturn.id}").text, f"/csu/returns/{mreturn.id}/approve")
    assert csu.post(f"/csu/returns/{mreturn.id}/approve", data=fields).status_code == 302
    page = csu.get(f"/csu/returns/{mreturn.id}").text
    assert PERSONAL_DATA_FLAG in page and "personal-data-send-back" not in page
