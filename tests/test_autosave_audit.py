"""Autosave is a lean path: the trail keeps one "draft saved" event per section and person per
AUTOSAVE_AUDIT_MINUTES (every submission and change of state still one event each), an autosave's queries do
not grow with the number of output measures, and the save is one UPDATE checking version, state and ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import event, select, update

from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn
from portal.models.vocabulary import AUTOSAVE_AUDIT_MINUTES
from portal.services import returns as service
from tests.test_returns_safety import HTMX, NARRATIVE, SAVE, check_form, the_return, url

EDITOR = "0123456789abcdef"  # the page's own token (one open form)
OTHER_PAGE = "fedcba9876543210"
WINDOW = timedelta(minutes=AUTOSAVE_AUDIT_MINUTES)


def autosave(client, project, page: str, data: dict, *, editor: str = EDITOR, version: str | None = None):
    if version is None:
        mreturn = the_return(project)
        version = str(mreturn.version) if mreturn else "0"
    response = client.post(
        url(project, 1, page), data={"version": version, "editor": editor, "autosave": "1", **data}, headers=HTMX
    )
    assert response.status_code == 200, response.text
    assert "Draft saved at" in response.text
    return response


def events(project, action: str = "monitoring_return.saved") -> list[AuditEvent]:
    db.session.expire_all()
    mreturn = the_return(project)
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == mreturn.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def clock():
    with freeze_time("2021-06-10 09:00:00") as frozen:
        yield frozen


@pytest.fixture
def partner(app, two_orgs, login, clock):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


def referrals(project) -> str:
    return f"m{project.measures[0].id}"


def test_two_autosaves_within_the_window_keep_one_event_and_the_latest_answer(partner, two_orgs, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "5"})
    clock.tick(timedelta(minutes=4))
    autosave(partner, project, "outputs", {referrals(project): "6"})
    clock.tick(WINDOW - timedelta(minutes=4, seconds=1))  # just inside the window of the first
    autosave(partner, project, "outputs", {referrals(project): "7"})
    saved = events(project)
    assert len(saved) == 1
    assert saved[0].details["section"] == "outputs"
    assert saved[0].actor_id == two_orgs["partner_a"].id
    assert the_return(project).value_of(project.measures[0].id) == 7  # every autosave was saved


def test_an_autosave_after_the_window_writes_a_second_event(partner, two_orgs, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "5"})
    clock.tick(WINDOW + timedelta(seconds=1))
    autosave(partner, project, "outputs", {referrals(project): "6"})
    saved = events(project)
    assert len(saved) == 2
    assert saved[1].details["changes"] == {"Referrals": ["5", "6"]}


def test_another_section_and_another_person_each_get_their_own_event(app, partner, two_orgs, make_user, login, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "5"})
    autosave(partner, project, "narrative", {"progress": "Started the groups."})
    autosave(partner, project, "spend", {"spend": "100.00"})
    colleague = app.test_client()
    login(colleague, make_user("colleague@davss.example", ("partner",), two_orgs["davss"]))
    autosave(colleague, project, "outputs", {referrals(project): "9"}, editor=OTHER_PAGE)
    autosave(partner, project, "narrative", {"progress": "Started the groups and the helpline."})
    saved = events(project)
    assert [(event.details["section"], event.actor_id) for event in saved] == [
        ("outputs", two_orgs["partner_a"].id),
        ("narrative", two_orgs["partner_a"].id),
        ("spend", two_orgs["partner_a"].id),
        ("outputs", colleague_id(colleague_email="colleague@davss.example")),
    ]


def colleague_id(colleague_email: str) -> int:
    from portal.models import User

    return db.session.scalar(select(User.id).where(User.email == colleague_email))


def test_a_refused_stale_save_does_not_restart_the_window(partner, two_orgs, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "5"})
    stale = partner.post(
        url(project, 1, "outputs"),
        data={"version": "0", "editor": OTHER_PAGE, referrals(project): "9", "autosave": "1"},
        headers=HTMX,
    )
    assert stale.status_code == 409
    assert len(events(project, "monitoring_return.conflict")) == 1
    autosave(partner, project, "outputs", {referrals(project): "6"})
    assert len(events(project)) == 1


def test_a_button_save_is_always_recorded(partner, two_orgs, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "5"})
    version = str(the_return(project).version)
    data = {"version": version, "editor": EDITOR, referrals(project): "6", **SAVE}
    assert partner.post(url(project, 1, "outputs"), data=data).status_code == 302
    assert len(events(project)) == 2


def test_submissions_and_changes_of_state_stay_one_event_each(app, partner, two_orgs, login, clock):
    project = two_orgs["davss_project"]
    autosave(partner, project, "outputs", {referrals(project): "64"})
    autosave(partner, project, "spend", {"spend": "2500.00", "spend_explanation": ""})
    autosave(partner, project, "narrative", NARRATIVE)
    autosave(partner, project, "narrative", {**NARRATIVE, "progress": "More progress."})
    assert len(events(project)) == 3
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    assert len(events(project, "monitoring_return.submitted")) == 1
    csu = app.test_client()
    login(csu, two_orgs["csu"])
    mreturn = the_return(project)
    sent_back = csu.post(
        f"/csu/returns/{mreturn.id}/request-changes", data={"version": str(mreturn.version), "comment": "Fix Q1"}
    )
    assert sent_back.status_code == 302
    assert len(events(project, "monitoring_return.changes_requested")) == 1
    # Within the window of the last narrative save, but the return was sent back since: a new record begins.
    autosave(partner, project, "narrative", {**NARRATIVE, "progress": "Fixed."})
    autosave(partner, project, "narrative", {**NARRATIVE, "progress": "Fixed, again."})
    assert len(events(project)) == 4
    assert partner.post(url(project, 1, "check"), data=check_form(partner, project)).status_code == 302
    assert len(events(project, "monitoring_return.submitted")) == 2


# -- the number of queries ----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["outputs", "narrative"])
def test_an_autosaves_queries_are_few_and_do_not_grow_with_the_measures(
    app, two_orgs, make_project, login, count_queries, page
):
    counts = []
    for size in (3, 12):
        project = make_project(
            two_orgs["davss"],
            two_orgs["stream"],
            f"Project with {size} measures",
            measures=[{"name": f"Measure {number}", "annual_target": 40} for number in range(size)],
        )
        client = app.test_client()
        login(client, two_orgs["partner_a"])
        figures = {f"m{measure.id}": "3" for measure in project.measures}
        autosave(client, project, "outputs", figures)  # the draft exists, with every figure
        autosave(client, project, "narrative", {"progress": "First words."})
        changed = {name: "4" for name in figures} if page == "outputs" else {"progress": "More words."}
        version = str(the_return(project).version)
        with count_queries() as counter:
            autosave(client, project, page, changed, version=version)
        counts.append(counter.count)
        assert len(events(project)) == 2  # coalesced: the second autosave of each section wrote no event
    assert counts[0] == counts[1], counts
    # Signed-in user with their roles, project, return with its values, measures, the UPDATE(s), the audit window;
    # nothing read again after the commit (tests/test_lean_pages.py counts it against more projects too).
    assert counts[0] <= 12, counts


# -- one UPDATE that checks version, state and ownership ------------------------------------------


def draft(two_orgs):
    project = two_orgs["davss_project"]
    service.save_spend(project, 1, 100, None, version=0, by=two_orgs["partner_a"])
    db.session.commit()
    return project, the_return(project)


def test_a_save_is_one_update_checking_version_state_and_ownership(app, two_orgs):
    project, mreturn = draft(two_orgs)
    statements: list[str] = []

    def log(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        service.save_spend(
            project, 1, 200, None, version=mreturn.version, by=two_orgs["partner_a"], current=mreturn, autosave=True
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
    updates = [statement for statement in statements if statement.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1, updates
    assert "version" in updates[0] and "status" in updates[0] and "organisation_id" in updates[0]
    db.session.commit()
    assert (the_return(project).spend_pence, the_return(project).version) == (200, 2)


def test_another_organisations_person_cannot_save_a_draft_even_with_it_in_hand(app, two_orgs):
    project, mreturn = draft(two_orgs)
    with pytest.raises(service.ReturnConflict):
        service.save_spend(project, 1, 999, None, version=mreturn.version, by=two_orgs["partner_b"], current=mreturn)
    db.session.expire_all()
    assert (the_return(project).spend_pence, the_return(project).version) == (100, 1)


def test_a_draft_submitted_since_it_was_read_is_not_changed(app, two_orgs):
    project, mreturn = draft(two_orgs)
    # Submitted behind the object's back (its version left as it was, so only the state in the WHERE tells).
    table = MonitoringReturn.__table__
    db.session.execute(update(table).where(table.c.id == mreturn.id).values(status="submitted"))
    assert mreturn.status == "draft"
    with pytest.raises(service.ReturnConflict):
        service.save_spend(project, 1, 999, None, version=mreturn.version, by=two_orgs["partner_a"], current=mreturn)
    db.session.expire_all()  # (the refusal rolled back the pretend submission too)
    assert the_return(project).spend_pence == 100
