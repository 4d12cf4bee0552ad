"""`make bench`: build the data set in a scratch database, time every page in-process and over HTTP, and write
docs/performance.md.

    .venv/bin/python -m bench [--scale national|modest|tiny] [--repeat N] [--no-http] [--out PATH]

BENCH_SCALE chooses the scale (default national: long; modest takes minutes). DATABASE_URL names a PostgreSQL server
to make the scratch database on (it is dropped afterwards); without it, a SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from . import report
from .build import SCALES, Scratch, bench_config, build
from .overhttp import run_http
from .pages import profile, time_pages

# Repetitions per page in-process, and HTTP rounds per client, by scale.
REPEAT = {"national": 10, "modest": 20, "tiny": 3}
ROUNDS = {"national": 8, "modest": 10, "tiny": 2}
WINDOW = {"national": 5.0, "modest": 4.0, "tiny": 1.0}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("BENCH_SCALE") or "national")
    parser.add_argument("--repeat", type=int, help="timed requests per page in-process")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--rounds", type=int, help="HTTP latency rounds per client")
    parser.add_argument("--window", type=float, help="seconds of each throughput window")
    parser.add_argument("--wrk-seconds", type=int, default=30, help="the wrk baseline's length (0: none)")
    parser.add_argument("--out", type=Path, default=report.ROOT / "docs" / "performance.md")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or None)
    parser.add_argument("--profile", action="append", default=[], help="print a cProfile of this page (by name)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (its URL is printed)")
    return parser.parse_args(argv)


def _database(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return "PostgreSQL " + str(connection.exec_driver_sql("SHOW server_version").scalar())
            return "SQLite " + str(connection.exec_driver_sql("SELECT sqlite_version()").scalar())
    finally:
        engine.dispose()


def run(argv: list[str] | None = None) -> dict:
    args = _arguments(argv)
    from portal import create_app

    scale = SCALES[args.scale]
    repeat = args.repeat or REPEAT[scale.name]
    started = datetime.now(UTC)
    load_before = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    scratch = Scratch.create(args.database_url)
    print(f"bench: {scale.name} scale in {scratch.url}", file=sys.stderr)
    try:
        data = build(scratch.url, scale, echo=lambda line: print(line, file=sys.stderr))
        print(f"built in {data.seconds:.0f} s; timing {repeat} requests a page in-process", file=sys.stderr)
        app = create_app(bench_config(data.url))
        pages = time_pages(app, data, repeat, echo=lambda line: print(line, file=sys.stderr))
        for name in args.profile:
            print(f"profile of {name}:", profile(app, data, name), sep="\n", file=sys.stderr)
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()
        http = None
        if not args.no_http:
            print("over HTTP:", file=sys.stderr)
            http = run_http(
                data,
                scratch.folder,
                clients=args.clients,
                rounds=args.rounds or ROUNDS[scale.name],
                window=args.window or WINDOW[scale.name],
                wrk_seconds=args.wrk_seconds,
                echo=lambda line: print(line, file=sys.stderr),
            )
        result = {
            "date": f"{started:%Y-%m-%d %H:%M} UTC",
            "database": _database(data.url),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(terse=True),
                "python": platform.python_version(),
                "load_before": load_before,
            },
            "repeat": repeat,
            "data": {k: v for k, v in json.loads(data.to_json()).items() if k not in ("tokens", "password", "url")},
            "pages": pages,
            "http": http,
        }
    finally:
        if args.keep:
            print(f"kept: {scratch.url}", file=sys.stderr)
        else:
            scratch.drop()
    report.write(args.out, result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    run()
