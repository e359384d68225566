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
extract. Records are pickled: they only ever come back to this process, in this import.
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


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def _where_of(data: str | bytes) -> Where:
    if isinstance(data, str):
        line, _, file = data.partition(":")
        return Where(file, int(line))
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

    def flush(self) -> None:
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

        Keys are looked up by their hash, the table's integer primary key (a third of the
        time of a text index over millions of resources); the key itself is kept beside it,
        so two keys with one hash are told apart."""
        self.flush()
        wanted = {hash(k): k for k in keys}
        hashes = list(wanted)
        found: dict[str, Where] = {}
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for number, key, data in self.conn.execute(
                    f"SELECT seq, key, data FROM stage_seen WHERE seq IN ({marks})", chunk):
                if wanted.get(number) == key:
                    found[key] = _where_of(data)
        for key in self._collided.keys() & wanted.values():
            found[key] = self._collided[key]
        return found

    def seen(self, firsts: list[tuple[str, Where]]) -> None:
        """Note where each key was first seen: "file:line" as text for a line of NDJSON (no
        pickling per resource), the pickled Where for a Bundle entry."""
        rows = {}
        for key, where in firsts:
            number = hash(key)
            if number in rows:
                self._collided[key] = where
                continue
            rows[number] = (number, key, f"{where.line}:{where.file}"
                            if where.entry is None and where.line is not None else dumps(where))
        taken = {r[0] for r in self.conn.execute(
            f"SELECT seq FROM stage_seen WHERE seq IN ({','.join('?' * len(rows))})",
            list(rows))} if rows else set()
        for number in taken:  # another key with the same hash came first: keep in memory
            _, key, _ = rows.pop(number)
            self._collided[key] = next(w for k, w in firsts if k == key)
        self.conn.executemany("INSERT INTO stage_seen (seq, key, data) VALUES (?, ?, ?)",
                              rows.values())

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
        if self._own:
            self.conn.close()
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            return
        for kind in sorted(self._tables | {"seen"}):
            self.conn.execute(f"DROP TABLE IF EXISTS stage_{kind}")
        self._tables.clear()
