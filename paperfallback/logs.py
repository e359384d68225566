"""Rotating log files in ``<data dir>/logs/``, kept free of patient data.

The log is what IT reads after an incident: which command ran, which imports and
refreshes succeeded or failed, which form instances were printed (by instance ID),
which exports were written, and every error. It must never hold patient data, because
it is a plaintext file outside the encrypted stores. Two guards: messages name things
by ID and count, never by name; and a filter on the file handler redacts anything that
looks like an NHS number and every quoted value (an error message quotes what a user
typed or what a file held, which may be a name).

Modules log through ``logging.getLogger(__name__)``; only the CLI entry point (and the
desktop app's start-up) call :func:`setup_logging`.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
import time
from pathlib import Path

LOG_FOLDER = "logs"
LOG_FILE = "paperfallback.log"
MAX_BYTES = 1_000_000  # about 5,000 lines: months of a ward PC's activity per file
BACKUP_COUNT = 5
ROOT_LOGGER = "paperfallback"

# 10 digits, optionally grouped 3-3-4 with spaces or hyphens, not part of a longer number.
_NHS_NUMBER = re.compile(r"(?<![\d])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d])")
# A quoted value: 'x' or "x" (an apostrophe inside a word, as in "extract's", is not a quote).
_QUOTED = re.compile(r"(?<![\w])'[^'\n]*'(?![\w])|\"[^\"\n]*\"")


def redact(text: str) -> str:
    """Remove what could be patient data from a message: NHS numbers and quoted values."""
    text = _NHS_NUMBER.sub("[NHS number]", text)
    return _QUOTED.sub("'…'", text)


class RedactingFilter(logging.Filter):
    """Rewrites every record (message and traceback) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = "\n".join(
                line if line.startswith('  File "') else redact(line)  # code paths kept
                for line in text.splitlines()
            )
            record.exc_info = None
        return True


class _UtcFormatter(logging.Formatter):
    """ISO 8601 UTC times: log lines from PCs in different clocks' states still sort."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class _SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Closes the file after each record. The desktop app and the scheduled refresh write
    the same log; on Windows a file held open by one process cannot be renamed by the
    other at rollover. A ward PC logs a few lines a minute, so reopening costs nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)
        finally:
            if self.stream is not None:
                with contextlib.suppress(OSError):  # a full disk fails the flush too
                    self.stream.close()
                self.stream = None

    def handleError(self, record: logging.LogRecord) -> None:
        """A full or read-only disk: lose the log line, never print a traceback at a nurse
        (the fault itself is reported by the command that meets it)."""


def log_path(folder: Path) -> Path:
    return folder / LOG_FOLDER / LOG_FILE


def setup_logging(folder: Path, *, level: int = logging.INFO) -> Path | None:
    """Send the package's log records to a rotating file in ``folder/logs/``.

    Idempotent per folder; switching folders (tests, ``--data-dir``) moves the handler.
    Returns the log file, or None when the folder cannot be written: a missing log must
    never stop a ward printing.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    path = log_path(folder)
    for handler in list(logger.handlers):
        if getattr(handler, "_paperfallback", False):
            if Path(getattr(handler, "baseFilename", "")) == path.absolute():
                return path
            logger.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch()
        handler = _SharedRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
    except OSError:
        return None
    with contextlib.suppress(OSError):  # POSIX: readable by this user only
        if os.name != "nt":
            path.chmod(0o600)
    handler.setFormatter(_UtcFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler._paperfallback = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.level or level))
    return path


def close_logging() -> None:
    """Detach and close the file handler (tests; a clean exit)."""
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_paperfallback", False):
            logger.removeHandler(handler)
            handler.close()
