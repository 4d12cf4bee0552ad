"""Fixtures: an app per test on a fresh database (SQLite by default, PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import email as email_lib
import email.policy
import os
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy import event

from portal import create_app
from portal.auth.loader import IDENTITY_CONFIRMED_AT
from portal.database import sqlite_begin_mode
from portal.extensions import db
from portal.models import (
    FinancialYear,
    FundingStream,
    Organisation,
    OutputMeasure,
    Priority,
    Project,
    User,
    UserRole,
)
from portal.services.passwords import hash_password

TEST_PASSWORD = "correct horse battery staple"
# `make test` runs the suite twice: on SQLite, then with PORTAL_TEST_BACKEND=postgresql on TEST_DATABASE_URL.
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") if os.environ.get("PORTAL_TEST_BACKEND") == "postgresql" else None
CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-the-check",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        # Cheap hashes in tests; production uses the RFC 9106 profile from config.py.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "SERVER_NAME": None,
        # The suite signs staff in through the password form alone; tests/test_mfa.py and the MFA browser
        # tests set the real default (config.Config.MFA_REQUIRED_ROLES) explicitly.
        "MFA_REQUIRED_ROLES": (),
    }


# -- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """One schema per test session: a SQLite file to copy, or a PostgreSQL database to truncate."""
    if POSTGRES_URL:
        admin_engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"portal_test_{uuid.uuid4().hex[:10]}"
        with admin_engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        app = create_app(base_config(url))
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        yield {"kind": "postgresql", "url": url}
        with admin_engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        app = create_app(base_config(f"sqlite:///{path}"))
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        yield {"kind": "sqlite", "path": path}


@pytest.fixture
def database_url(database_template, tmp_path):
    if database_template["kind"] == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(database_template["path"], path)
        yield f"sqlite:///{path}"
    else:
        yield database_template["url"]
        engine = sa.create_engine(database_template["url"])
        tables = ", ".join(f'"{table.name}"' for table in db.Model.metadata.sorted_tables)
        with engine.begin() as connection:
            # Append-only triggers fire on DELETE, not on TRUNCATE: a clean slate per test.
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        engine.dispose()


@pytest.fixture
def app_config():
    """Override in a module to change the app's configuration."""
    return {}


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (fresh g and session), as on a real server.

    The test's own context stays pushed for factories and assertions; it is rolled back after each
    request so the test then reads what the request committed.
    """

    def open(self, *args, **kwargs):
        db.session.commit()  # what the test set up is visible to the request, and no lock is held
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.rollback()
        # The test's own reads must not take SQLite's write lock (see portal/database.py).
        sqlite_begin_mode.set("DEFERRED")
        return response


@pytest.fixture
def app(database_url, app_config):
    app = create_app({**base_config(database_url), **app_config})
    app.test_client_class = IsolatedClient
    sqlite_begin_mode.set("DEFERRED")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class _Runner:
    """The CLI runner; afterwards the test's session is rolled back to read what the command wrote."""

    def __init__(self, app):
        self._runner = app.test_cli_runner(mix_stderr=False) if _accepts_mix_stderr() else app.test_cli_runner()

    def invoke(self, *args, **kwargs):
        db.session.commit()
        result = self._runner.invoke(*args, **kwargs)
        db.session.rollback()
        return result


def _accepts_mix_stderr() -> bool:
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


@pytest.fixture
def runner(app):
    return _Runner(app)


# -- factories ----------------------------------------------------------------------------------


@pytest.fixture
def make_org(app):
    def make(short_name: str = "ORG", name: str | None = None, **fields) -> Organisation:
        org = Organisation(short_name=short_name, name=name or f"{short_name} organisation", **fields)
        db.session.add(org)
        db.session.commit()
        return org

    return make


@pytest.fixture
def make_year(app):
    def make(start_year: int = 2021, **fields) -> FinancialYear:
        year = FinancialYear(start_year=start_year, return_due_days=fields.pop("return_due_days", 14), **fields)
        db.session.add(year)
        db.session.commit()
        return year

    return make


@pytest.fixture
def make_stream(app):
    def make(
        year: FinancialYear,
        name: str = "PCC Crime Reduction Grant",
        amount_pence: int = 3_421_800,
        funder: str = "Kent Police and Crime Commissioner",
    ) -> FundingStream:
        stream = FundingStream(year=year, name=name, funder=funder, amount_pence=amount_pence)
        db.session.add(stream)
        db.session.commit()
        return stream

    return make


