"""Where an import keeps what it has read until the whole extract is in: SQLite, not dicts.

A whole-hospital extract (50,000 inpatients with 72 h of observations: millions of
resources) does not fit in a PC's memory as Python objects (issue 15). The collector
(:mod:`paperfallback.cache.importers.fhir_collect`) therefore maps each resource as it is
read and puts the mapped record here, keyed as it used to key its dicts; references are
resolved at the end by reading the records back, a batch at a time, in the order they
came. Memory then holds one batch of records, not the extract.

For ``cache import`` the tables live in a scratch SQLite file beside the cache
(:meth:`Staging.scratch`), encrypted with a random key that is never stored, written
without a journal in one transaction that is never committed, and deleted when the import
ends: nothing of it is readable, even if a crash leaves the file behind. (Kept inside the
cache's own transaction they cost memory that grew with the extract: dropping them made
SQLite journal every page they used, in memory.) ``read_extract`` (a Snapshot in memory,
for tests and small tools) uses an in-memory database. One table per kind, read in
insertion order (the rowid): no sort, so SQLite needs no temporary b-tree as large as the
extract. Records are pickled: they only ever come back to this process, in this import;
the many small ones (observations) are kept as plain columns (``put_row``), which costs a
third of pickling them.

Which resources were seen before (a repeated id) is asked of every resource read: a Bloom
filter of fixed size (:data:`SEEN_FILTER_BYTES`, so memory does not grow with the extract)
answers "never seen" for nearly all of them without reading the scratch file.
"""

from __future__ import annotations

import os
import pickle
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

from paperfallback.cache.importers.fhir_files import Where

BATCH = 2000  # records per executemany and per read-back batch
_CHUNK = 500  # keys per "IN (...)" look-up
SCRATCH_PREFIX = ".pf-scratch-"
# The "seen before?" filter: 2 bits per key in 2**26 bits (8 MB, fixed). False "maybe"
# answers (then the scratch file is asked) stay under 1 % up to ~1.5 million resources
# and ~6 % at the 9 million of a 50,000-inpatient extract.
SEEN_FILTER_BITS = 1 << 26
SEEN_FILTER_BYTES = SEEN_FILTER_BITS // 8
_BIT_MASK = SEEN_FILTER_BITS - 1
SCRATCH_CACHE_KB = 16_000  # page cache of the scratch file (fixed: memory stays bounded)
SEEN_BATCH = 20_000  # first places written together, in key order (a tenth of the time)


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def _where_of(data: int | bytes, files: list[str]) -> Where:
    """A first place as ``seen`` kept it: (file number << 32) + line of an NDJSON line, or
    the pickled Where of a Bundle entry."""
    if isinstance(data, int):
        return Where(files[data >> 32], data & 0xFFFFFFFF)
    found: Where = loads(data)
    return found


