"""Every page costs the same few SQL queries however big the partnership: counted on the benchmark's own data set
(bench/build.py) built at 5 and at 500 projects a year, and with 3 and with 12 measures a project, page by page
(bench/pages.py names every page type). A page whose queries grow with the rows is one query a row at national
scale; the counts are the ones a user waits for, never a time."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench import build as bench_build
from bench.pages import time_pages

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") if os.environ.get("PORTAL_TEST_BACKEND") == "postgresql" else None
MOST_QUERIES = 12
SHAPES = {
    "5 projects": bench_build.Scale("5 projects", 5, 2, measures_per_project=3),
    "500 projects": bench_build.Scale("500 projects", 500, 2, measures_per_project=3),
    "12 measures": bench_build.Scale("12 measures", 5, 2, measures_per_project=12),
}


def _counted(scale: bench_build.Scale) -> dict[str, dict]:
    from portal import create_app

    scratch = bench_build.Scratch.create(POSTGRES_URL)
    try:
        data = bench_build.build(scratch.url, scale, echo=lambda _line: None)
        app = create_app(bench_build.bench_config(data.url))
        try:
            return {row["name"]: row for row in time_pages(app, data, repeat=2, echo=lambda _line: None)}
        finally:
            with app.app_context():
                from portal.extensions import db

                db.engine.dispose()
    finally:
        scratch.drop()


@pytest.fixture(scope="module")
def counted() -> Iterator[dict[str, dict[str, dict]]]:
    yield {name: _counted(scale) for name, scale in SHAPES.items()}


PAGE_NAMES = [
    "partner home",
    "partner project",
    "partner return overview",
    "partner outputs",
    "partner narrative",
    "partner autosave (POST)",
    "CSU overview",
    "CSU project",
    "CSU return review",
    "CSU review queue",
    "CSU due list",
    "CSU priorities",
    "CSU annual report",
    "audit trail",
    "finance home",
    "finance reconciliation",
    "finance ledger",
    "finance project",
    "projects.xlsx",
    "measures.xlsx",
    "ledger.xlsx",
]


def test_every_page_type_is_counted(counted):
    assert sorted(counted["5 projects"]) == sorted(PAGE_NAMES)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_queries_do_not_grow_with_projects_or_measures(counted, name):
    small, large, wide = (counted[shape][name] for shape in SHAPES)
    for row in (small, large, wide):
        assert row["status"] == 200, row["error"]
        # The most and the fewest of its repeats: a page that costs more on its second visit is counted too.
        assert row["queries"] == row["queries_min"], row
    assert large["queries"] == small["queries"], "queries grow with the number of projects"
    assert wide["queries"] == small["queries"], "queries grow with the number of measures"
    assert small["queries"] <= MOST_QUERIES
