"""An .xlsx file is checked before any XML parser sees it (issue 12, items 6 and 11).

An .xlsx is a zip of XML parts. A 1.5 MB workbook that expands to 1.5 GB (a zip bomb) ran
for minutes with growing memory, and a sheet declaring nested XML entities (a "billion
laughs") ended in a raw traceback. So, before parsing, for ward workbooks (``entries
import``, reentry.workbook_import) and xlsx extracts (``cache import``, tabular) alike:

- the parts' total uncompressed size must be within the limit, read as actually
  decompressed (a zip can understate its sizes), never trusting the header alone;
- each worksheet's row count (its ``<row`` elements, counted in the raw bytes) must be
  within the limit;
- no part may hold a DTD (``<!DOCTYPE``/``<!ENTITY``): Excel never writes one.

Each refusal names the file and the limit. This module sits in ``cache`` (the lowest
layer both importers may use: cache must not import reentry), so there is one check.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from paperfallback.domain.errors import InputError


@dataclass(frozen=True, slots=True)
class WorkbookLimits:
    max_bytes: int  # all parts together, uncompressed
    max_rows: int  # per worksheet


# A ward workbook holds a few hundred rows (one per printed row of a pack): 50 MB and
# 20,000 rows per sheet are far above any real one.
KEYING_LIMITS = WorkbookLimits(max_bytes=50 * 2**20, max_rows=20_000)
# An extract of a whole hospital's observations can be large; Excel itself stops at
# 1,048,576 rows a sheet. CSV is the better format for more (docs/formats.md).
EXTRACT_LIMITS = WorkbookLimits(max_bytes=500 * 2**20, max_rows=1_048_576)
MAX_PARTS = 10_000

_CHUNK = 1 << 20
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")


def check_workbook(path: Path, limits: WorkbookLimits | None = None) -> None:
    """Raise InputError (where = the file) if ``path`` breaks a limit or declares a DTD.

    ``limits`` defaults to EXTRACT_LIMITS. A file that is not a zip at all is left to the
    workbook reader, which says so in its own words."""
    limits = limits or EXTRACT_LIMITS
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with book:
        parts = book.infolist()
        if len(parts) > MAX_PARTS:
            raise InputError(
                f"the workbook holds {len(parts):,} parts, more than the limit of "
                f"{MAX_PARTS:,}; it is not an ordinary Excel file", where=str(path))
        declared = sum(p.file_size for p in parts)
        if declared > limits.max_bytes:
            raise _too_big(path, declared, limits)
        sheet_names = _sheet_names(book)
        total = 0
        for part in parts:
            total = _scan(book, part, path, limits, total, sheet_names)


def _too_big(path: Path, size: int, limits: WorkbookLimits) -> InputError:
    return InputError(
        f"the workbook expands to more than {_mb(size)} MB, more than the limit of "
        f"{_mb(limits.max_bytes)} MB; it is refused before reading (a compressed 'zip bomb' "
        "or far larger than any ward workbook or extract)", where=str(path))


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def _scan(book: zipfile.ZipFile, part: zipfile.ZipInfo, path: Path, limits: WorkbookLimits,
          total: int, sheet_names: dict[str, str]) -> int:
    """Read one part in chunks: count its real size, its rows, and look for a DTD."""
    is_sheet = part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml")
    is_xml = part.filename.endswith((".xml", ".rels", ".vml"))
    rows = 0
    tail = b""
    try:
        with book.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > limits.max_bytes:
                    raise _too_big(path, total, limits)
                if not is_xml:
                    continue
                window = tail + chunk
                if _DTD.search(window):
                    raise InputError(
                        f"part {part.filename} holds XML entity declarations (a DOCTYPE), "
                        "which Excel never writes; refused as an entity-expansion ('billion "
                        "laughs') attack", where=str(path))
                if is_sheet:
                    rows += len(_ROW.findall(chunk)) + _straddles(tail, chunk)
                    if rows > limits.max_rows:
                        sheet = sheet_names.get(part.filename, part.filename)
                        raise InputError(
                            f"sheet {sheet!r} has more than {limits.max_rows:,} rows, the "
                            "limit; split the workbook", where=str(path))
                tail = chunk[-16:]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise InputError(f"the workbook is damaged ({part.filename}: {exc})",
                         where=str(path)) from None
    return total


def _straddles(tail: bytes, chunk: bytes) -> int:
    """A ``<row`` cut in two by a chunk boundary, counted once."""
    if not tail:
        return 0
    joined = tail + chunk[:16]
    return sum(1 for m in _ROW.finditer(joined) if m.start() < len(tail) < m.end())


_TAG = re.compile(rb"<(sheet|Relationship)\b([^>]*)>")
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')


def _sheet_names(book: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part -> the sheet's name as Excel shows it (for the message only)."""
    try:
        workbook = book.read("xl/workbook.xml")[: 1 << 20]
        rels = book.read("xl/_rels/workbook.xml.rels")[: 1 << 20]
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return {}
    targets: dict[bytes, str] = {}
    for _, body in _TAG.findall(rels):
        attributes = dict(_ATTRIBUTE.findall(body))
        target = attributes.get(b"Target", b"").decode(errors="replace").lstrip("/")
        targets[attributes.get(b"Id", b"")] = (
            target if target.startswith("xl/") else f"xl/{target}")
    names: dict[str, str] = {}
    for tag, body in _TAG.findall(workbook):
        attributes = dict(_ATTRIBUTE.findall(body))
        part = targets.get(attributes.get(b"r:id", b""))
        if tag == b"sheet" and part:
            names[part] = attributes.get(b"name", b"").decode(errors="replace")
    return names
