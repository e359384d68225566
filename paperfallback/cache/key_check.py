"""The key check: a small file that proves a key is this data folder's key.

With only one encrypted file in a folder, a file that will not decrypt could be the wrong
key or a damaged first page; the two need opposite actions (find the right key; rebuild
the cache). ``key.check`` holds a random salt and PBKDF2-HMAC-SHA512 of the key (256,000
rounds, as SQLCipher 4 derives its own page keys), so it tells the two apart and is no
easier to attack than the encrypted files themselves. It is written the first time a key
opens a store, never overwritten, private to the user (0600), and holds no patient data.
A raw 256-bit key (64 hex digits, as PaperFallback generates) needs no stretching: one
round. Writing it is a once-per-folder cost, apart from the per-process derivation of
:mod:`paperfallback.cache.key_derivation`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
from hashlib import pbkdf2_hmac
from pathlib import Path

from paperfallback.cache.key_derivation import is_raw_key

CHECK_FILE = "key.check"
_ROUNDS = 256_000


def _derive(key: str, salt: bytes, rounds: int) -> str:
    return pbkdf2_hmac("sha512", key.encode("utf-8"), salt, rounds).hex()


def matches(folder: Path, key: str) -> bool | None:
    """True/False when the folder has a readable key check; None when it has none."""
    try:
        data = json.loads((folder / CHECK_FILE).read_text(encoding="ascii"))
        salt = bytes.fromhex(data["salt"])
        rounds = int(data["rounds"])
        expected = str(data["verifier"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return hmac.compare_digest(_derive(key, salt, rounds), expected)


def remember(folder: Path, key: str) -> None:
    """Write the key check for a key that has just opened a store (once; best effort: a
    read-only or full disk must not stop the store from being used)."""
    path = folder / CHECK_FILE
    if path.exists():
        return
    tmp = path.with_name(f"{CHECK_FILE}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # fails fast when
        with os.fdopen(fd, "w", encoding="ascii") as handle:  # read-only: derive after
            salt = secrets.token_bytes(16)
            rounds = 1 if is_raw_key(key) else _ROUNDS  # a raw key is 256 random bits
            handle.write(json.dumps({
                "kdf": "pbkdf2-hmac-sha512", "rounds": rounds, "salt": salt.hex(),
                "verifier": _derive(key, salt, rounds)}))
        os.link(tmp, path)  # never replaces a check another process wrote meanwhile
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
