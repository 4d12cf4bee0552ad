"""The schema comes from the migrations on an empty database, and the models agree with it."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.extensions import db
from tests.conftest import POSTGRES_URL, base_config


@pytest.fixture
def empty_database_url(tmp_path):
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"portal_migrate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def migrated_app(empty_database_url):
    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.Model.metadata)


def test_upgrade_from_empty_builds_every_table(migrated_app):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(db.Model.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_models_and_migrations_agree(migrated_app):
    assert schema_differences() == []


def test_migrated_database_refuses_to_change_audit_events(migrated_app):
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO audit_event (at, action, object_type, summary, details) "
                "VALUES (CURRENT_TIMESTAMP, 'test', 'test', 'kept', '{}')"
            )
        )
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_event SET summary = 'changed'"))
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_event"))
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT summary FROM audit_event")).scalar_one() == "kept"


def test_downgrade_to_nothing_and_up_again(migrated_app):
    downgrade(revision="base")
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert schema_differences() == []


def test_a_seeded_database_survives_a_step_down_and_up(migrated_app):
    """Table rebuilds on SQLite must not trip over foreign keys or lose rows (a real upgrade has data)."""
    from portal.services import demo

    demo.load("migration-demo-password")
    db.session.commit()
    tables = ("organisation", "project", "monitoring_return", "measure_value", "return_revision", "audit_event")

    def counts():
        with db.engine.connect() as connection:
            return {table: connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() for table in tables}

    before = counts()
    assert before["monitoring_return"] > 0
    db.session.remove()
    downgrade(revision="-1")
    upgrade()
    assert counts() == before
    assert schema_differences() == []
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:  # the pooled connection enforces foreign keys again
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_revisions_stay_append_only_across_the_personal_data_override_step(migrated_app):
    """Adding (and dropping) the override's columns may rebuild return_revision on SQLite: its triggers stay."""
    for step in ("down", "up"):
        if step == "down":
            downgrade(revision="5c1e7d0a2f34")
        else:
            upgrade()
        with db.engine.connect() as connection:
            if db.engine.dialect.name == "sqlite":
                names = connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'return_revision'")
                ).scalars()
                assert set(names) == {"return_revision_no_update", "return_revision_no_delete"}
            else:
                names = connection.execute(
                    sa.text(
                        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'return_revision'::regclass AND NOT tgisinternal"
                    )
                ).scalars()
                assert set(names) == {"return_revision_append_only"}
    columns = {column["name"] for column in sa.inspect(db.engine).get_columns("return_revision")}
    assert {"personal_data_kinds", "personal_data_reason"} <= columns
