"""The reliability harness's short version, on this run's database: real gunicorn processes on a scratch
database, 20 partners at a deadline (p95 against /healthz's, the workers' RSS, one mail per submit), a backup taken
during it and restored, kill -9 of workers mid-submit, ten simultaneous submits, a lock held 3 s during a submit, a
6-second autosave storm with a CSU officer and a finance user reading, a 9-second soak, the database unavailable
and back, and two instances on one database (reliability/README.md). The harness checks the outcome in the database
and exits non-zero when any check failed; this test shows its table and details when it does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") if os.environ.get("PORTAL_TEST_BACKEND") == "postgresql" else None


@pytest.mark.timeout(900)  # gunicorn, argon2 sign-ins and worker restarts on a shared 2-CPU machine
def test_the_short_reliability_harness_passes_on_this_database():
    env = dict(os.environ)
    if POSTGRES_URL:
        env["RELIABILITY_DATABASE_URL"] = POSTGRES_URL
    database = "postgresql" if POSTGRES_URL else "sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "reliability.run", "--short", "--database", database],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "| scenario | database |" in result.stdout, result.stderr[-3000:]
    assert result.returncode == 0, f"the harness found failures:\n{result.stdout}\n{result.stderr[-2000:]}"