@pytest.fixture
def make_project(app):
    def make(
        org: Organisation,
        stream: FundingStream,
        name: str = "A project",
        amount_pence: int = 1_000_000,
        priority: Priority | None = None,
        measures: list[dict] | None = None,
    ) -> Project:
        project = Project(
            organisation=org,
            year=stream.year,
            funding_stream=stream,
            name=name,
            amount_pence=amount_pence,
            priority=priority,
            actions=[],
        )
        db.session.add(project)
        for position, spec in enumerate(measures or []):
            spec = {"unit": "people", "combine": "sum", **spec}
            if "annual_target" in spec and spec["annual_target"] is not None:
                spec["annual_target"] = Decimal(spec["annual_target"])
            db.session.add(OutputMeasure(project=project, position=position, **spec))
        db.session.commit()
        return project

    return make


@pytest.fixture
def make_user(app):
    def make(
        email: str = "user@example.org",
        roles: tuple[str, ...] = ("csu",),
        org: Organisation | None = None,
        password: str = TEST_PASSWORD,
        active: bool = True,
    ) -> User:
        user = User(
            email=email,
            name=email.split("@")[0],
            password_hash=hash_password(password),
            organisation=org,
            active=active,
            role_rows=[UserRole(role=role) for role in roles],
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


def login_as(client, user: User) -> None:
    """Sign a test client in as a user without going through the form."""
    with client.session_transaction() as session:
        session["_user_id"] = user.session_token
        session["_fresh"] = True
        # As a real sign-in does (auth/loader.py): just now, so an admin's change needs no "Confirm it's you".
        session[IDENTITY_CONFIRMED_AT] = int(time.time())


@pytest.fixture
def login():
    return login_as


def csrf_token_from(html: str) -> str:
    match = CSRF_TOKEN.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def two_orgs(make_org, make_year, make_stream, make_project, make_user):
    """Two partner organisations with a project each, and a user of each role."""
    year = make_year(2021)
    stream = make_stream(year)
    davss = make_org("DAVSS", "Domestic Abuse Volunteer Support Services")
    kenward = make_org("Kenward", "Kenward Trust")
    davss_project = make_project(
        davss,
        stream,
        "Support for Medium & High Risk Victims - Domestic Abuse",
        measures=[{"name": "Referrals", "annual_target": 800}],
    )
    kenward_project = make_project(
        kenward, stream, "Youth Diversionary & Targeted Youth Project", measures=[{"name": "Young people worked with"}]
    )
    return {
        "year": year,
        "stream": stream,
        "davss": davss,
        "kenward": kenward,
        "davss_project": davss_project,
        "kenward_project": kenward_project,
        "partner_a": make_user("a@davss.example", ("partner",), davss),
        "partner_b": make_user("b@kenward.example", ("partner",), kenward),
        "csu": make_user("csu@council.example", ("csu",)),
        "finance": make_user("finance@council.example", ("finance",)),
        "admin": make_user("admin@council.example", ("admin",)),
    }


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def count_queries(app):
    def counter() -> QueryCounter:
        return QueryCounter(db.engine)

    return counter


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


# -- a real SMTP server for mail tests (aiosmtpd, in this process) -----------------------------


class MailCatcher:
    """An aiosmtpd handler that keeps what it accepts; `refuse` makes it answer DATA with that reply instead,
    and `hang_up` makes it take the message and drop the connection before answering."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: str | None = None
        self.hang_up = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.messages.append(email_lib.message_from_bytes(envelope.original_content, policy=email_lib.policy.default))
        if self.hang_up:
            server.transport.close()
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    catcher: MailCatcher
    controller: object | None = None

    @property
    def messages(self) -> list:
        return self.catcher.messages

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.catcher, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A listening SMTP server on 127.0.0.1 and a free port; `.stop()` and `.start()` take it down and up."""
    server = SmtpServer(port=free_port(), catcher=MailCatcher())
    server.start()
    yield server
    server.stop()


def mail_config(port: int) -> dict:
    """Send to a local server in plain SMTP; links in mail on a public address unlike the test client's."""
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_SECURITY": "none",
        "MAIL_TIMEOUT_SECONDS": 5,
        "PUBLIC_URL": "https://portal.example",
    }
