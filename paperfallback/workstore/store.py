"""The work store: what staff did during the outage (the register of issued forms, keyed
entries, export state), in one encrypted file ``work.db`` beside the cache.

Unlike the cache it is never replaced by an import. One class opens it, brings its
schema forward (:mod:`paperfallback.workstore.migrations`) and hands out one
:meth:`WorkStore.transaction`; the register, the entries store and the export state all
take a WorkStore, so there is one connection, one lock and one schema version per file.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paperfallback.cache.encrypted_db import Connection, DatabaseError, fault, open_encrypted
from paperfallback.domain.errors import StorageFault
from paperfallback.workstore.migrations import MIGRATIONS, SCHEMA_VERSION

WORK_FILE = "work.db"
log = logging.getLogger(__name__)


class NewerWorkStore(StorageFault):
    """``work.db`` was written by a newer PaperFallback than this one."""

    fault = "newer-version"


class WorkStore:
    """One open ``work.db``. Not thread-safe: one per thread or process."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, folder: Path, key: str, *,
             key_source: str = "the configured key") -> WorkStore:
        """Open (or create, when the key is proven) and migrate ``<folder>/work.db``."""
        path = folder / WORK_FILE
        store = cls(open_encrypted(path, key, key_source=key_source), path)
        try:
            store._migrate()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def connection(self) -> Connection:
        """For reads; every write goes through :meth:`transaction`."""
        return self._conn

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with contextlib.suppress(DatabaseError):
            self._conn.close()

    def __enter__(self) -> WorkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One committed unit of work; a nested use joins the outer one.

        Waits a few seconds for another process's write lock, then raises StoreLocked
        (never a half-open transaction); a full disk or a read-only folder is named too.
        """
        if self._conn.in_transaction:
            yield self._conn
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except DatabaseError as exc:
            raise fault(exc, self.path) from exc
        try:
            yield self._conn
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except DatabaseError as exc:
            self._rollback()
            raise fault(exc, self.path) from exc

    def _rollback(self) -> None:
        # SQLite may already have rolled back (a full disk, an I/O error): keep the first error.
        if self._conn.in_transaction:
            with contextlib.suppress(DatabaseError):
                self._conn.execute("ROLLBACK")

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise NewerWorkStore(
                f"{self.path} was written by a newer PaperFallback (schema {version}, this "
                f"one knows up to {SCHEMA_VERSION}): install the newer version on this PC; "
                "nothing was changed; blank forms still print")
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            try:
                # executescript: DDL runs as written, inside our own transaction.
                self._conn.executescript(
                    f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                    f"PRAGMA user_version = {migration.version};\nCOMMIT;")
            except DatabaseError as exc:
                self._rollback()
                raise fault(exc, self.path) from exc
            log.info("work store %s: schema %d -> %d (%s)", self.path.name, version,
                     migration.version, migration.what)
            version = migration.version


@contextmanager
def scratch_work_store() -> Iterator[WorkStore]:
    """A throwaway work store in the temporary folder, encrypted with a key of its own that
    is never stored, and deleted when done: for working on a copy without writing to (or
    locking) the real one (``export --to --dry-run`` queues into one)."""
    with tempfile.TemporaryDirectory(prefix="pf-scratch-") as folder:
        store = WorkStore.open(Path(folder), secrets.token_hex(32),
                               key_source="a scratch key")
        try:
            yield store
        finally:
            store.close()
