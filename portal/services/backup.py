"""Backups: `flask backup create PATH` and `flask backup restore PATH` (cli.py), each checked before it says done.

SQLite is copied with its online backup API (a consistent copy while the portal keeps serving), then the copy's
`PRAGMA integrity_check` must say ok and its row counts must equal the source's, counted in the same snapshot.
PostgreSQL is dumped with `pg_dump -Fc` in the snapshot its row counts were taken in, and the archive must list
every table. Beside each backup, PATH.manifest.json records the row count of every table; a restore goes only into
an empty database, and afterwards its row counts must equal the manifest's (and on SQLite the integrity check).
The database's password goes to pg_dump and pg_restore in their environment, never on a command line.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

MANIFEST_SUFFIX = ".manifest.json"


class BackupError(Exception):
    """Why a backup or restore was refused or failed its check; nothing is reported done."""


@dataclass
class BackupReport:
    path: Path
    database: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def create_backup(engine: Engine, path: Path) -> BackupReport:
    """Write a checked backup of the database to PATH (replacing one there only once the new one is checked)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder: create it first")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if engine.dialect.name == "sqlite":
            counts = _sqlite_backup(_sqlite_file(engine.url), partial)
        elif engine.dialect.name == "postgresql":
            counts = _pg_dump(engine, partial)
        else:
            raise BackupError(f"backups of {engine.dialect.name} databases are not supported")
        report = BackupReport(path=path, database=engine.dialect.name, counts=counts)
        manifest = manifest_path(path)
        manifest.with_name(manifest.name + ".partial").write_text(_manifest_text(report))
        os.replace(partial, path)
        os.replace(manifest.with_name(manifest.name + ".partial"), manifest)
    finally:
        partial.unlink(missing_ok=True)
        manifest_path(path).with_name(manifest_path(path).name + ".partial").unlink(missing_ok=True)
    return report


def restore_backup(engine: Engine, path: Path) -> BackupReport:
    """Restore PATH into the (empty) database, then check it against the backup's manifest."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    expected = _read_manifest(path)
    tables = _table_names(engine)
    if tables:
        raise BackupError(
            f"the database already holds {len(tables)} table(s) ({', '.join(sorted(tables)[:5])}…): a backup is "
            "restored only into an empty database. Create a new empty database (or move the SQLite file away) and "
            "point DATABASE_URL at it."
        )
    engine.dispose()  # no pooled connection may hold the target open while it is written
    if engine.dialect.name == "sqlite":
        counts = _sqlite_restore(path, _sqlite_file(engine.url), expected)
    elif engine.dialect.name == "postgresql":
        _pg_restore(engine, path)
        counts = _pg_counts(engine)
    else:
        raise BackupError(f"restoring into {engine.dialect.name} databases is not supported")
    engine.dispose()
    if expected is not None and counts != expected:
        raise BackupError(f"restored, but the row counts differ from the backup's: {_differences(expected, counts)}")
    return BackupReport(path=path, database=engine.dialect.name, counts=counts)


# -- SQLite ---------------------------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    names = sorted(row[0] for row in connection.execute(tables))
    # Names from the database's own catalogue, quoted.
    return {name: connection.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0] for name in names}  # noqa: S608


def _sqlite_check(connection: sqlite3.Connection, what: str) -> None:
    result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise BackupError(f"{what} failed SQLite's integrity check: {'; '.join(result[:5])}")


def _sqlite_backup(source_file: Path, target: Path) -> dict[str, int]:
    if not source_file.is_file():
        raise BackupError(f"{source_file}: no database file to back up")
    try:
        return _sqlite_copy(source_file, target)
    except sqlite3.Error as error:
        raise BackupError(f"{source_file} cannot be copied: {error}") from error


def _sqlite_copy(source_file: Path, target: Path) -> dict[str, int]:
    with closing(sqlite3.connect(source_file)) as source:
        source.execute("PRAGMA busy_timeout = 15000")
        source.isolation_level = None
        source.execute("BEGIN")  # one read snapshot: the counts and the copy see the same rows
        counts = _sqlite_counts(source)
        with closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, without -wal and -shm beside it
            _sqlite_check(copy, "the backup")
            copied = _sqlite_counts(copy)
        source.execute("COMMIT")
    if copied != counts:
        raise BackupError(f"the backup's row counts differ from the database's: {_differences(counts, copied)}")
    return counts


def _sqlite_restore(backup: Path, target_file: Path, expected: dict[str, int] | None) -> dict[str, int]:
    """Checked before anything is written, then copied to a file beside the target and moved into place."""
    partial = target_file.with_name(target_file.name + ".partial")
    try:
        with closing(sqlite3.connect(backup)) as source:
            _sqlite_check(source, f"the backup {backup}")
            counts = _sqlite_counts(source)
            if expected is not None and counts != expected:
                raise BackupError(
                    f"the backup's row counts differ from its manifest's: {_differences(expected, counts)}"
                )
            target_file.parent.mkdir(parents=True, exist_ok=True)
            partial.unlink(missing_ok=True)
            with closing(sqlite3.connect(partial)) as target:
                source.backup(target)
                _sqlite_check(target, "the restored database")
                restored = _sqlite_counts(target)
        if restored != counts:
            raise BackupError(f"the restored row counts differ from the backup's: {_differences(counts, restored)}")
        for leftover in ("-wal", "-shm"):  # an empty database's own journal must not be replayed onto the copy
            target_file.with_name(target_file.name + leftover).unlink(missing_ok=True)
        os.replace(partial, target_file)
    except sqlite3.Error as error:
        raise BackupError(f"{backup} cannot be restored: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return restored


# -- PostgreSQL -----------------------------------------------------------------------------------------------


def postgresql_tool(name: str) -> str | None:
    """pg_dump or pg_restore: on the PATH, else the newest in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    return max(candidates, key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0, default=None)