class Staging:
    """Mapped records of one import, in SQLite, by kind and key."""

    def __init__(self, conn: Any = None, path: Path | None = None) -> None:
        """``conn``: a connection to keep the tables in (``path``: its scratch file, deleted
        on close); None: an in-memory database of its own."""
        self._own = conn is None or path is not None
        self.path = path
        self.conn = conn if conn is not None else sqlcipher3.connect(
            ":memory:", isolation_level=None, check_same_thread=False)
        self._tables: set[str] = set()
        self._puts: dict[str, list[tuple[str, float | None, bytes]]] = {}
        self._maxes: dict[str, list[tuple[str, float | None, bytes]]] = {}
        self._collided: dict[str, Where] = {}  # first places of keys whose hash was taken
        self._filter = bytearray()  # bits of every key in stage_seen (made by ``seen``)
        self._taken: set[int] = set()  # hashes in stage_seen among the last keys asked
        self._asked: set[int] = set()  # the hashes of the last keys asked (first_places)
        self._seen_rows: dict[int, tuple[int, str, int | bytes]] = {}  # not yet written
        self._files: list[str] = []  # the files of first places, by number
        self._file_numbers: dict[str, int] = {}
        self._rows_puts: dict[str, list[tuple[Any, ...]]] = {}
        self.conn.execute("DROP TABLE IF EXISTS stage_seen")
        self.conn.execute("CREATE TABLE stage_seen (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                          "data NOT NULL)")

    def _table(self, kind: str) -> str:
        name = f"stage_{kind}"
        if kind not in self._tables:
            self.conn.execute(f"DROP TABLE IF EXISTS {name}")
            self.conn.execute(f"CREATE TABLE {name} (seq INTEGER PRIMARY KEY, "
                              "key TEXT NOT NULL UNIQUE, num REAL, data BLOB)")
            self._tables.add(kind)
        return name

    # ---- writing --------------------------------------------------------------------

    def put(self, kind: str, key: str, record: Any, *, num: float | None = None) -> None:
        """Keep ``record`` under (kind, key); a later one with the same key replaces it in
        its place (the dict semantics the collector had)."""
        pending = self._puts.setdefault(kind, [])
        pending.append((key, num, dumps(record)))
        if len(pending) >= BATCH:
            self.flush()

    def put_max(self, kind: str, key: str, record: Any, num: float) -> None:
        """Keep ``record`` under (kind, key) unless the kept one's ``num`` is not smaller."""
        pending = self._maxes.setdefault(kind, [])
        pending.append((key, num, dumps(record)))
        if len(pending) >= BATCH:
            self.flush()

    def put_row(self, kind: str, key: str, row: tuple[Any, ...]) -> None:
        """Keep ``row`` (str, int, float or None values: no pickling) under (kind, key),
        as ``put`` does; read back with ``row_batches``. Every row of a kind has the same
        length."""
        pending = self._rows_puts.setdefault(kind, [])
        pending.append((key, *row))
        if len(pending) >= BATCH:
            self.flush()

    def _row_table(self, kind: str, width: int) -> str:
        name = f"stage_{kind}"
        if kind not in self._tables:
            columns = ", ".join(f"c{i}" for i in range(width))  # no type: kept as given
            self.conn.execute(f"DROP TABLE IF EXISTS {name}")
            self.conn.execute(f"CREATE TABLE {name} (seq INTEGER PRIMARY KEY, "
                              f"key TEXT NOT NULL UNIQUE, {columns})")
            self._tables.add(kind)
        return name

    def flush(self) -> None:
        for kind, rows in self._rows_puts.items():
            if rows:
                width = len(rows[0]) - 1
                columns = ", ".join(f"c{i}" for i in range(width))
                updates = ", ".join(f"c{i} = excluded.c{i}" for i in range(width))
                self.conn.executemany(
                    f"INSERT INTO {self._row_table(kind, width)} (key, {columns}) VALUES "
                    f"({', '.join('?' * (width + 1))}) ON CONFLICT (key) DO UPDATE SET "
                    f"{updates}", rows)
                rows.clear()
        for kind, rows in self._puts.items():
            if rows:
                self.conn.executemany(
                    f"INSERT INTO {self._table(kind)} (key, num, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET num = excluded.num, data = excluded.data",
                    rows)
                rows.clear()
        for kind, rows in self._maxes.items():
            if rows:
                name = self._table(kind)
                self.conn.executemany(
                    f"INSERT INTO {name} (key, num, data) VALUES (?, ?, ?) ON CONFLICT (key) "
                    f"DO UPDATE SET num = excluded.num, data = excluded.data "
                    f"WHERE excluded.num > {name}.num", rows)
                rows.clear()

    # ---- first copies -----------------------------------------------------------------

    def first_places(self, keys: Iterable[str]) -> dict[str, Where]:
        """Where each of ``keys`` was first seen (only the keys seen before).

        The filter rules out nearly every key never seen; the others are looked up by
        their hash, the table's integer primary key (a third of the time of a text index
        over millions of resources); the key itself is kept beside it, so two keys with one
        hash are told apart. (stage_seen is written at once by ``seen``: nothing to
        flush first.)"""
        wanted: dict[int, str] = {}
        maybe: list[int] = []
        bits = self._filter
        for key in keys:
            number = hash(key)
            wanted[number] = key
            low, high = number & _BIT_MASK, (number >> 32) & _BIT_MASK
            if bits and bits[low >> 3] >> (low & 7) & 1 and bits[high >> 3] >> (high & 7) & 1:
                maybe.append(number)
        self._asked = set(wanted)
        self._taken = set()
        found: dict[str, Where] = {}
        for start in range(0, len(maybe), _CHUNK):
            chunk = maybe[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT seq, key, data FROM stage_seen WHERE seq IN ({marks})", chunk)
            pending = (self._seen_rows[n] for n in chunk if n in self._seen_rows)
            for number, key, data in (*rows, *pending):
                self._taken.add(number)
                if wanted.get(number) == key:
                    found[key] = _where_of(data, self._files)
        for key in self._collided.keys() & wanted.values():
            found[key] = self._collided[key]
        return found

    def seen(self, firsts: list[tuple[str, Where]]) -> None:
        """Note where each key was first seen: one integer (file number, line) for a line
        of NDJSON (no pickling, a few bytes per resource), the pickled Where for a Bundle
        entry. The keys were asked of ``first_places`` just before (else the table is asked
        again here)."""
        rows: dict[int, tuple[int, str, int | bytes]] = {}
        numbers = self._file_numbers
        for key, where in firsts:
            number = hash(key)
            if number in rows:
                self._collided[key] = where
                continue
            if where.entry is None and where.line is not None and where.line <= 0xFFFFFFFF:
                file = numbers.get(where.file)
                if file is None:
                    file = numbers[where.file] = len(self._files)
                    self._files.append(where.file)
                rows[number] = (number, key, (file << 32) | where.line)
            else:
                rows[number] = (number, key, dumps(where))
        unasked = [n for n in rows if n not in self._asked]
        taken = self._taken & rows.keys()
        if unasked:
            taken |= {r[0] for r in self.conn.execute(
                f"SELECT seq FROM stage_seen WHERE seq IN ({','.join('?' * len(unasked))})",
                unasked)} | (self._seen_rows.keys() & set(unasked))
        for number in taken:  # another key with the same hash came first: keep in memory
            _, key, _ = rows.pop(number)
            self._collided[key] = next(w for k, w in firsts if k == key)
        if not self._filter:
            self._filter = bytearray(SEEN_FILTER_BYTES)
        bits = self._filter
        for number in rows:
            low, high = number & _BIT_MASK, (number >> 32) & _BIT_MASK
            bits[low >> 3] |= 1 << (low & 7)
            bits[high >> 3] |= 1 << (high & 7)
        self._seen_rows.update(rows)
        if len(self._seen_rows) >= SEEN_BATCH:
            self._write_seen()

    def _write_seen(self) -> None:
        """Pending first places into stage_seen, in key order: neighbours in one page."""
        pending, self._seen_rows = self._seen_rows, {}
        self.conn.executemany("INSERT INTO stage_seen (seq, key, data) VALUES (?, ?, ?)",
                              (pending[n] for n in sorted(pending)))

    # ---- reading back ------------------------------------------------------------------

    def batches(self, kind: str, size: int = 0) -> Iterator[list[tuple[str, Any]]]:
        """(key, record) of ``kind`` in the order they first came, in lists of ``size``."""
        self.flush()
        if kind not in self._tables:
            return
        cursor = self.conn.execute(f"SELECT key, data FROM {self._table(kind)} ORDER BY seq")
        while True:
            rows = cursor.fetchmany(size or BATCH)
            if not rows:
                return
            yield [(key, loads(data)) for key, data in rows]

    def row_batches(self, kind: str) -> Iterator[list[tuple[Any, ...]]]:
        """The rows ``put_row`` kept under ``kind`` (without their keys), in the order
        they first came, ``BATCH`` at a time."""
        self.flush()
        if kind not in self._tables:
            return
        columns = [row[1] for row in self.conn.execute(f"PRAGMA table_info(stage_{kind})")]
        cursor = self.conn.execute(
            f"SELECT {', '.join(c for c in columns if c.startswith('c'))} FROM stage_{kind} "
            "ORDER BY seq")
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield rows

    def fetch(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        """The records kept under ``keys`` (only those kept)."""
        return {key: loads(data) for key, data in self._rows(kind, keys).items()}

    def _rows(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        return dict(self._select(kind, "key, data", keys))

    def _select(self, kind: str, columns: str, keys: Iterable[str]) -> Iterator[Any]:
        """``columns`` of the rows kept under ``keys``, a chunk of keys per query."""
        self.flush()
        if kind not in self._tables:
            return
        wanted = list(set(keys))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from self.conn.execute(
                f"SELECT {columns} FROM {self._table(kind)} WHERE key IN ({marks})", chunk)

    def present(self, kind: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are kept under ``kind``."""
        return {row[0] for row in self._select(kind, "key", keys)}

    def count_unmatched(self, kind: str, other: str) -> int:
        """How many keys of ``kind`` are not kept under ``other``."""
        self.flush()
        if kind not in self._tables:
            return 0
        name = self._table(kind)
        if other not in self._tables:
            return int(self.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        return int(self.conn.execute(
            f"SELECT count(*) FROM {name} a WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self._table(other)} b WHERE b.key = a.key)").fetchone()[0])

    @classmethod
    def scratch(cls, folder: Path | None = None, *, sole: bool = False) -> Staging:
        """Staging in a scratch file in ``folder`` (default: the temporary folder).
        ``sole``: the caller holds the lock that lets one import run at a time in
        ``folder`` (the cache's write lock), so any other scratch file there was left by a
        killed import: it is unreadable (its key died with it) and is removed."""
        if sole and folder is not None:
            for leftover in folder.glob(f"{SCRATCH_PREFIX}*.db"):
                leftover.unlink(missing_ok=True)
        handle, name = tempfile.mkstemp(prefix=SCRATCH_PREFIX, suffix=".db", dir=folder)
        os.close(handle)
        conn = sqlcipher3.connect(name, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA key = \"x'{secrets.token_hex(32)}'\"")
            # Read back once, by this process, then deleted: the pages need no HMAC (a
            # tenth of the import's time); still encrypted with a key never stored.
            conn.execute("PRAGMA cipher_use_hmac = OFF")
            conn.execute(f"PRAGMA cache_size = -{SCRATCH_CACHE_KB}")
            conn.execute("PRAGMA journal_mode = OFF")  # scratch: nothing to recover
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("BEGIN")  # never committed: no sync per batch
        except BaseException:
            conn.close()
            Path(name).unlink(missing_ok=True)
            raise
        return cls(conn, Path(name))

    def close(self) -> None:
        """Close (a scratch file is deleted; tables in a caller's database dropped)."""
        self._puts.clear()
        self._maxes.clear()
        self._rows_puts.clear()
        self._seen_rows.clear()
        self._filter = bytearray()
        if self._own:
            self.conn.close()
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            return
        for kind in sorted(self._tables | {"seen"}):
            self.conn.execute(f"DROP TABLE IF EXISTS stage_{kind}")
        self._tables.clear()
