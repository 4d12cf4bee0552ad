"""`flask backup create PATH` and `flask backup restore PATH`: a checked copy, restored only into an empty database,
after which the portal works on it as before. On SQLite and on PostgreSQL (which needs pg_dump and pg_restore)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, Payment, User
from portal.services.backup import postgresql_tool
from tests.conftest import POSTGRES_URL, TEST_PASSWORD, base_config

NARRATIVE = {
    "progress": "Took 64 referrals and closed 51 cases.",
    "case_study": "",
    "challenges": "",
    "partner_rag": "green",
    "partner_rag_reason": "On profile.",
    "save_later": "Save and come back later",
}


def _postgresql_tools_missing() -> str | None:
    missing = [name for name in ("pg_dump", "pg_restore") if postgresql_tool(name) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (PostgreSQL client programs)"
        print(f"SKIPPED: {reason}")
        return reason
    return None


@pytest.fixture
def populated(app, client, two_orgs, login):
    """A database with a saved return, a payment and their audit rows, put there through the pages."""
    if db.engine.dialect.name == "postgresql" and (reason := _postgresql_tools_missing()):
        pytest.skip(reason)
    login(client, two_orgs["partner_a"])
    project = two_orgs["davss_project"]
    response = client.post(f"/partner/projects/{project.id}/q1/narrative", data={"version": "0", **NARRATIVE})
    assert response.status_code == 302
    login(client, two_orgs["finance"])
    response = client.post(
        f"/finance/projects/{project.id}/payments",
        data={"amount": "1000.00", "paid_on": ["1", "5", "2021"], "reference": "BACS-1", "note": "", "reason": ""},
    )
    assert response.status_code == 302
    return two_orgs


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = sorted(sa.inspect(connection).get_table_names())
        return {name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


@pytest.fixture
def empty_database_url(tmp_path):
    """A new, empty database: a file name on SQLite, a new database on PostgreSQL."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'restored' / 'portal.db'}"
        return
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"portal_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def invoke(app, *args):
    """A command of another app (its own database): the test's app context would otherwise be used."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
        db.engine.dispose()
    return result


def test_a_backup_is_written_checked_and_described(app, runner, populated, tmp_path):
    path = tmp_path / "backups" / "portal.backup"
    path.parent.mkdir()
    before = row_counts(db.engine)
    result = runner.invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 0, result.output
    assert f"Backup written to {path} and checked" in result.output
    assert f"{sum(before.values())} rows" in result.output
    manifest = json.loads((tmp_path / "backups" / "portal.backup.manifest.json").read_text())
    assert manifest["row_counts"] == before
    assert manifest["row_counts"]["payment"] == 1 and manifest["row_counts"]["monitoring_return"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["portal.backup", "portal.backup.manifest.json"]
    if db.engine.dialect.name == "sqlite":
        with sqlite3.connect(path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_backup_restored_into_an_empty_database_is_the_same_and_works(
    app, runner, populated, tmp_path, empty_database_url
):
    path = tmp_path / "portal.backup"
    assert runner.invoke(args=["backup", "create", str(path)]).exit_code == 0
    source_counts = row_counts(db.engine)

    restored = create_app(base_config(empty_database_url))
    result = invoke(restored, "backup", "restore", str(path))
    assert result.exit_code == 0, result.output
    assert f"Restored {path} and checked" in result.output
    with restored.app_context():
        assert row_counts(db.engine) == source_counts
        # The same people and records, and the append-only guards came back with them.
        assert db.session.scalar(select(func.count()).select_from(User)) == 5
        assert db.session.scalars(select(MonitoringReturn.progress)).one() == NARRATIVE["progress"]
        assert db.session.scalars(select(Payment.amount_pence)).one() == 100_000
        with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE payment SET amount_pence = 1"))
        with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM audit_event"))
        db.session.remove()
        db.engine.dispose()
    # A partner signs in and reads the return; new audit rows get new ids (the sequences came back too).
    client = restored.test_client()
    response = client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD})
    assert response.status_code == 302
    path = f"/partner/projects/{populated['davss_project'].id}/q1/narrative"
    page = client.get(path)
    assert page.status_code == 200 and "Took 64 referrals" in page.text
    response = client.post(path, data={"version": "1", **NARRATIVE, "progress": "Changed after the restore"})
    assert response.status_code == 302
    with restored.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > source_counts["audit_event"]
        assert db.session.scalars(select(MonitoringReturn.progress)).one() == "Changed after the restore"
        db.session.remove()
        db.engine.dispose()


def test_a_restore_into_a_database_that_holds_data_is_refused(app, runner, populated, tmp_path):
    path = tmp_path / "portal.backup"
    assert runner.invoke(args=["backup", "create", str(path)]).exit_code == 0
    before = row_counts(db.engine)
    result = runner.invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1
    assert "Not restored" in result.stderr and "only into an empty database" in result.stderr
    assert row_counts(db.engine) == before


def test_a_backup_that_does_not_match_its_manifest_is_not_restored(
    app, runner, populated, tmp_path, empty_database_url
):
    path = tmp_path / "portal.backup"
    assert runner.invoke(args=["backup", "create", str(path)]).exit_code == 0
    manifest = path.with_name("portal.backup.manifest.json")
    described = json.loads(manifest.read_text())
    described["row_counts"]["payment"] = 7
    manifest.write_text(json.dumps(described))
    restored = create_app(base_config(empty_database_url))
    result = invoke(restored, "backup", "restore", str(path))
    assert result.exit_code == 1
    assert "payment 7 → 1" in result.stderr


@pytest.mark.skipif(bool(POSTGRES_URL), reason="a damaged SQLite file")
def test_a_damaged_sqlite_backup_is_not_restored(app, runner, populated, tmp_path, empty_database_url):
    path = tmp_path / "portal.backup"
    assert runner.invoke(args=["backup", "create", str(path)]).exit_code == 0
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of the copy overwritten
    path.write_bytes(bytes(data))
    restored = create_app(base_config(empty_database_url))
    result = invoke(restored, "backup", "restore", str(path))
    assert result.exit_code == 1
    assert "Not restored" in result.stderr
    assert not Path(empty_database_url.removeprefix("sqlite:///")).exists()


def test_a_missing_backup_or_folder_is_a_clear_refusal(app, runner, tmp_path):
    result = runner.invoke(args=["backup", "restore", str(tmp_path / "nothing.backup")])
    assert result.exit_code == 1 and "no such backup file" in result.stderr
    result = runner.invoke(args=["backup", "create", str(tmp_path / "no-folder" / "x.backup")])
    assert result.exit_code == 1 and "is not a folder" in result.stderr


def test_the_postgresql_password_stays_off_the_command_line():
    from portal.services.backup import _pg_environment

    url = sa.engine.make_url("postgresql+psycopg://portal:s3cret@db.example:6543/grants?sslmode=require")
    environment = _pg_environment(url)
    assert environment["PGPASSWORD"] == "s3cret" and environment["PGHOST"] == "db.example"
    assert environment["PGPORT"] == "6543" and environment["PGDATABASE"] == "grants"
    assert environment["PGSSLMODE"] == "require"