def _tool(name: str) -> str:
    found = postgresql_tool(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client programs (postgresql-client)")
    return found


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq's settings from the database URL: the password stays out of every command line."""
    sslmode = url.query.get("sslmode")
    settings: dict[str, str | None] = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": sslmode if isinstance(sslmode, str) else None,
    }
    return {**os.environ, **{key: value for key, value in settings.items() if value}}


def _run(command: list[str], url: URL, what: str) -> str:
    # The command is the tool's own path, fixed options and the operator's file: no shell, nothing from a request.
    result = subprocess.run(command, env=_pg_environment(url), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def _pg_counts(engine: Engine, connection: sa.Connection | None = None) -> dict[str, int]:
    def count(conn: sa.Connection) -> dict[str, int]:
        names = sorted(sa.inspect(conn).get_table_names())
        # Names from the database's own catalogue, quoted.
        return {name: conn.execute(sa.text(f"SELECT count(*) FROM {_quoted(name)}")).scalar_one() for name in names}  # noqa: S608

    if connection is not None:
        return count(connection)
    with engine.connect() as own:
        return count(own)


def _pg_dump(engine: Engine, target: Path) -> dict[str, int]:
    pg_dump = _tool("pg_dump")
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        # The dump is taken in this transaction's snapshot, so the counts are exactly what it holds.
        snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        counts = _pg_counts(engine, connection)
        command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}", "--no-password"]
        _run(command, engine.url, "pg_dump")
    listing = _run([_tool("pg_restore"), "--list", str(target)], engine.url, "reading the dump back")
    dumped = {line.split()[-2] for line in listing.splitlines() if " TABLE DATA " in line}
    missing = sorted(set(counts) - dumped)
    if missing:
        raise BackupError(f"the dump holds no data for: {', '.join(missing)}")
    return counts


def _pg_restore(engine: Engine, backup: Path) -> None:
    command = [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--no-password"]
    _run([*command, f"--dbname={engine.url.database}", str(backup)], engine.url, "pg_restore")


# -- shared ---------------------------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_names(engine: Engine) -> list[str]:
    if engine.dialect.name == "sqlite" and not _sqlite_file(engine.url).exists():
        return []
    with engine.connect() as connection:
        return sa.inspect(connection).get_table_names()


def _manifest_text(report: BackupReport) -> str:
    manifest = {
        "database": report.database,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "file": report.path.name,
        "row_counts": report.counts,
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def _read_manifest(path: Path) -> dict[str, int] | None:
    manifest = manifest_path(path)
    if not manifest.exists():
        return None
    try:
        counts = json.loads(manifest.read_text())["row_counts"]
    except (ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{manifest} cannot be read: {error}") from error
    if not isinstance(counts, dict):
        raise BackupError(f"{manifest} has no row counts")
    return {str(name): int(value) for name, value in counts.items()}


def _differences(expected: dict[str, int], found: dict[str, int]) -> str:
    names = sorted(set(expected) | set(found))
    return ", ".join(
        f"{name} {expected.get(name, 'missing')} → {found.get(name, 'missing')}"
        for name in names
        if expected.get(name) != found.get(name)
    )
