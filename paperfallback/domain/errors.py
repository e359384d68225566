"""Exceptions a user can act on.

Every error raised at the edge where input enters carries a message that names what
and where (file, line, field), so the CLI and the UI can show it as it is.
"""

from __future__ import annotations


class PaperFallbackError(Exception):
    """Base for errors shown to users as one line, without a traceback."""


class InputError(PaperFallbackError):
    """Bad input from a file, a form or a command line argument."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InvalidNhsNumber(InputError):
    """An NHS number that fails the length, digit or Modulus 11 check."""


class CacheError(PaperFallbackError):
    """The cache cannot be opened, read or replaced."""


class StorageFault(CacheError):
    """A data file cannot be used for a reason outside its data, named truly so IT chases
    the right cause: each kind has its own message and its own ``fault`` in ``cache status
    --json`` (docs/install.md, monitoring)."""

    fault = "unreadable"


class WrongKey(StorageFault):
    """The cache key does not decrypt the cache file."""

    fault = "wrong-key"


class DamagedFile(StorageFault):
    """The key is proven good (it opens a sibling store or the key check) but a file's
    pages cannot be read: a disk fault, a power cut mid-write, a bad copy."""

    fault = "damaged"


class StoreLocked(StorageFault):
    """Another process holds the write lock longer than we wait (an import, a refresh)."""

    fault = "locked"


class DiskFull(StorageFault):
    """No space left on the disk that holds the data folder."""

    fault = "disk-full"


class ReadOnlyFolder(StorageFault):
    """The data folder (or its disk) cannot be written by this user."""

    fault = "read-only"


class PermissionDenied(StorageFault):
    """A data file exists but this user may not read or write it."""

    fault = "permission-denied"


class NoCache(CacheError):
    """No snapshot has been imported yet."""


class ImportRefused(CacheError):
    """An import was refused by a safety guard (e.g. a partial extract)."""
