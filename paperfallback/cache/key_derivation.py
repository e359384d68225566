"""Derive a passphrase's page key once per process and per data folder, not once per open.

SQLCipher 4 turns a passphrase into the page key with PBKDF2-HMAC-SHA512 (256,000 rounds)
and the 16-byte salt at the start of the file, on every open: about 0.15 s each, twice
per command (``cache.db`` and ``work.db``) and again on every re-open in the app (issue
#15). The same key can be given to SQLCipher already derived, as a raw key with its salt
(``PRAGMA key = "x'<key><salt>'"``); the file is byte-for-byte the one the passphrase
opens, so old and new stores stay readable both ways (no migration, no rekey).

- A new store file takes the salt of its sibling store in the same folder, so the two
  files of a new data folder share one derivation per process. (One install's two files
  sharing a salt is one database in two files: each page still has its own random IV.)
- An existing file's key is derived here and kept for this process, so every later open
  of either store (the app re-opens them) costs nothing; a first open costs what
  SQLCipher's own derivation costs (the same PBKDF2 through ``cryptography``).

Raw 256-bit hex keys (production keys, ``settings.cache_key``) need no derivation at all.

A command that will open the stores can start the derivation first (:func:`derive_ahead`):
it runs on a thread through :func:`hashlib.pbkdf2_hmac`, which releases the interpreter
lock, so on a PC with two cores the ~0.1 s of PBKDF2 overlaps the command's imports and
form loading instead of adding to them (issue #15). The open then takes the result (or
waits for it); nothing is written anywhere.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path

SALT_BYTES = 16  # SQLCipher 4: the first 16 bytes of the file
KDF_ROUNDS = 256_000  # SQLCipher 4 default kdf_iter
KEY_BYTES = 32  # AES-256
STORE_FILES = ("cache.db", "work.db")  # the encrypted stores of a data folder, one key

# sha256(passphrase) + salt -> derived key, for this process only (never written anywhere)
_derived: dict[tuple[bytes, bytes], bytes] = {}
# derivations started ahead on a thread (derive_ahead), by the same entry
_ahead: dict[tuple[bytes, bytes], threading.Thread] = {}


def is_raw_key(key: str) -> bool:
    """A 64-hex-digit key is used as the 256-bit key itself (no derivation)."""
    return len(key) == 64 and all(c in "0123456789abcdefABCDEF" for c in key)


def raw_key_with_salt(path: Path, passphrase: str) -> str:
    """The hex ``<key><salt>`` to open or create ``path`` with (the passphrase's key)."""
    salt = file_salt(path)
    if salt is None:  # a new file: share the sibling's salt (or start a new one)
        salt = next(filter(None, (file_salt(s) for s in _siblings(path))), None)
        return _hex(passphrase, salt or secrets.token_bytes(SALT_BYTES))
    return _hex(passphrase, salt)


def file_salt(path: Path) -> bytes | None:
    """The salt at the start of an existing store file; None when there is no file yet."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SALT_BYTES)
    except OSError:
        return None
    return head if len(head) == SALT_BYTES else None


def _siblings(path: Path) -> list[Path]:
    return [path.parent / name for name in STORE_FILES if path.parent / name != path]


def _passphrase_id(passphrase: str) -> bytes:
    return hashlib.sha256(passphrase.encode("utf-8")).digest()


def derive_ahead(folder: Path, passphrase: str) -> None:
    """Start deriving the key of the existing stores in ``folder`` on a thread.

    Nothing to do for a raw key, a folder without stores or a key already derived. A
    derivation that fails on the thread is simply done again when the store opens."""
    if is_raw_key(passphrase):
        return
    salts = {salt for name in STORE_FILES if (salt := file_salt(folder / name)) is not None}
    secret = passphrase.encode("utf-8")
    for salt in salts:
        entry = (_passphrase_id(passphrase), salt)
        if entry in _derived or entry in _ahead:
            continue
        thread = threading.Thread(target=_derive_into, args=(entry, secret, salt),
                                  name="derive-key", daemon=True)
        _ahead[entry] = thread
        thread.start()


def _derive_into(entry: tuple[bytes, bytes], secret: bytes, salt: bytes) -> None:
    """The thread's work: the same PBKDF2 as :func:`_pbkdf2`, through hashlib, which lets
    the main thread run meanwhile."""
    _derived[entry] = hashlib.pbkdf2_hmac("sha512", secret, salt, KDF_ROUNDS, KEY_BYTES)


def _hex(passphrase: str, salt: bytes) -> str:
    entry = (_passphrase_id(passphrase), salt)
    ahead = _ahead.pop(entry, None)
    if ahead is not None:
        ahead.join()
    key = _derived.get(entry)
    if key is None:
        key = _derived[entry] = _pbkdf2(passphrase.encode("utf-8"), salt)
    return key.hex() + salt.hex()


def _pbkdf2(passphrase: bytes, salt: bytes) -> bytes:
    """SQLCipher 4's derivation: PBKDF2-HMAC-SHA512, 256,000 rounds, 32 bytes.

    Through ``cryptography`` (already a dependency): about 25 % faster here than
    :func:`hashlib.pbkdf2_hmac` on the system OpenSSL, as fast as SQLCipher's own."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    return PBKDF2HMAC(hashes.SHA512(), KEY_BYTES, salt, KDF_ROUNDS).derive(passphrase)
