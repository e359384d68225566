"""Open SQLCipher 4 databases with a key, naming the true cause when one cannot be used.

The cache and the work store (register, keyed entries) are separate files with the same
key: the cache is replaced wholesale on every import, the work store never is. Because
they share the key, each proves the key for the other: a file that will not decrypt while
its sibling (or the key check, :mod:`paperfallback.cache.key_check`) accepts the key is
*damaged*, not opened with the *wrong key*, and a store is never created under a key that
its sibling refuses (issue #12: a wrong key once created ``work.db`` and locked the PC out).

Readers (printing, status) open read-only and never write on open, so a long refresh
holding the write lock never stops a print (issue #12, item 5).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from paperfallback.cache import key_check
from paperfallback.cache.key_derivation import is_raw_key, raw_key_with_salt
from paperfallback.domain.errors import (
    CacheError,
    DamagedFile,
    DiskFull,
    PermissionDenied,
    ReadOnlyFolder,
    StorageFault,
    StoreLocked,
    WrongKey,
)

Connection = Any  # sqlcipher3.dbapi2.Connection, untyped upstream
DatabaseError = sqlcipher3.DatabaseError

STORE_FILES = ("cache.db", "work.db")  # the encrypted stores of a data folder, one key
READ_WAIT_MS = 1500  # a reader waits at most this long for a lock, then says so
WRITE_WAIT_MS = 5000  # a writer (import, keying, register) waits this long

# SQLite primary result codes (https://www.sqlite.org/rescode.html)
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = (
    3, 5, 6, 8, 10, 11, 13, 14, 26)
_BLANK = "; blank forms still print"


def _key_pragma(key: str, path: Path | None = None) -> str:
    if is_raw_key(key):
        return f"PRAGMA key = \"x'{key}'\""  # raw 256-bit key: no key derivation cost
    derived = raw_key_with_salt(path, key) if path is not None else None
    if derived is not None:  # the passphrase's key, derived once per process (#15)
        return f"PRAGMA key = \"x'{derived}'\""
    return "PRAGMA key = '" + key.replace("'", "''") + "'"


def sqlite_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of a sqlcipher3 error, when it carries one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_unreadable_pages(exc: BaseException) -> bool:
    """Corrupt or not-a-database: a wrong key, or damaged pages (the key decides which)."""
    code = sqlite_code(exc)
    if code is None:
        return type(exc) is DatabaseError
    return code in (_CORRUPT, _NOTADB)


def open_encrypted(
    path: Path, key: str, *, key_source: str = "the configured key", readonly: bool = False,
) -> Connection:
    """Open an encrypted database, or create it (never when ``readonly``).

    Raises a :class:`StorageFault` naming the true cause: the wrong key, a damaged file,
    a lock held by another process, a full disk, a read-only folder, a permission. A new
    file is created only when the key is proven (it opens the sibling stores and matches
    the key check), so a wrong key never leaves a file the right key cannot open.
    """
    if not key:
        raise WrongKey("the cache key is empty (check PAPERFALLBACK_KEY or the key store)")
    exists = path.exists()
    if not exists:
        if readonly:
            raise CacheError(f"{path} does not exist")
        refuse_unproven_key(path, key, key_source)
    try:
        conn = _connect(path, readonly)
    except DatabaseError as exc:
        raise fault(exc, path, key=key, key_source=key_source) from exc
    try:
        with contextlib.suppress(DatabaseError):
            conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(_key_pragma(key, path))
        conn.execute(f"PRAGMA busy_timeout = {READ_WAIT_MS if readonly else WRITE_WAIT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files on disk
        if not readonly and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # once, on a new file: readers never wait
    except DatabaseError as exc:
        conn.close()
        raise fault(exc, path, key=key, key_source=key_source) from exc
    if not exists:
        make_private(path)
    key_check.remember(path.parent, key)
    return conn


def _connect(path: Path, readonly: bool) -> Connection:
    if not readonly:
        return sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    uri = "file:" + quote(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlcipher3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except DatabaseError:
        conn = None
    if conn is not None and _folder_writable(path.parent):
        return conn
    # A read-only folder: SQLite cannot create the WAL index beside the file, so read the
    # file as it is on disk (immutable). What a crashed writer left in a -wal is not seen.
    if conn is not None:
        conn.close()
    return sqlcipher3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                              check_same_thread=False)


def refuse_unproven_key(path: Path, key: str, key_source: str) -> None:
    """Before creating ``path``: the key must not be refused by the key check, and when a
    sibling store refuses it, another sibling or the key check must prove it (a damaged
    cache beside a good work store is rebuilt); else nothing is written."""
    folder = path.parent
    siblings = [folder / name for name in STORE_FILES
                if folder / name != path and (folder / name).exists()]
    answers = {sibling: key_opens(sibling, key) for sibling in siblings}
    check = key_check.matches(folder, key)
    refused = [s for s, opens in answers.items() if opens is False]
    if refused and True not in answers.values() and check is not True:
        raise WrongKey(
            f"{key_source} does not open {refused[0]}, so {path.name} was not created: "
            "the key is wrong (another Windows user, a lost Credential Manager entry or "
            "a mistyped PAPERFALLBACK_KEY); nothing was changed" + _BLANK
        )
    if check is False:
        raise WrongKey(
            f"the key is wrong: {key_source} is not the key this data folder was set up "
            f"with ({folder / key_check.CHECK_FILE}); nothing was created or changed" + _BLANK
        )


def key_opens(path: Path, key: str) -> bool | None:
    """Does ``key`` decrypt ``path``? None when that cannot be told (missing, locked)."""
    try:
        conn = _connect(path, readonly=True)
    except (DatabaseError, OSError):
        return None
    try:
        conn.execute(_key_pragma(key, path))
        conn.execute(f"PRAGMA busy_timeout = {READ_WAIT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except DatabaseError as exc:
        return False if is_unreadable_pages(exc) else None
    finally:
        conn.close()


def key_is_proven(path: Path, key: str) -> bool:
    """True when something other than ``path`` shows the key is right."""
    for name in STORE_FILES:
        sibling = path.parent / name
        if sibling != path and sibling.exists() and key_opens(sibling, key):
            return True
    return bool(key_check.matches(path.parent, key))


def fault(exc: BaseException, path: Path, *, key: str = "",
          key_source: str = "the configured key") -> StorageFault:
    """The true cause of a failure on ``path``, as a StorageFault with its own message."""
    if isinstance(exc, StorageFault):
        return exc
    if isinstance(exc, OSError):
        return os_fault(exc, path)
    code = sqlite_code(exc)
    if code in (_BUSY, _LOCKED):
        return StoreLocked(
            f"{path} is busy: another PaperFallback process (an import, a refresh or "
            "keying on this PC) is writing it; try again in a minute" + _BLANK)
    if code == _FULL:
        return disk_full(path, exc)
    if not is_unreadable_pages(exc):  # an I/O, permission or open failure: ask the disk
        found = probe_folder(path.parent)
        if found is not None:
            return found
        if code == _PERM or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
            return PermissionDenied(
                f"{path} cannot be opened by this user (permission denied): ask IT to check "
                "its owner and permissions (docs/install.md)" + _BLANK)
        if code == _READONLY:
            return ReadOnlyFolder(f"{path} is read-only for this user ({exc}): ask IT to "
                                  "make the data folder writable" + _BLANK)
        return StorageFault(f"cannot use {path}: {exc}")
    if key and key_is_proven(path, key):
        return DamagedFile(damaged_message(path, exc))
    return WrongKey(
        f"cannot decrypt {path} with {key_source}: the key is wrong (or the file is damaged "
        "and nothing else can prove the key); nothing was changed. Check PAPERFALLBACK_KEY or "
        "the key store (docs/install.md)" + _BLANK)


def damaged_message(path: Path, exc: BaseException | str) -> str:
    if path.name == "work.db":
        return (f"the work store {path} is damaged ({exc}): keyed entries and the register "
                "cannot be read here; do not delete it, call IT (docs/install.md)" + _BLANK)
    return (f"the cache file {path} is damaged ({exc}): run 'paperfallback cache import' or "
            "'paperfallback cache refresh' to rebuild it" + _BLANK)


def disk_full(path: Path, exc: BaseException | str) -> DiskFull:
    return DiskFull(
        f"the disk holding {path.parent} is full ({exc}): free some space; nothing already "
        "saved was lost" + _BLANK)


def os_fault(exc: OSError, path: Path) -> StorageFault:
    """An OSError on a data file or folder, named."""
    where = exc.filename or path
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return disk_full(Path(where), exc.strerror or exc)
    folder = path if path.is_dir() else path.parent
    if exc.errno == errno.EROFS or (
            exc.errno in (errno.EACCES, errno.EPERM) and not _folder_writable(folder)):
        return ReadOnlyFolder(
            f"the data folder {folder} is read-only for this user "
            f"({exc.strerror or exc}): ask IT to make it writable" + _BLANK)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"{where} cannot be opened by this user (permission denied): ask IT to check "
            "its owner and permissions (docs/install.md)" + _BLANK)
    return StorageFault(f"cannot use {where}: {exc.strerror or exc}")


def probe_folder(folder: Path) -> StorageFault | None:
    """Write (and remove) a small file in ``folder``: a full disk, a read-only disk or a
    folder this user may not write shows itself here with its own errno."""
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 65536)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return ReadOnlyFolder(
                f"the data folder {folder} is read-only for this user "
                f"({exc.strerror}): ask IT to make it writable" + _BLANK)
        return os_fault(exc, probe)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _folder_writable(folder: Path) -> bool:
    """Can a new file be created in ``folder``? (root ignores modes: ask the kernel)."""
    try:
        return os.access(folder, os.W_OK) and not os.statvfs(folder).f_flag & os.ST_RDONLY
    except (OSError, AttributeError):
        return os.access(folder, os.W_OK)


def make_private(path: Path) -> None:
    """0600 on a file PaperFallback created (it holds patient data or the key)."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
