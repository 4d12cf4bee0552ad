"""Browser tests: the portal served from a thread on its own demo database, driven in Debian's Chromium.

SQLite in a temporary directory by default; with PORTAL_TEST_BACKEND=postgresql and TEST_DATABASE_URL, a
scratch PostgreSQL database created for the session and dropped at the end. Without /usr/bin/chromium the
tests are skipped, unless PORTAL_REQUIRE_BROWSER=1, when they fail so that CI cannot pass silently.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.models import FinancialYear, FundingStream, Organisation, Priority, Project
from portal.services import demo
from tests.browser.browser_helpers import DEMO_PASSWORD
from tests.conftest import POSTGRES_URL, base_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # A global hook: mark only the tests in this directory.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests"
    if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PORTAL_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    _require_chromium()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# -- the live server ----------------------------------------------------------------------------


@dataclass
class LiveServer:
    app: Flask
    url: str


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory) -> Iterator[str]:
    if POSTGRES_URL:
        admin_engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"portal_browser_{uuid.uuid4().hex[:10]}"
        with admin_engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin_engine.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin_engine.dispose()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('browser') / 'portal.db'}"


@pytest.fixture(scope="session")
def live_server(browser_database_url) -> Iterator[LiveServer]:
    # Browsers post real forms: CSRF stays on.
    app = create_app({**base_config(browser_database_url), "WTF_CSRF_ENABLED": True})
    with app.app_context():
        db.create_all()
        demo.load(DEMO_PASSWORD)
        # The demo closes its past years at load; the finance and CSU journeys record payments, rate projects
        # and close a year in 2019-22, so the shared server has them open again (the current year is unchanged).
        for year in db.session.scalars(select(FinancialYear).where(FinancialYear.is_closed)):
            year.closed_at = None
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server.url


# Chromium reports a page answered with 422 (a form with errors) as a failed load: that one is expected.
EXPECTED_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of 422\b")
# GOV.UK Frontend reports a component it could not initialise with console.log, not console.error.
LOGGED_ERROR = re.compile(r"^\w*Error: ")


@pytest.fixture
def js_errors(page) -> list[str]:
    """Console errors (a script the Content-Security-Policy refused among them), errors GOV.UK Frontend logged,
    and uncaught exceptions."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and not EXPECTED_STATUS.match(message.text):
            errors.append(f"console: {message.text}")
        elif message.type != "error" and LOGGED_ERROR.match(message.text):
            errors.append(f"console.{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


# -- a year of paged lists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PagedYear:
    label: str
    priority_id: int  # the priority of all but the last PAGED_UNPRIORITISED projects


PAGED_PROJECTS = 30  # two pages of 25, two of 15
PAGED_UNPRIORITISED = 3  # so the priority's own list is 27 projects: its second page differs from the year's


@pytest.fixture
def paged_year(live_server) -> Iterator[PagedYear]:
    """2016-17, a year no other test reads: 30 projects of one organisation ("Paged project 00" to "29", the award
    growing with the number), all but the last three serving one priority. Removed afterwards."""
    with live_server.app.app_context():
        year = FinancialYear(start_year=2016, return_due_days=14)
        stream = FundingStream(year=year, name="Paged stream", funder="Paged funder", amount_pence=10_000_000)
        org = Organisation(short_name="PAGED", name="Paged Organisation")
        priority = Priority(year=year, name="Paged priority", rank=1)
        db.session.add_all([year, stream, org, priority])
        for number in range(PAGED_PROJECTS):
            db.session.add(
                Project(
                    organisation=org,
                    year=year,
                    funding_stream=stream,
                    priority=priority if number < PAGED_PROJECTS - PAGED_UNPRIORITISED else None,
                    name=f"Paged project {number:02d}",
                    amount_pence=100_00 * (number + 1),
                    actions=[],
                )
            )
        db.session.commit()
        ids = (year.id, stream.id, org.id, priority.id)
        found = PagedYear(label=year.label, priority_id=priority.id)
        db.session.remove()
    yield found
    with live_server.app.app_context():
        year_id, stream_id, org_id, priority_id = ids
        db.session.execute(delete(Project).where(Project.year_id == year_id))  # their summaries go with them
        db.session.execute(delete(Priority).where(Priority.id == priority_id))
        db.session.execute(delete(FundingStream).where(FundingStream.id == stream_id))
        db.session.execute(delete(Organisation).where(Organisation.id == org_id))
        db.session.execute(delete(FinancialYear).where(FinancialYear.id == year_id))
        db.session.commit()
        db.session.remove()
