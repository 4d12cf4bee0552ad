"""Engine set-up per database: SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE."""

from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000

# Requests that only read begin DEFERRED so readers never queue behind writers;
# everything else takes the write lock up front, so a read-then-write transaction
# cannot fail half-way with "database is locked".
sqlite_begin_mode: ContextVar[str] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
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
