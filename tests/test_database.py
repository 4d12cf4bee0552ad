"""SQLite is set up for concurrent writers: WAL, foreign keys, a busy timeout, BEGIN IMMEDIATE for writes."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from portal import create_app
from portal.extensions import db
from portal.models import Organisation, Project
from tests.conftest import POSTGRES_URL, base_config

sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite settings; PostgreSQL has its own locking")


@sqlite_only
def test_sqlite_pragmas(app):
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


@sqlite_only
def test_writes_take_the_lock_up_front_and_reads_do_not(app, client, two_orgs):
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        client.get("/sign-in")
        reads = list(statements)
        statements.clear()
        client.post("/sign-in", data={"email": "a@davss.example", "password": "wrong password"})
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert reads and set(reads) == {"BEGIN DEFERRED"}
    assert statements and set(statements) == {"BEGIN IMMEDIATE"}


def test_concurrent_writers_all_succeed(database_url, two_orgs):
    """Eight workers read-then-write at once: none fails with 'database is locked'."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(number: int):
        app = create_app(base_config(database_url))
        with app.app_context():
            try:
                barrier.wait()
                count = db.session.scalar(select(Organisation).limit(1))
                assert count is not None
                db.session.add(Organisation(short_name=f"W{number}", name=f"Worker {number}"))
                db.session.commit()
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()
                db.engine.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = db.session.scalars(select(Organisation.short_name).where(Organisation.short_name.like("W%"))).all()
    assert sorted(names) == [f"W{n}" for n in range(8)]


def test_foreign_keys_are_enforced(app, two_orgs):
    project = db.session.get(Project, two_orgs["davss_project"].id)
    project.organisation_id = 999_999
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("UPDATE project SET amount_pence = -1", "amount"),
        ("UPDATE funding_stream SET amount_pence = -5", "amount"),
        (
            "INSERT INTO monitoring_return (project_id, quarter, status, version, created_at, updated_at) "
            "SELECT id, 5, 'draft', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM project",
            "quarter",
        ),
        (
            "INSERT INTO monitoring_return (project_id, quarter, status, version, created_at, updated_at) "
            "SELECT id, 1, 'draft', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM project UNION ALL "
            "SELECT id, 1, 'draft', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM project",
            "one return per quarter",
        ),
        ("UPDATE output_measure SET combine = 'average'", "combine"),
    ],
)
def test_database_refuses_what_the_rules_forbid(app, two_orgs, statement, constraint):
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text(statement))
