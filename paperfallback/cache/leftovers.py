"""Crash leftovers: plaintext a killed refresh left behind, removed at the next start.

A Bulk Data refresh downloads patient data (names in Encounter, Patient) as plaintext
NDJSON into ``refresh-tmp/export-*`` and deletes it when it ends. A refresh killed with
``kill -9`` or by a power cut cannot delete it, so every command removes, when it starts,
each such folder that no live process holds (issue #12: no plaintext outlives its process
by more than one run). A live refresh marks its folder by holding an exclusive lock on
``.in-use`` inside it (:func:`in_use`), so a command started meanwhile never pulls the
download out from under a refresh that is still running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TEMP_FOLDER = "refresh-tmp"  # cache.refresh keeps its downloads here
MARK = ".in-use"
UNMARKED_GRACE_S = 60  # a folder just made, whose owner has not marked it yet
log = logging.getLogger(__name__)


def _lock(handle: IO[bytes]) -> bool:
    """An exclusive, non-blocking lock on an open file; False when another process has it."""
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def in_use(folder: Path) -> Iterator[None]:
    """Mark ``folder`` as this live process's own while the block runs (the lock goes
    with the process, however it ends)."""
    handle = (folder / MARK).open("a+b")
    try:
        _lock(handle)
        yield
    finally:
        handle.close()


def _abandoned(folder: Path) -> bool:
    mark = folder / MARK
    if not mark.exists():
        return time.time() - folder.stat().st_mtime > UNMARKED_GRACE_S
    with mark.open("a+b") as handle:
        return _lock(handle)  # nobody holds it: its process has ended


def remove_crash_leftovers(data_dir: Path) -> int:
    """Delete abandoned refresh downloads; returns how many. Never raises: a leftover that
    cannot be removed now is tried again at the next start (and logged)."""
    parent = data_dir / TEMP_FOLDER
    removed = 0
    try:
        children = [c for c in parent.iterdir() if c.is_dir()]
    except OSError:
        return 0
    for child in children:
        try:
            if not _abandoned(child):
                continue
            shutil.rmtree(child)
            removed += 1
        except OSError as exc:
            log.warning("could not remove the crash leftover %s: %s", child.name, exc)
    if removed:
        log.warning("removed %d download folder(s) a crashed refresh left in %s", removed,
                    TEMP_FOLDER)
    return removed
