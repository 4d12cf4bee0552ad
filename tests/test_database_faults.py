"""The database failing: unreachable, locked or slow. Every page answers 503 with the service's own page (never a
bare 500 or a traceback), typed answers are shown again to be sent once more, and an autosave gets one short line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import MonitoringReturn
from tests.conftest import POSTGRES_URL, base_config

HTMX = {"HX-Request": "true"}
AUTOSAVE_TARGET = {"HX-Request": "true", "HX-Target": "div#autosave-status"}
LATER = {"save_later": "Save and come back later"}
TYPED = {
    "progress": "Typed during the outage: 64 referrals & 51 <closed> cases.",
    "case_study": "A client was helped to move to safe housing.",
    "challenges": "Recruiting volunteers in the rural west.",
    "partner_rag": "amber",
    "partner_rag_reason": "Referrals are behind the profile.",
}
# A database nobody can reach: a directory that does not exist (as a read-only or missing volume gives
# "unable to open database file"), and a PostgreSQL port where nothing listens.
DEAD_DATABASES = [
    pytest.param("sqlite:////nonexistent-volume/portal/portal.db", id="sqlite-unreadable"),
    pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/portal", id="postgresql-refusing"),
]


def narrative_url(project, quarter: int = 1) -> str:
    return f"/partner/projects/{project.id}/q{quarter}/narrative"


def the_return(project, quarter: int = 1) -> MonitoringReturn | None:
    return db.session.scalar(
        select(MonitoringReturn).where(MonitoringReturn.project_id == project.id, MonitoringReturn.quarter == quarter)
    )


def assert_service_page(response, status: int, heading: str) -> None:
    """The portal's own GOV.UK page with that status: not gunicorn's, not Werkzeug's, no traceback."""
    assert response.status_code == status
    assert "govuk-template__header" in response.text
    assert heading in response.text
    assert "Traceback" not in response.text and "OperationalError" not in response.text
    assert "Sign out" not in response.text  # no signed-in navigation: that would need the database


# -- the database unreachable (S2) -------------------------------------------------------------------


@pytest.fixture
def signed_in_cookie(app, client, two_orgs, login):
    """A partner's session cookie, made while the database was up."""
    login(client, two_orgs["partner_a"])
    assert client.get("/partner/").status_code == 200
    cookie = client.get_cookie("portal")
    assert cookie is not None
    return cookie.value


@pytest.fixture(params=DEAD_DATABASES)
def dead_client(request, signed_in_cookie):
    """The same deployment (same secret) after its database became unreachable, with the partner's cookie."""
    dead = create_app(base_config(request.param))
    client = dead.test_client()
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"  # as a browser posting from the portal's page
    client.set_cookie("portal", signed_in_cookie)
    yield client
    with dead.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/partner/", "/no-access", "/accessibility", "/partner/projects/1/q1/outputs"])
def test_a_signed_in_page_answers_503_with_the_service_page_when_the_database_is_unreachable(dead_client, path):
    assert_service_page(dead_client.get(path), 503, "Sorry, the service is busy")


def test_a_signed_out_page_answers_503_too(signed_in_cookie, two_orgs):
    dead = create_app(base_config("postgresql+psycopg://postgres@127.0.0.1:1/portal"))
    response = dead.test_client().post("/sign-in", data={"email": "a@davss.example", "password": "x" * 12})
    assert_service_page(response, 503, "Sorry, the service is busy")


def test_a_save_while_the_database_is_unreachable_keeps_what_was_typed(dead_client, two_orgs):
    path = narrative_url(two_orgs["davss_project"])
    response = dead_client.post(path, data={"version": "3", **TYPED, **LATER})
    assert response.status_code == 503
    assert "Traceback" not in response.text
    assert str(escape(TYPED["progress"])) in response.text  # shown again, to be sent once more
    assert f'action="{path}"' in response.text


def test_an_autosave_while_the_database_is_unreachable_gets_one_status_line(dead_client, two_orgs):
    path = narrative_url(two_orgs["davss_project"])
    response = dead_client.post(path, data={"version": "3", **TYPED, "autosave": "1"}, headers=HTMX)
    assert response.status_code == 503
    assert "<html" not in response.text and "govuk-template__header" not in response.text
    assert "not saved" in response.text


