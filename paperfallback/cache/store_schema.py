"""Opening the cache file for writing: its tables created in a new file only.

Split from :mod:`paperfallback.cache.store` (size): that module reads and replaces the
snapshot; this one makes the file it works on.
"""

from __future__ import annotations

from pathlib import Path

import sqlcipher3

from paperfallback.cache.encrypted_db import (
    Connection,
    DatabaseError,
    damaged_message,
    fault,
    is_unreadable_pages,
    open_encrypted,
)
from paperfallback.cache.store_rows import SCHEMA
from paperfallback.domain.errors import DamagedFile

SCHEMA_VERSION = 1


def open_schema(path: Path, key: str, key_source: str) -> Connection:
    """Open for writing; create the tables only in a new file (an open never writes to a
    file that has them, so it never waits for a refresh's lock: issue #12)."""
    conn = open_encrypted(path, key, key_source=key_source)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
            create_tables(conn)
    except DatabaseError as exc:
        conn.close()
        if is_unreadable_pages(exc):
            raise DamagedFile(damaged_message(path, exc)) from exc
        raise fault(exc, path) from exc
    return conn


def create_tables(conn: Connection) -> None:
    conn.executescript(SCHEMA)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                 (str(SCHEMA_VERSION),))


def empty_cache() -> Connection:
    """An empty cache in memory: what a reader sees before the first import."""
    conn = sqlcipher3.connect(":memory:", isolation_level=None, check_same_thread=False)
    create_tables(conn)
    return conn


def db_files(path: Path) -> list[Path]:
    """A database file with its WAL and shared-memory files."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
