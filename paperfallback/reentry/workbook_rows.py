"""Workbook rows imported before and unchanged since: skipped on the next import (issue #15).

A clerk imports the same workbook again and again during an outage (after fixing the rows
with problems, after keying more forms). Checking and saving 5,000 unchanged rows again
cost almost as much as the first import. So each row that imported cleanly is recorded in
the work store (``workbook_rows``, work store migration 5) under a hash of:

- the row exactly as stored in the file: its XML, every cell with its value, type and
  style, and its row number (so an edited, added or moved cell gives another hash);
- everything that reads it: the workbook's other parts (shared strings, styles, the date
  system; not the sheets or the document properties), the sheet's name and its two header
  rows (field ids and labels), the form definition, the pass, the clerk, the keying
  window and the PaperFallback version.

A row is skipped only when its hash is recorded, and then only as part of a whole paper
form section (instance, section) whose every row in the sheet is recorded unchanged, no
keyed value of that section in that pass changed since (any later edit, on screen or
by another import, is in ``entry_audit``, which voids the record), and the form may
still be changed by this clerk (a verified or exported form is reported as left alone, as
always). Rows of blank copies' patient sheets are never skipped. What a skipped row saved
is counted as imported, as it was; anything else is imported as before.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from paperfallback.cache.encrypted_db import Connection
from paperfallback.formspec import FormSpec
from paperfallback.reentry.model import EntryPass

_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)
_ROW_NUMBER = re.compile(rb'\sr="(\d+)"')
_CHUNK = 500  # hashes per query (SQLite's variable limit)


@dataclass(frozen=True, slots=True)
class RowMark:
    """What a row imported as: its paper row, and whether it saved values."""

    instance_id: str  # '' for a row that imported nothing (no form on it)
    section: str
    index: int
    counted: bool
    audit_max: int


def workbook_context(wb: Any) -> bytes:
    """A digest of the workbook parts that say how cells read (shared strings, styles,
    the date system ...): every part except the sheets and the document properties."""
    archive = getattr(wb, "_archive", None)
    digest = hashlib.sha256(b"workbook")
    if archive is None:
        return digest.digest()
    try:
        for name in sorted(archive.namelist()):
            if name.startswith(("xl/worksheets/", "docProps/")):
                continue
            digest.update(name.encode() + b"\0" + hashlib.sha256(archive.read(name)).digest())
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError):
        return b""  # unreadable: no row is ever matched
    return digest.digest()


def row_hashes(wb: Any, ws: Any, workbook: bytes, *, form: FormSpec, section_id: str,
               entry_pass: EntryPass, clerk: str, window_hours: int) -> dict[int, str]:
    """Sheet row number -> the row's hash (empty when the sheet cannot be read as XML
    rows: then no row is skipped, and none is recorded)."""
    from paperfallback import __version__

    archive = getattr(wb, "_archive", None)
    path = getattr(ws, "_worksheet_path", None)
    if not workbook or archive is None or path is None:
        return {}
    try:
        xml = archive.read(path)
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError):
        return {}
    raw: dict[int, bytes] = {}
    for match in _ROW.finditer(xml):
        row = match.group(0)
        number = _ROW_NUMBER.search(row, 0, row.find(b">"))
        if number is None or int(number.group(1)) in raw:
            return {}  # rows without numbers (or twice): read as openpyxl does, no skipping
        raw[int(number.group(1))] = row
    context = hashlib.sha256()
    for part in (workbook, __version__.encode(), str(ws.title).encode(),
                 form.model_dump_json().encode(), section_id.encode(),
                 entry_pass.value.encode(), clerk.casefold().encode(),
                 str(window_hours).encode(), raw.get(1, b""), raw.get(2, b"")):
        context.update(hashlib.sha256(part).digest())
    base = context.digest()
    return {number: hashlib.sha256(base + row).hexdigest() for number, row in raw.items()
            if number > 2}


def recorded(conn: Connection, hashes: Iterable[str]) -> dict[str, RowMark]:
    """The recorded rows among ``hashes``."""
    wanted = list(hashes)
    found: dict[str, RowMark] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for row in conn.execute(
                "SELECT row_hash, instance_id, section, idx, counted, audit_max "
                f"FROM workbook_rows WHERE row_hash IN ({','.join('?' * len(chunk))})", chunk):
            found[row[0]] = RowMark(row[1], row[2], int(row[3]), bool(row[4]), int(row[5]))
    return found


def edited_since(conn: Connection, marks: Iterable[RowMark],
                 entry_pass: EntryPass) -> dict[tuple[str, str], int]:
    """(instance, section) -> the newest audit id of this pass after the oldest mark."""
    oldest = min((m.audit_max for m in marks), default=None)
    if oldest is None:
        return {}
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(
        "SELECT instance_id, section, MAX(id) FROM entry_audit WHERE id > ? AND pass = ? "
        "GROUP BY instance_id, section", (oldest, entry_pass.value))}


def record(conn: Connection, rows: Sequence[tuple[str, str, str, int, bool]],
           entry_pass: EntryPass, now: str) -> None:
    """Record rows that imported cleanly: (hash, instance, section, index, counted)."""
    if not rows:
        return
    newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM entry_audit").fetchone()[0]
    conn.executemany(
        "INSERT OR REPLACE INTO workbook_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(h, instance, entry_pass.value, section, index, int(counted), newest, now)
         for h, instance, section, index, counted in rows])


def unchanged_forms(marks: dict[int, RowMark], edited: dict[tuple[str, str], int],
                    section_id: str, claimed: set[str]) -> set[str]:
    """The forms whose rows of this sheet may all be skipped: every row is recorded
    (``claimed``: forms named by a row that is not), and no value of the section was
    changed in this pass since the oldest of their records."""
    oldest: dict[str, int] = {}
    for mark in marks.values():
        if mark.instance_id:
            oldest[mark.instance_id] = min(oldest.get(mark.instance_id, mark.audit_max),
                                           mark.audit_max)
    return {instance for instance, since in oldest.items()
            if instance not in claimed
            and edited.get((instance, section_id), since) <= since}
