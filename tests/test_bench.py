"""The benchmark runs end to end at tiny scale (in-process, and one short HTTP sample against gunicorn) and its
report has a row with figures for every page type. It asserts that the benchmark works, never how fast pages are."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import sqlalchemy as sa

from bench import build as bench_build
from bench import pages as bench_pages
from bench.__main__ import run

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") if os.environ.get("PORTAL_TEST_BACKEND") == "postgresql" else None
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "performance.md"
    arguments = [
        "--scale",
        "tiny",
        "--repeat",
        "1",
        "--clients",
        "1",
        "--rounds",
        "1",
        "--window",
        "0.3",
        "--wrk-seconds",
        "2",
    ]
    arguments += ["--out", str(out)]
    if POSTGRES_URL:
        arguments += ["--database-url", POSTGRES_URL]
    result = run(arguments)
    return result, out.read_text(encoding="utf-8")


@pytest.mark.timeout(120)
def test_every_page_type_has_a_row_with_figures(bench_run):
    result, text = bench_run
    names = [row["name"] for row in result["pages"]]
    assert len(names) == 21
    for name in names:
        row = re.search(rf"^\| {re.escape(name)} \| .*$", text, re.MULTILINE)
        assert row is not None, f"no row for {name}"
        cells = [cell.strip() for cell in row.group(0).strip("|").split("|")]
        # median, p95, healthz, × healthz, × healthz p95, queries, SQL ms, bytes: all numbers; then the verdict
        for cell in cells[2:10]:
            assert re.fullmatch(NUMBER, cell), f"{name}: {cells}"
        assert cells[10] == "met" or cells[10].startswith("**missed**"), cells


def test_pages_answer_and_queries_are_counted(bench_run):
    result, _text = bench_run
    for row in result["pages"]:
        assert row["status"] == 200 and row["error"] is None, row
        assert row["queries"] >= 1 and row["bytes"] > 0, row
    by_name = {row["name"]: row for row in result["pages"]}
    assert by_name["projects.xlsx"]["content_type"].endswith("spreadsheetml.sheet")
    assert by_name["partner autosave (POST)"]["method"] == "POST"


def test_the_http_sample_reports_latency_throughput_and_the_first_page(bench_run):
    result, text = bench_run
    http = result["http"]
    assert {row["name"] for row in http["pages"]} == {
        "partner home",
        "partner outputs",
        "partner return overview",
        "CSU overview",
    }
    assert all(row["statuses"] == [200] for row in http["pages"]), http["pages"]
    assert http["throughput"]["autosaves"] > 0 and http["throughput"]["failed"] == 0
    first = http["first_page"]
    assert any(item["path"].endswith(".css") for item in first["items"])
    assert first["gzip_bytes"] < first["identity_bytes"]
    assert "### Over HTTP" in text and "First page" in text and "Throughput" in text


def test_the_raw_throughput_baseline_is_wrk_on_the_sign_in_page_or_says_why_not(bench_run):
    result, text = bench_run
    wrk = result["http"]["wrk"]
    if shutil.which("wrk") is None:
        assert wrk == {"skipped": "wrk is not installed"}
        assert "Raw throughput baseline (`wrk -t2 -c50 -d30s` on `/sign-in`): skipped, wrk is not installed." in text
        return
    assert wrk["command"].startswith("wrk -t2 -c50 -d2s http://127.0.0.1:") and wrk["command"].endswith("/sign-in")
    assert wrk["requests"] > 0 and wrk["requests_per_s"] > 0
    assert (wrk["socket_errors"], wrk["non_2xx_3xx"]) == (0, 0)
    assert re.search(rf"Raw throughput baseline \(`wrk [^`]+`\): \*\*{NUMBER} requests/s\*\*", text)


def test_the_report_names_the_run(bench_run):
    _result, text = bench_run
    for heading in ("## Goals", "## Method", "## Last run", "### Goals missed in this run"):
        assert heading in text
    assert "`tiny`" in text and "**Not national scale.**" in text
    assert re.search(rf"\*\*Database:\*\* {'PostgreSQL' if POSTGRES_URL else 'SQLite'} \d", text)
    assert re.search(r"\*\*Machine:\*\* \d+ CPUs", text)


def test_the_data_set_has_years_revisions_audit_events_and_shared_organisations(tmp_path):
    scratch = bench_build.Scratch.create(POSTGRES_URL)
    try:
        data = bench_build.build(scratch.url, bench_build.SCALES["tiny"], echo=lambda _line: None)
        engine = sa.create_engine(scratch.url)
        with engine.connect() as connection:

            def one(sql: str) -> int:
                return connection.exec_driver_sql(sql).scalar_one()

            assert one("SELECT count(*) FROM financial_year") == 2
            assert one("SELECT count(DISTINCT organisation_id) FROM project") == 4  # three projects each a year
            assert one("SELECT count(*) FROM return_revision") > one(
                "SELECT count(*) FROM monitoring_return WHERE status IN ('submitted', 'approved')"
            )
            assert one("SELECT count(*) FROM audit_event") > 4 * one("SELECT count(*) FROM monitoring_return")
            assert one("SELECT min(length(progress)) FROM monitoring_return") >= 900
        engine.dispose()
        # The pages the timing asks for are there for the people it asks as.
        from portal import create_app

        app = create_app(bench_build.bench_config(data.url))
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = data.tokens["partner"]
        own = next(page for page in bench_pages.pages_for(data) if page.name == "partner outputs")
        assert client.get(own.path).status_code == 200
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()
    finally:
        scratch.drop()
