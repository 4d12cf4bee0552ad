"""Scratch databases and real gunicorn processes for the harness.

A scratch database is a SQLite file in a temporary folder, or a PostgreSQL database created on the server a URL
names and dropped afterwards. Its schema comes from `flask db upgrade` and its data from `reliability.seed`
(the portal's own services). gunicorn runs `wsgi:app` from the project folder (so it reads gunicorn.conf.py when
there is one), with the environment an operator would set: DATABASE_URL, SECRET_KEY, PORTAL_INSTANCE_PATH.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("RELIABILITY_VENV_BIN", str(ROOT / ".venv" / "bin")))
# The scratch partners' sign-in: RELIABILITY_PARTNER_PASSWORD if the operator sets one, else made for this run.
PASSWORD = os.environ.get("RELIABILITY_PARTNER_PASSWORD") or secrets.token_urlsafe(18)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Scratch:
    """One scratch database with its folder, the app's environment, and the partners made in it."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    folder: Path
    admin_url: str | None = None  # PostgreSQL: the server's maintenance database, to drop ours
    name: str | None = None
    partners: list[dict] = field(default_factory=list)
    staff: list[dict] = field(default_factory=list)  # CSU officers and finance users, with their TOTP secrets
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def sqlite_path(self) -> Path:
        return Path(sa.engine.make_url(self.url).database or "")

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in ("FLASK_DEBUG", "FLASK_ENV")}
        env.update(
            DATABASE_URL=self.url,
            SECRET_KEY=self.secret_key,
            PORTAL_INSTANCE_PATH=str(self.folder / "instance"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("DEMO_PASSWORD", None)
        return env

    def engine(self) -> sa.Engine:
        """A connection for the harness's own checks: never pooled, so nothing is held between checks."""
        return sa.create_engine(self.url, poolclass=NullPool)

    def flask(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(  # noqa: S603 (our own venv's flask, fixed arguments)
            [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def populate(self, partners: int) -> None:
        """Schema by the real migrations, then a year of one-project partners and their users."""
        self.flask("db", "upgrade")
        result = subprocess.run(  # noqa: S603 (our own venv's python, fixed arguments)
            [str(VENV_BIN / "python"), "-m", "reliability.seed", str(partners)],
            cwd=ROOT,
            env=self.environment(),
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{result.stderr[-2000:]}")
        made = json.loads(result.stdout)
        self.partners, self.staff = made["partners"], made["staff"]

    def drop(self) -> None:
        if self.kind == "postgresql" and self.admin_url and self.name:
            admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)


def scratch_database(kind: str, server_url: str | None = None) -> Scratch:
    folder = Path(tempfile.mkdtemp(prefix=f"reliability-{kind}-"))
    (folder / "instance").mkdir()
    if kind == "sqlite":
        return Scratch("sqlite", f"sqlite:///{folder / 'portal.db'}", folder)
    if not server_url:
        raise RuntimeError("PostgreSQL needs a server URL (RELIABILITY_DATABASE_URL or TEST_DATABASE_URL)")
    name = f"portal_reliability_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return Scratch("postgresql", url, folder, admin_url=server_url, name=name)


class Gunicorn:
    """One gunicorn master serving the portal on a free port, with its log in the scratch folder."""

    def __init__(self, scratch: Scratch, workers: int, label: str = "a"):
        self.scratch = scratch
        self.workers = workers
        self.port = free_port()
        self.log_path = scratch.folder / f"gunicorn-{label}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own venv's gunicorn, fixed arguments)
            [
                str(VENV_BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--no-control-socket",  # gunicorn 27's default socket is one path shared by every master
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.scratch.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self, seconds: float = 60.0) -> None:
        """Until every worker is up and /healthz answers (the app is imported in each worker)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}")
            if len(self.worker_pids()) >= self.workers:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                        connection.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                        if b" 200 " in connection.recv(64):
                            return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become ready: see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The master's children, from /proc (Linux)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_serving(self, client_port: int) -> int | None:
        """The worker holding the server side of the connection from this client port (accepted, not yet
        closed), found through /proc/net/tcp and each worker's file descriptors; None when no worker holds it."""
        wanted = f"{self.port:04X}", f"{client_port:04X}"
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            columns = line.split()
            local, remote = columns[1].rpartition(":")[2], columns[2].rpartition(":")[2]
            if (local, remote) == wanted:
                inodes.add(f"socket:[{columns[9]}]")
        if not inodes:
            return None
        for pid in self.worker_pids():
            try:
                for handle in Path(f"/proc/{pid}/fd").iterdir():
                    if os.readlink(handle) in inodes:
                        return pid
            except OSError:
                continue
        return None

    def reload_workers(self) -> None:
        """SIGHUP: the master starts new workers and stops the old ones gracefully."""
        if self.process is not None:
            old = set(self.worker_pids())
            self.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                now = set(self.worker_pids())
                if len(now) >= self.workers and not now & old:
                    return
                time.sleep(0.2)
            raise RuntimeError("gunicorn's workers were not replaced after SIGHUP")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