def test_when_even_the_error_page_cannot_be_drawn_a_plain_page_keeps_the_status(dead_client, monkeypatch):
    import portal.errors

    def broken(*args, **kwargs):
        raise RuntimeError("template store unreadable")

    monkeypatch.setattr(portal.errors, "render_template", broken)
    response = dead_client.get("/partner/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Sorry, the service is busy" in response.text and '<html lang="en">' in response.text
    assert "Traceback" not in response.text


def test_an_unexpected_error_gives_the_500_page_without_asking_the_database(app, client, two_orgs, login, monkeypatch):
    import portal.partner.returns

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(portal.partner.returns, "_respond", broken)
    login(client, two_orgs["partner_a"])
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    response = None
    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with monkeypatch.context() as patch:
            import portal.errors

            drawn = portal.errors._draw

            def draw_and_mark(*args, **kwargs):
                statements.append("-- drawing --")
                return drawn(*args, **kwargs)

            patch.setattr(portal.errors, "_draw", draw_and_mark)
            response = client.get(narrative_url(two_orgs["davss_project"]))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert_service_page(response, 500, "Sorry, there is a problem with the service")
    drawing = statements.index("-- drawing --")
    assert statements[drawing + 1 :] == []  # nothing asked of the database once the page was being drawn


# -- a write blocked by a lock (S8, S11) ---------------------------------------------------------------


@pytest.fixture
def app_config():
    # Short waits, so a test meets the timeout in a second rather than in production's 5 or 15 seconds.
    return {"DATABASE_LOCK_TIMEOUT_SECONDS": 0.5, "DATABASE_BUSY_TIMEOUT_SECONDS": 0.5}


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"  # as a browser posting from the portal's page
    login(client, two_orgs["partner_a"])
    return client


@pytest.fixture
def saved_draft(partner, two_orgs):
    project = two_orgs["davss_project"]
    response = partner.post(narrative_url(project), data={"version": "0", **TYPED, "progress": "Saved before", **LATER})
    assert response.status_code == 302
    return the_return(project)


class HeldLock:
    """Another connection holding what a save needs: the return's row (PostgreSQL) or the write lock (SQLite)."""

    def __init__(self, database_url: str, return_id: int):
        self.engine = sa.create_engine(database_url)
        self.connection = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self.connection.begin()
            row_lock = sa.text("SELECT id FROM monitoring_return WHERE id = :id FOR UPDATE")
            self.connection.execute(row_lock, {"id": return_id})

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()
        self.engine.dispose()


def test_a_save_blocked_by_a_lock_answers_503_and_keeps_what_was_typed(partner, two_orgs, saved_draft, database_url):
    project = two_orgs["davss_project"]
    path = narrative_url(project)
    lock = HeldLock(database_url, saved_draft.id)
    try:
        response = partner.post(path, data={"version": str(saved_draft.version), **TYPED, **LATER})
    finally:
        lock.release()
    assert response.status_code == 503
    assert "Traceback" not in response.text
    assert "too busy to save your answers" in response.text
    for answer in TYPED.values():
        assert str(escape(answer)) in response.text
    assert f'action="{path}"' in response.text
    db.session.expire_all()
    kept = the_return(project)
    assert kept.progress == "Saved before" and kept.version == saved_draft.version  # nothing saved
    # Sent again once the lock is gone: saved.
    response = partner.post(path, data={"version": str(saved_draft.version), **TYPED, **LATER})
    assert response.status_code == 302
    db.session.expire_all()
    assert the_return(project).progress == TYPED["progress"]


def test_an_autosave_blocked_by_a_lock_gets_one_status_line(partner, two_orgs, saved_draft, database_url):
    lock = HeldLock(database_url, saved_draft.id)
    try:
        response = partner.post(
            narrative_url(two_orgs["davss_project"]),
            data={"version": str(saved_draft.version), **TYPED, "autosave": "1"},
            headers=HTMX,
        )
    finally:
        lock.release()
    assert response.status_code == 503
    assert "<html" not in response.text and "govuk-template__header" not in response.text
    assert "not saved" in response.text


def test_a_save_blocked_by_a_lock_gives_up_before_the_worker_is_killed(partner, two_orgs, saved_draft, database_url):
    """The wait is the configured timeout, not gunicorn's 30 seconds."""
    import time

    lock = HeldLock(database_url, saved_draft.id)
    try:
        started = time.monotonic()
        response = partner.post(
            narrative_url(two_orgs["davss_project"]), data={"version": str(saved_draft.version), **TYPED, **LATER}
        )
        waited = time.monotonic() - started
    finally:
        lock.release()
    assert response.status_code == 503
    assert waited < 5


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's lock and statement timeouts")
def test_every_postgresql_connection_has_the_timeouts(app):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "500ms"
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "20s"


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's statement timeout")
@pytest.mark.parametrize("app_config", [{"DATABASE_STATEMENT_TIMEOUT_SECONDS": 0.3}])
def test_a_statement_running_too_long_answers_503(app, partner, two_orgs, monkeypatch):
    import portal.partner.returns

    original = portal.partner.returns._load

    def slow_load(*args, **kwargs):
        db.session.execute(sa.text("SELECT pg_sleep(2)"))
        return original(*args, **kwargs)

    monkeypatch.setattr(portal.partner.returns, "_load", slow_load)
    response = partner.get(narrative_url(two_orgs["davss_project"]))
    assert_service_page(response, 503, "Sorry, the service is busy")


def test_the_default_waits_end_well_before_gunicorns_30_second_worker_timeout():
    from portal.config import Config

    assert Config.DATABASE_LOCK_TIMEOUT_SECONDS < Config.DATABASE_STATEMENT_TIMEOUT_SECONDS < 30
    assert Config.DATABASE_BUSY_TIMEOUT_SECONDS < 30


def test_the_waits_can_be_set_from_the_environment():
    from portal.config import database_timeout_settings

    assert database_timeout_settings({"DATABASE_LOCK_TIMEOUT_SECONDS": "2.5"}) == {"DATABASE_LOCK_TIMEOUT_SECONDS": 2.5}
    for bad in ("soon", "-1", "nan", "9999"):
        with pytest.raises(RuntimeError, match="DATABASE_STATEMENT_TIMEOUT_SECONDS"):
            database_timeout_settings({"DATABASE_STATEMENT_TIMEOUT_SECONDS": bad})


# -- refused autosaves (S12) ----------------------------------------------------------------------------


def assert_status_line(response, status: int) -> None:
    assert response.status_code == status
    assert "<html" not in response.text and "govuk-template__header" not in response.text
    assert "Sign out" not in response.text
    assert "portal-autosave--failed" in response.text
    assert len(response.text) < 400


def test_an_autosave_too_large_gets_a_status_line(partner, two_orgs):
    response = partner.post(
        narrative_url(two_orgs["davss_project"]),
        data={"version": "0", **TYPED, "progress": "x" * (3 * 1024 * 1024), "autosave": "1"},
        headers=AUTOSAVE_TARGET,
    )
    assert_status_line(response, 413)
    assert "too long" in response.text


def test_an_autosave_that_meets_a_bug_gets_a_status_line(partner, two_orgs, monkeypatch):
    import portal.partner.returns

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(portal.partner.returns, "_save", broken)
    response = partner.post(
        narrative_url(two_orgs["davss_project"]), data={"version": "0", **TYPED, "autosave": "1"}, headers=HTMX
    )
    assert_status_line(response, 500)


def test_an_autosave_of_another_organisations_return_gets_a_status_line(partner, two_orgs):
    response = partner.post(
        narrative_url(two_orgs["kenward_project"]), data={"version": "0", **TYPED, "autosave": "1"}, headers=HTMX
    )
    assert_status_line(response, 404)


def test_a_plain_htmx_request_that_is_no_autosave_still_gets_the_page(partner, two_orgs):
    response = partner.get("/partner/projects/999999/q1/", headers=HTMX)
    assert response.status_code == 404 and "Page not found" in response.text


# -- the database taking reads but refusing writes (F10) ---------------------------------------------


FULL_OR_READ_ONLY = [
    pytest.param("read_only", id="read-only"),
    pytest.param("full", id="disk-full", marks=pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's page cap")),
]


@pytest.fixture(params=FULL_OR_READ_ONLY)
def read_only_database(request, app, partner, saved_draft):
    """From now on every connection may read but not write: a volume remounted read-only after a disk fault
    (SQLite's `query_only`), PostgreSQL failed over to a standby that is still read-only, or a full disk
    (SQLite capped at the pages it has: a save that needs one more page fails as on a full volume)."""

    def refuse_writes(connection, _record):
        cursor = connection.cursor()
        if db.engine.dialect.name != "sqlite":
            cursor.execute("SET default_transaction_read_only = on")
            connection.commit()
        elif request.param == "full":
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
        else:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    db.session.remove()
    db.engine.dispose()
    sa.event.listen(db.engine, "connect", refuse_writes)
    yield
    sa.event.remove(db.engine, "connect", refuse_writes)
    db.session.remove()
    db.engine.dispose()


def test_while_writes_are_refused_pages_still_read_and_a_save_keeps_what_was_typed(
    partner, two_orgs, saved_draft, read_only_database, caplog
):
    project = two_orgs["davss_project"]
    path = narrative_url(project)
    assert partner.get("/partner/").status_code == 200  # reading goes on
    page = partner.get(path)
    assert page.status_code == 200 and "Saved before" in page.text

    long_text = "A long answer that needs new pages of its own. "
    typed = {**TYPED, "progress": long_text * 100, "case_study": long_text * 60, "challenges": long_text * 60}
    response = partner.post(path, data={"version": str(saved_draft.version), **typed, **LATER})
    assert response.status_code == 503
    assert "too busy to save your answers" in response.text and "Traceback" not in response.text
    for answer in typed.values():
        assert str(escape(answer)) in response.text
    assert "database unavailable on POST" in caplog.text  # logged for the operator
    db.session.expire_all()
    kept = the_return(project)
    assert kept.progress == "Saved before" and kept.version == saved_draft.version  # nothing partial

    autosave = partner.post(path, data={"version": str(saved_draft.version), **typed, "autosave": "1"}, headers=HTMX)
    assert autosave.status_code == 503 and "not saved" in autosave.text and "<html" not in autosave.text
