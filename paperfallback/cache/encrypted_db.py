"""Open SQLCipher 4 databases with a key, turning a wrong key into a clear error.

The cache and the work store (register, keyed entries) are separate files with the same
key: the cache is replaced wholesale on every import, the work store never is.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import sqlcipher3

from paperfallback.cache.key_derivation import is_raw_key, raw_key_with_salt
from paperfallback.domain.errors import CacheError, WrongKey

Connection = Any  # sqlcipher3.dbapi2.Connection, untyped upstream


def _key_pragma(key: str, path: Path | None = None) -> str:
    if is_raw_key(key):
        return f"PRAGMA key = \"x'{key}'\""  # raw 256-bit key: no key derivation cost
    derived = raw_key_with_salt(path, key) if path is not None else None
    if derived is not None:  # the passphrase's key, derived once per process (#15)
        return f"PRAGMA key = \"x'{derived}'\""
    return "PRAGMA key = '" + key.replace("'", "''") + "'"


def open_encrypted(path: Path, key: str, *, key_source: str = "the configured key") -> Connection:
    """Open (or create) an encrypted database; raise WrongKey when it cannot be decrypted."""
    if not key:
        raise WrongKey("the cache key is empty")
    try:
        conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    except sqlcipher3.DatabaseError as exc:
        raise CacheError(f"cannot open {path}: {exc}") from exc
    with contextlib.suppress(sqlcipher3.DatabaseError):
        conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(_key_pragma(key, path))
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        raise WrongKey(
            f"cannot decrypt {path} with {key_source}: the key is wrong or the file is damaged "
            "(nothing was changed; check PAPERFALLBACK_KEY or the key store)"
        ) from exc
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files on disk
    return conn


DatabaseError = sqlcipher3.DatabaseError
