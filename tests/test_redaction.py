"""Redaction: a passage of a submitted return removed for good, from every copy, and the removal audited.

The scenario is the issue's: a case study names a victim and her postcode, the partner submits it anyway, the
CSU sends it back, the partner removes it and submits again; revision 1 still holds it until the CSU redacts.
"Gone" is checked where a person could find it (every page and export) and where it could hide (the raw bytes
of the SQLite file and its write-ahead log; every PostgreSQL table read as text).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, ReturnRevision
from portal.models.vocabulary import REDACTED_TEXT
from tests.test_personal_data_guard import REASON, hidden_fields
from tests.test_returns_safety import HTMX, NARRATIVE, check_form, complete, the_return, url

PASSAGE = "Mrs Jones of 14 Oak Road, TN13 1AA"
PROGRESS = f"We supported {PASSAGE} through her court date. Took 64 referrals."
WHY = "A victim's name and home address"


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


def submit(partner, project, **narrative):
    """A first submission, or (once sent back) the narrative changed and submitted again."""
    mreturn = the_return(project)
    if mreturn is None:
        complete(partner, project, **narrative)
    else:
        data = {"version": str(mreturn.version), **NARRATIVE, **narrative, "save_continue": "Save and continue"}
        assert partner.post(url(project, 1, "narrative"), data=data).status_code == 302
    form = check_form(partner, project)
    form["personal_data_reason"] = REASON
    assert partner.post(url(project, 1, "check"), data=form).status_code == 302
    return the_return(project)


def decide(csu, mreturn, action: str, **extra):
    fields = hidden_fields(csu.get(f"/csu/returns/{mreturn.id}").text, f"/csu/returns/{mreturn.id}/{action}")
    assert csu.post(f"/csu/returns/{mreturn.id}/{action}", data={**fields, **extra}).status_code == 302


def redact(client, mreturn, number: int = 1, **form):
    data = {"field": "progress", "passage": PASSAGE, "reason": WHY, **form}
    return client.post(f"/csu/returns/{mreturn.id}/revisions/{number}/redact", data=data)


@pytest.fixture
def sent_back_and_cleaned(partner, csu, two_orgs):
    """Revision 1 holds the passage; revision 2, submitted after the CSU sent it back, does not; approved."""
    project = two_orgs["davss_project"]
    mreturn = submit(partner, project, progress=PROGRESS)
    decide(csu, mreturn, "request-changes", comment="Please remove the client's name and address.")
    mreturn = submit(partner, project, progress="Took 64 referrals.")
    decide(csu, mreturn, "approve")
    db.session.expire_all()
    return the_return(project)


def pages(partner, csu, mreturn) -> dict[str, str]:
    """Everything a person could read the passage in: pages, comparison, exports and the Word document."""
    project = mreturn.project
    label = project.year.label
    found = {
        "review": csu.get(f"/csu/returns/{mreturn.id}").text,
        "csu revision 1": csu.get(f"/csu/returns/{mreturn.id}/revisions/1").text,
        "csu compare": csu.get(f"/csu/returns/{mreturn.id}/compare?from=1&to=2").text,
        "partner return": partner.get(url(project, 1)).text,
        "partner revision 1": partner.get(url(project, 1, "revisions/1")).text,
        "partner compare": partner.get(url(project, 1, "compare") + "?from=1&to=2").text,
        "csu project": csu.get(f"/csu/projects/{project.id}").text,
        "annual report": csu.get(f"/csu/{label}/annual-report").text,
        "audit trail": csu.get("/audit/").text,
        "audit trail csv": csu.get("/audit/events.csv").text,
        "projects csv": csu.get(f"/csu/{label}/projects.csv").text,
    }
    document = docx.Document(io.BytesIO(csu.get(f"/csu/{label}/annual-report.docx").data))
    found["annual report docx"] = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    return found


def database_text(app) -> str | bytes:
    """What the database holds: the raw bytes of the SQLite file and its log, or every PostgreSQL row as text."""
    url_ = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url_.get_backend_name() == "sqlite":
        path = Path(url_.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    rows = []
    for table in db.Model.metadata.sorted_tables:
        rows += db.session.execute(sa.text(f'SELECT CAST(t AS text) FROM "{table.name}" AS t')).scalars().all()
    return "\n".join(rows)


def holds(app, text: str) -> bool:
    found = database_text(app)
    return text.encode() in found if isinstance(found, bytes) else text in found


# -- the CSU removes a passage -----------------------------------------------------------------


def test_the_passage_is_gone_from_every_page_and_export_and_marked_removed(app, partner, csu, sent_back_and_cleaned):
    mreturn = sent_back_and_cleaned
    before = pages(partner, csu, mreturn)
    assert PASSAGE in before["csu revision 1"] and PASSAGE in before["partner compare"]

    response = redact(csu, mreturn)
    assert response.status_code == 302
    assert "Removed the passage from 1 place" in csu.get(response.headers["Location"]).text

    after = pages(partner, csu, mreturn)
    for name, text in after.items():
        assert PASSAGE not in text, name
        assert "TN13 1AA" not in text and "Mrs Jones" not in text, name
    assert f"We supported {REDACTED_TEXT} through her court date." in after["csu revision 1"]
    assert REDACTED_TEXT in after["partner revision 1"] and REDACTED_TEXT in after["csu compare"]
    # The rest of the revision is as submitted.
    revision = db.session.scalar(select(ReturnRevision).where(ReturnRevision.number == 1))
    assert revision.case_study == NARRATIVE["case_study"] and revision.partner_rag == "green"


def test_the_passage_is_gone_from_the_database_itself(app, partner, csu, sent_back_and_cleaned):
    assert holds(app, PASSAGE)  # the search can find it: without the redaction this test fails
    assert redact(csu, sent_back_and_cleaned).status_code == 302
    db.session.remove()
    assert not holds(app, PASSAGE)
    assert not holds(app, "14 Oak Road")


def test_an_approved_passage_is_gone_from_the_published_report_and_every_revision(app, partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    mreturn = submit(partner, project, progress=PROGRESS, case_study=f"In short: {PASSAGE}.")
    decide(csu, mreturn, "approve")
    label = project.year.label
    assert PASSAGE in csu.get(f"/csu/{label}/annual-report").text

    response = redact(csu, mreturn)
    assert response.status_code == 302
    assert "Removed the passage from 4 places" in csu.get(response.headers["Location"]).text  # revision + return, ×2
    db.session.expire_all()
    mreturn = the_return(project)
    assert mreturn.progress == f"We supported {REDACTED_TEXT} through her court date. Took 64 referrals."
    assert mreturn.case_study == f"In short: {REDACTED_TEXT}."
    report = csu.get(f"/csu/{label}/annual-report").text
    assert PASSAGE not in report and REDACTED_TEXT in report
    db.session.remove()
    assert not holds(app, PASSAGE)


def test_the_redaction_is_audited_with_who_when_and_why_never_the_passage(app, csu, two_orgs, sent_back_and_cleaned):
    mreturn = sent_back_and_cleaned
    assert redact(csu, mreturn).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "monitoring_return.redacted"))
    assert event.actor_id == two_orgs["csu"].id and event.at is not None
    assert event.object_id == mreturn.id and event.details["comment"] == WHY
    assert event.details["revision"] == 1 and event.details["field"] == "Progress this quarter"
    assert PASSAGE not in str(event.details) and PASSAGE not in event.summary
    history = csu.get(f"/csu/returns/{mreturn.id}").text
    assert "Passage removed" in history and "A victim&#39;s name and home address" in history


def test_a_partner_editing_the_return_cannot_write_the_passage_back_over_the_redaction(partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    mreturn = submit(partner, project, progress=PROGRESS)
    decide(csu, mreturn, "request-changes", comment="Please remove the address.")
    db.session.expire_all()
    stale_version = str(the_return(project).version)
    assert redact(csu, the_return(project)).status_code == 302
    # The partner's page was opened before the redaction: its save is refused as stale, not written over it.
    response = partner.post(
        url(project, 1, "narrative"), data={"version": stale_version, **NARRATIVE, "progress": PROGRESS}, headers=HTMX
    )
    assert response.status_code == 409
    db.session.expire_all()
    assert PASSAGE not in the_return(project).progress


# -- who, and bad input --------------------------------------------------------------------------


def test_an_admin_may_redact_finance_may_not_and_a_partner_finds_nothing(app, login, two_orgs, sent_back_and_cleaned):
    mreturn = sent_back_and_cleaned
    for role, status in (("partner_a", 404), ("partner_b", 404), ("finance", 403)):
        client = app.test_client()
        login(client, two_orgs[role])
        assert client.get(f"/csu/returns/{mreturn.id}/revisions/1/redact").status_code == status, role
        assert redact(client, mreturn).status_code == status, role
    db.session.expire_all()
    assert PASSAGE in db.session.scalar(select(ReturnRevision.progress).where(ReturnRevision.number == 1))
    admin = app.test_client()
    login(admin, two_orgs["admin"])
    assert redact(admin, mreturn).status_code == 302


def test_the_csu_sees_the_earlier_revision_still_holds_it_and_a_link_to_remove_it(csu, sent_back_and_cleaned):
    mreturn = sent_back_and_cleaned
    page = csu.get(f"/csu/returns/{mreturn.id}").text
    panel = re.search(r'id="personal-data-revisions">(.*?)</div>', page, re.S).group(1)
    assert "Revision 1 (a name with a title, a street address, a postcode)" in panel
    assert f"/csu/returns/{mreturn.id}/revisions/1/redact" in panel
    revision_page = csu.get(f"/csu/returns/{mreturn.id}/revisions/1").text
    assert f"/csu/returns/{mreturn.id}/revisions/1/redact" in revision_page
    assert redact(csu, mreturn).status_code == 302
    assert 'id="personal-data-revisions"' not in csu.get(f"/csu/returns/{mreturn.id}").text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"passage": ""}, "passage", "Enter the passage to remove"),
        ({"passage": "Mr Smith"}, "passage", "Enter text exactly as it appears in the answer you selected"),
        ({"field": "case_study"}, "passage", "Enter text exactly as it appears in the answer you selected"),
        ({"field": "values"}, "field", "Not a valid choice"),
        ({"reason": ""}, "reason", "Enter why the passage is being removed"),
        ({"reason": f"It says {PASSAGE}"}, "reason", "Do not repeat the passage in the reason"),
        ({"reason": "x" * 501}, "reason", "500 characters or fewer"),
    ],
)
def test_bad_input_is_explained_beside_the_field_and_changes_nothing(csu, sent_back_and_cleaned, form, field, message):
    mreturn = sent_back_and_cleaned
    events = db.session.scalar(select(sa.func.count()).select_from(AuditEvent))
    response = redact(csu, mreturn, **form)
    assert response.status_code == 422
    assert message in response.text
    assert f'href="#{field}"' in response.text  # the error summary links to the field
    assert 'class="govuk-error-summary"' in response.text
    typed = form.get("passage", PASSAGE)
    assert typed.replace("'", "&#39;") in response.text  # what was typed is kept
    db.session.expire_all()
    assert PASSAGE in db.session.scalar(select(ReturnRevision.progress).where(ReturnRevision.number == 1))
    assert db.session.scalar(select(sa.func.count()).select_from(AuditEvent)) == events


def test_a_revision_that_does_not_exist_is_not_found(csu, sent_back_and_cleaned):
    assert csu.get(f"/csu/returns/{sent_back_and_cleaned.id}/revisions/9/redact").status_code == 404


# -- the database allows only this change to a revision ----------------------------------------


def test_the_database_refuses_any_other_change_to_a_revision(sent_back_and_cleaned):
    revision_id = db.session.scalar(select(ReturnRevision.id).where(ReturnRevision.number == 1))
    for statement in (
        "UPDATE return_revision SET progress = 'Rewritten by hand' WHERE id = :id",
        "UPDATE return_revision SET spend_pence = 1 WHERE id = :id",
        f"UPDATE return_revision SET spend_pence = 1, progress = '{REDACTED_TEXT}' WHERE id = :id",
        "DELETE FROM return_revision WHERE id = :id",
    ):
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.text(statement), {"id": revision_id})
        db.session.rollback()
    db.session.execute(
        sa.text(f"UPDATE return_revision SET progress = 'Took {REDACTED_TEXT} referrals.' WHERE id = :id"),
        {"id": revision_id},
    )
    db.session.rollback()


# -- a draft keeps no copy of what the partner deleted -----------------------------------------


def test_text_deleted_from_a_draft_before_submitting_leaves_no_copy(app, partner, two_orgs):
    project = two_orgs["davss_project"]
    complete(partner, project)
    version = str(the_return(project).version)
    data = {"version": version, **NARRATIVE, "progress": PROGRESS, "autosave": "1"}
    assert partner.post(url(project, 1, "narrative"), data=data, headers=HTMX).status_code == 200
    assert holds(app, PASSAGE)
    db.session.expire_all()
    version = str(the_return(project).version)
    data = {"version": version, **NARRATIVE, "progress": "Took 64 referrals.", "autosave": "1"}
    assert partner.post(url(project, 1, "narrative"), data=data, headers=HTMX).status_code == 200
    db.session.remove()
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not holds(app, PASSAGE)


def test_every_sqlite_connection_zeroes_what_it_deletes(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("secure_delete is SQLite's")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_mail_quoting_the_passage_keeps_no_copy(app, partner, csu, two_orgs):
    project = two_orgs["davss_project"]
    mreturn = submit(partner, project, progress=PROGRESS)
    decide(csu, mreturn, "request-changes", comment=f"Please take out “{PASSAGE}”.")
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "return_sent_back")).all()
    assert sent and all(PASSAGE in message.text_body for message in sent)
    assert redact(csu, the_return(project)).status_code == 302
    db.session.expire_all()
    for message in db.session.scalars(select(OutboxMessage)):
        assert PASSAGE not in message.text_body and "14 Oak Road" not in message.html_body
    for message in sent:
        assert REDACTED_TEXT in message.text_body and REDACTED_TEXT in message.html_body
    assert the_return(project).review_comment == f"Please take out “{REDACTED_TEXT}”."
