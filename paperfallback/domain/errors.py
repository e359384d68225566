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


class WrongKey(CacheError):
    """The cache key does not decrypt the cache file."""


class NoCache(CacheError):
    """No snapshot has been imported yet."""


class ImportRefused(CacheError):
    """An import was refused by a safety guard (e.g. a partial extract)."""
