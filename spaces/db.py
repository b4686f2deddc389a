"""SQLite access: one connection per thread, WAL, busy timeout, and write transactions.

Domain modules take a `Database` first. `write()` opens `BEGIN IMMEDIATE`, so a check-then-write
(the speaker cap, one live Space per host) holds the write lock from its check to its commit.
"""

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path) -> Database:
    _create_private(path)
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    return Database(conn)


def _create_private(path: str | Path) -> None:
    """A new database file is created readable by this account only, before SQLite opens it;
    SQLite gives the -wal and -shm files the main file's permissions, so all three stay private
    under any umask. An existing file is never opened here: closing any descriptor of a file
    drops every POSIX lock this process holds on it, including other connections' locks. (The
    file is new only at the first connection, which create_app makes before any thread serves.)
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@contextlib.contextmanager
def write(db: Database) -> Iterator[Database]:
    """A write transaction that takes the lock at its start (nested calls join the outer one)."""
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def one(db: Database, sql: str, params: tuple | dict = ()) -> dict | None:
    row = db.execute(sql, params).fetchone()
    return dict(row) if row is not None else None


def all_rows(db: Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    return [dict(r) for r in db.execute(sql, params).fetchall()]


def scalar(db: Database, sql: str, params: tuple | dict = ()):
    row = db.execute(sql, params).fetchone()
    return row[0] if row is not None else None


def exists(db: Database, sql: str, params: tuple | dict = ()) -> bool:
    """Whether the query finds a row: for the many `SELECT 1 ... WHERE` checks."""
    return db.execute(sql, params).fetchone() is not None


class ThreadLocalDatabases:
    """One connection per thread for one database file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()

    def get(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db
