"""The work store: issued forms (register) and keyed entries, in ``work.db``.

Unlike the cache it is never replaced by an import; it holds what staff did during
the outage. Each feature creates its own tables (``CREATE TABLE IF NOT EXISTS``) when
it opens the store, so features stay independent.
"""

from __future__ import annotations

from pathlib import Path

from paperfallback.cache.encrypted_db import Connection, DatabaseError, open_encrypted
from paperfallback.domain.errors import CacheError

WORK_FILE = "work.db"


def open_work_db(folder: Path, key: str, *, key_source: str = "the configured key") -> Connection:
    """Open the encrypted work store with the cache key."""
    return open_encrypted(folder / WORK_FILE, key, key_source=key_source)


def ensure_schema(conn: Connection, schema: str) -> None:
    """Create a feature's tables if missing; a damaged store is a clear error, not a crash."""
    try:
        conn.executescript(schema)
    except DatabaseError as exc:
        raise CacheError(f"the work store is damaged: {exc}") from exc
