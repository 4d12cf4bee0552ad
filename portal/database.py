"""Engine set-up per database: SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE; PostgreSQL gets
a lock timeout and a statement timeout, so a blocked request answers "busy" before the worker is killed. On both,
no value holding a NUL character reaches the database."""

from contextvars import ContextVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

# Defaults when there is no app (config.py holds the settings: DATABASE_BUSY_TIMEOUT_SECONDS and so on).
SQLITE_BUSY_TIMEOUT_MS = 15_000
LOCK_TIMEOUT_MS = 5_000
STATEMENT_TIMEOUT_MS = 20_000

# Requests that only read begin DEFERRED so readers never queue behind writers;
# everything else takes the write lock up front, so a read-then-write transaction
# cannot fail half-way with "database is locked".
sqlite_begin_mode: ContextVar[str] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


def _milliseconds(setting: str, default: int) -> int:
    if not has_app_context() or current_app.config.get(setting) is None:
        return default
    return round(float(current_app.config[setting]) * 1000)


class NulCharacterError(ValueError):
    """A NUL character on its way into the database: PostgreSQL text cannot hold one (a 500 there), SQLite would
    store it silently, and no answer needs one. The error pages answer it with 400 (errors.py)."""


def _refuse_nul(conn, cursor, statement, parameters, context, executemany) -> None:
    """The one place every value passes before the database: forms may refuse NUL first, with a field error."""
    for row in parameters if executemany else [parameters]:
        values = _values_of(row)
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise NulCharacterError("a NUL character was sent to the database")


def _values_of(row) -> list:
    if isinstance(row, dict):
        return list(row.values())
    return list(row) if isinstance(row, (list, tuple)) else [row]


# SQLSTATEs that say the database cannot take the write now, not that the statement is wrong: a read-only
# transaction (a standby after fail-over, 25006), insufficient resources such as a full disk (class 53),
# an operator shutting it down (class 57P) and a lost connection (class 08). Answered 503 like a lock timeout.
UNAVAILABLE_SQLSTATES = ("25006", "53", "57P", "08")


def database_cannot_write_now(error: BaseException) -> bool:
    """Whether a driver error means the database is unavailable for now (retry later), not a bug."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
    return sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def configure_engine(engine: Engine) -> None:
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    if engine.dialect.name != "sqlite":
        return
    busy_timeout_ms = _milliseconds("DATABASE_BUSY_TIMEOUT_SECONDS", SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        # Deleted and overwritten content is zeroed, not left in free space: redacted text is gone from the file.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(f"BEGIN {sqlite_begin_mode.get()}")


def _configure_postgresql(engine: Engine) -> None:
    """Every connection waits at most lock_timeout for a lock and statement_timeout for a statement (0: no limit).
    Both fail as OperationalError (LockNotAvailable, QueryCanceled), which the error pages answer with 503."""
    lock_timeout_ms = _milliseconds("DATABASE_LOCK_TIMEOUT_SECONDS", LOCK_TIMEOUT_MS)
    statement_timeout_ms = _milliseconds("DATABASE_STATEMENT_TIMEOUT_SECONDS", STATEMENT_TIMEOUT_MS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
        cursor.execute(f"SET statement_timeout = {statement_timeout_ms}")
        cursor.close()
        dbapi_connection.commit()  # a SET in a committed transaction lasts for the session


def forget_overwritten_pages(engine: Engine) -> None:
    """After a redaction commits: on SQLite, copy the write-ahead log into the database file and truncate it,
    so the pages that held the old text (secure_delete zeroed them in the new ones) are gone from the WAL too.
    Best effort: a reader still holding an old snapshot keeps the log until the next checkpoint."""
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        connection.close()
