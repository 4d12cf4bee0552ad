"""Benchmark: how long the busiest pages take, as a ratio to the app's trivial /healthz, with query counts.

    .venv/bin/python bench/pages.py [--projects 200] [--repeat 20]

Times on shared machines are noisy, so the report gives medians and ratios measured in one run, never
absolute limits; tests assert query counts instead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select

from portal import create_app
from portal.extensions import db
from portal.models import (
    FinancialYear,
    FundingStream,
    MeasureValue,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Payment,
    Project,
    User,
    UserRole,
)
from portal.services.passwords import hash_password


def build(app, projects: int) -> dict:
    with app.app_context():
        db.create_all()
        year = FinancialYear(start_year=2021, return_due_days=14)
        stream = FundingStream(year=year, name="PCC Crime Reduction Grant", funder="Kent PCC", amount_pence=10**9)
        org = Organisation(short_name="BENCH", name="Bench Trust")
        db.session.add_all([year, stream, org])
        for number in range(projects):
            project = Project(
                organisation=org,
                year=year,
                funding_stream=stream,
                name=f"Project {number:04d}",
                amount_pence=1_000_000,
                actions=[],
            )
            measures = [
                OutputMeasure(
                    project=project,
                    name=f"Measure {m}",
                    unit="people",
                    combine="sum",
                    annual_target=Decimal(400),
                    position=m,
                )
                for m in range(4)
            ]
            db.session.add_all([project, *measures])
            for quarter in (1, 2, 3):
                mreturn = MonitoringReturn(project=project, quarter=quarter, status="approved", spend_pence=200_000)
                mreturn.values = [MeasureValue(measure=m, value=Decimal(90 + quarter)) for m in measures]
                db.session.add(mreturn)
            db.session.add(Payment(project=project, amount_pence=500_000, paid_on=date(2021, 5, 1)))
        users = {}
        for role in ("partner", "csu", "finance"):
            user = User(
                email=f"{role}@bench.test",
                password_hash=hash_password("bench-password-1"),
                organisation=org if role == "partner" else None,
                role_rows=[UserRole(role=role)],
            )
            db.session.add(user)
            users[role] = user
        db.session.commit()
        first = db.session.scalar(select(Project.id).order_by(Project.id))
        return {role: user.session_token for role, user in users.items()} | {"project": first}


def measure(app, tokens: dict, repeat: int) -> list[tuple[str, float, float, int]]:
    pages = [
        ("healthz", None, "/healthz"),
        ("partner home", "partner", "/partner/2021-22/"),
        ("csu overview", "csu", "/csu/2021-22/"),
        ("csu project", "csu", f"/csu/projects/{tokens['project']}"),
        ("csu projects.csv", "csu", "/csu/2021-22/projects.csv"),
        ("finance home", "finance", "/finance/2021-22/"),
        ("finance ledger", "finance", "/finance/2021-22/ledger"),
    ]
    results = []
    baseline = None
    for name, role, path in pages:
        client = app.test_client()
        if role:
            with client.session_transaction() as session:
                session["_user_id"] = tokens[role]
        with app.app_context():
            counter = {"n": 0}

            def count(*_args, counter=counter):
                counter["n"] += 1

            event.listen(db.engine, "before_cursor_execute", count)
            assert client.get(path).status_code == 200, path
            event.remove(db.engine, "before_cursor_execute", count)
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.get(path)
            timings.append(time.perf_counter() - start)
        median = statistics.median(timings)
        baseline = baseline or median
        results.append((name, median * 1000, median / baseline, counter["n"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-" + "x" * 40,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 8,
            "ARGON2_PARALLELISM": 1,
        }
    )
    tokens = build(app, args.projects)
    print(f"{args.projects} projects, median of {args.repeat} requests each")
    print(f"{'page':<20}{'median ms':>10}{'× healthz':>11}{'queries':>9}")
    for name, ms, ratio, queries in measure(app, tokens, args.repeat):
        print(f"{name:<20}{ms:>10.1f}{ratio:>11.1f}{queries:>9}")


if __name__ == "__main__":
    main()
