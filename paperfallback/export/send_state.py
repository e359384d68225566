"""What was sent to the EPR's FHIR API, entry by entry, in the work store.

``paperfallback export --to URL`` queues every Bundle entry it is going to send here first
(``pending``), then records the server's answer for each: ``accepted`` with the server's
``location``, or ``rejected`` with the text of its OperationOutcome. A send that stops
half-way (network, power, a crash) leaves the rest ``pending``; the next run sends exactly
those. An entry the server accepted is never queued again with the same content; a newer
version of it (a correction) *supersedes* an older pending or rejected one. Rows are kept
per server (its base URL), so sending to a test EPR does not count as sent to the live one.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson

from paperfallback.export.fhir_bundle import OTHER_TYPES_ORDER, TYPE_ORDER
from paperfallback.workstore import WorkStore

T = TypeVar("T")

State = Literal["pending", "accepted", "rejected", "superseded"]
OUTCOME_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class QueuedEntry:
    """One Bundle entry on its way to (or answered by) one server."""

    seq: int
    target: str
    full_url: str
    unit_key: str
    instance_id: str
    form_id: str
    resource_type: str
    entry: dict[str, Any]
    state: State
    attempts: int = 0
    location: str = ""
    outcome: str = ""
    size: int = 0  # bytes of the entry as stored (a Bundle is cut by size too: send.pack)


@dataclass(frozen=True, slots=True)
class Answer:
    """The server's answer for one queued entry."""

    seq: int
    state: Literal["accepted", "rejected"]
    http_status: str
    location: str = ""
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry the export planned, before it is queued."""

    full_url: str
    unit_key: str
    instance_id: str
    form_id: str
    resource_type: str
    method: str
    url: str
    entry: dict[str, Any]


def entry_digest(entry: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)).hexdigest()


_COLUMNS = ("seq, target, full_url, unit_key, instance_id, form_id, resource_type, entry, "
            "state, attempts, location, outcome")
_KNOWN_STATES = ("pending", "accepted", "rejected")
LOOKUP_BATCH = 500  # entries whose earlier versions are looked up in one query
HEADS_PAGE = 200  # units whose order is read from the log in one query


def _rank_sql(alias: str) -> str:
    """``fhir_bundle.type_rank`` of a row, in SQL (from TYPE_ORDER: one rule)."""
    whens = " ".join(f"WHEN '{t}' THEN {r}" for t, r in TYPE_ORDER.items())
    return f"(CASE {alias}.resource_type {whens} ELSE {OTHER_TYPES_ORDER} END)"


RANKS = tuple(sorted({*TYPE_ORDER.values(), OTHER_TYPES_ORDER}))
# The first entry of each pending unit, in send order: a unit goes when its first entry by
# (type rank, seq) comes up, so units with a Patient go first, then with an Encounter, then
# the rest in the order they were queued (``send.chunked`` is the same rule in memory).
# The by-state index walks the pending rows in seq order without sorting them.
_HEADS = (
    "SELECT s.seq, s.unit_key FROM send_entries AS s INDEXED BY send_entries_by_state "
    f"WHERE s.target = ? AND s.state = 'pending' AND {_rank_sql('s')} = ? AND s.seq > ? "
    "AND (s.unit_key = '' OR NOT EXISTS (SELECT 1 FROM send_entries AS p INDEXED BY "
    "send_entries_by_unit WHERE p.target = s.target AND p.state = 'pending' AND "
    f"p.unit_key = s.unit_key AND ({_rank_sql('p')} < ? OR ({_rank_sql('p')} = ? AND "
    "p.seq < s.seq)))) ORDER BY s.seq LIMIT ?"
)
_UNIT = (f"SELECT {_COLUMNS} FROM send_entries AS u INDEXED BY send_entries_by_unit "
         "WHERE u.target = ? AND u.state = 'pending' AND u.unit_key = ? "
         f"ORDER BY {_rank_sql('u')}, u.seq")
# By its URL: without INDEXED BY, SQLite chose the by-state index and read every pending
# row for each entry queued (300 forms took 16.6 s instead of 0.7 s).
SUPERSEDE = ("UPDATE send_entries INDEXED BY send_entries_by_url SET state = 'superseded' "
             "WHERE target = ? AND full_url = ? AND state IN ('pending', 'rejected')")


def _queued(r: Sequence[Any]) -> QueuedEntry:
    return QueuedEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7]), r[8],
                       r[9], r[10], r[11], len(r[7]))


class SendLog:
    """The send tables in the work store (``send_entries``; see workstore.migrations).

    Nothing here holds the log whole (issue 15): entries are queued as the export builds
    them, each looked up by its URL, and read back a unit at a time in send order."""

    def __init__(self, work: WorkStore) -> None:
        self.work = work
        self._conn = work.connection

    def queue(self, target: str, entries: Iterable[NewEntry], *,
              now: datetime | None = None) -> tuple[int, int]:
        """Queue what is new, in one transaction (or in the caller's: ``export --to``
        queues a whole export in one). Returns (queued, left out as known).

        The same content already pending, accepted or rejected is not queued again (a
        rejected one is retried only on request: ``retry_rejected``). A different content
        for the same resource supersedes an older pending or rejected version.
        """
        stamp = (now or datetime.now(UTC)).isoformat()
        queued = same = 0
        with self.work.transaction() as db:
            for batch in batched(entries, LOOKUP_BATCH):
                known = self._known(target, {new.full_url for new in batch})
                for new in batch:
                    digest = entry_digest(new.entry)
                    states = known.setdefault(new.full_url, {})
                    if states.get(digest) in _KNOWN_STATES:
                        same += 1
                        continue
                    if any(st in ("pending", "rejected") for st in states.values()):
                        db.execute(SUPERSEDE, (target, new.full_url))
                    db.execute(
                        "INSERT INTO send_entries (target, full_url, unit_key, instance_id, "
                        "form_id, resource_type, method, url, entry, digest, state, "
                        "queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                        (target, new.full_url, new.unit_key, new.instance_id, new.form_id,
                         new.resource_type, new.method, new.url, orjson.dumps(new.entry),
                         digest, stamp),
                    )
                    states[digest] = "pending"
                    queued += 1
        return queued, same

    def _known(self, target: str, urls: set[str]) -> dict[str, dict[str, str]]:
        """URL -> {digest: state} of the current versions of these entries."""
        chosen = sorted(urls)
        rows = self._conn.execute(
            "SELECT full_url, digest, state FROM send_entries INDEXED BY send_entries_by_url "
            f"WHERE target = ? AND full_url IN ({', '.join('?' * len(chosen))}) AND "
            "state != 'superseded' ORDER BY seq", (target, *chosen),
        ).fetchall()
        known: dict[str, dict[str, str]] = defaultdict(dict)
        for full_url, digest, state in rows:
            known[full_url][digest] = state
        return known

    def units(self, target: str, *, page: int | None = None) -> Iterator[list[QueuedEntry]]:
        """The pending entries of ``target``, unit by unit in send order, read as used (a
        page of unit heads, then each unit's rows): whole units, the Patient's first."""
        page = page or HEADS_PAGE
        for rank in RANKS:
            last = 0
            while True:
                heads = self._conn.execute(
                    _HEADS, (target, rank, last, rank, rank, page)).fetchall()
                for seq, unit_key in heads:
                    last = seq
                    rows = (self._conn.execute(_UNIT, (target, unit_key)).fetchall()
                            if unit_key else self._conn.execute(
                                f"SELECT {_COLUMNS} FROM send_entries WHERE seq = ? AND "
                                "state = 'pending'", (seq,)).fetchall())
                    if rows:  # none: sent since this page was read (never, in one run)
                        yield [_queued(r) for r in rows]
                if len(heads) < page:
                    break

    def pending(self, target: str) -> list[QueuedEntry]:
        """Every pending entry (small logs and tests: a send reads :meth:`units`)."""
        return self._select("target = ? AND state = 'pending'", (target,))

    def pending_count(self, target: str) -> int:
        return int(self._conn.execute(
            "SELECT count(*) FROM send_entries WHERE target = ? AND state = 'pending'",
            (target,)).fetchone()[0])

    def rejected(self, *, limit: int) -> tuple[list[QueuedEntry], int]:
        """The first ``limit`` rejected entries (every server) and how many there are."""
        count = int(self._conn.execute(
            "SELECT count(*) FROM send_entries WHERE state = 'rejected'").fetchone()[0])
        return self._select("state = 'rejected'", (), limit=limit), count

    def entries(self, target: str | None = None) -> list[QueuedEntry]:
        """Every current (not superseded) row, for one server or all (small logs, tests)."""
        if target is None:
            return self._select("state != 'superseded'", ())
        return self._select("target = ? AND state != 'superseded'", (target,))

    def _select(self, where: str, args: Sequence[Any], *,
                limit: int | None = None) -> list[QueuedEntry]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM send_entries WHERE {where} ORDER BY seq"
            + (f" LIMIT {int(limit)}" if limit is not None else ""), tuple(args),
        ).fetchall()
        return [_queued(r) for r in rows]

    def copy_to(self, other: SendLog, target: str) -> None:
        """``target``'s current rows into ``other`` (a scratch log a dry run queues into),
        read and written a batch at a time; accepted entries without their content (only
        their digest is needed: they are never sent again)."""
        columns = ("seq, target, full_url, unit_key, instance_id, form_id, resource_type, "
                   "method, url, entry, digest, state, attempts, http_status, location, "
                   "outcome, queued_at, answered_at")
        chosen = columns.replace("entry,", "CASE WHEN state = 'accepted' THEN X'7B7D' ELSE "
                                           "entry END,")
        cursor = self._conn.execute(
            f"SELECT {chosen} FROM send_entries WHERE target = ? AND state != 'superseded' "
            "ORDER BY seq", (target,))
        with other.work.transaction() as db:
            while rows := cursor.fetchmany(LOOKUP_BATCH):
                db.executemany(f"INSERT INTO send_entries ({columns}) VALUES "
                               f"({', '.join('?' * 18)})", rows)

    def record(self, answers: Iterable[Answer], *, now: datetime | None = None) -> None:
        """The server's answers for one chunk, in one transaction."""
        stamp = (now or datetime.now(UTC)).isoformat()
        with self.work.transaction() as db:
            db.executemany(
                "UPDATE send_entries SET state = ?, http_status = ?, location = ?, "
                "outcome = ?, attempts = attempts + 1, answered_at = ? WHERE seq = ?",
                ((a.state, a.http_status, a.location, a.outcome[:OUTCOME_MAX_CHARS], stamp,
                  a.seq) for a in answers))

    def count_attempt(self, seqs: Iterable[int]) -> None:
        """A try without an answer (network, 5xx): the entries stay pending."""
        with self.work.transaction() as db:
            db.executemany("UPDATE send_entries SET attempts = attempts + 1 WHERE seq = ?",
                           ((s,) for s in seqs))

    def retry_rejected(self, target: str | None = None,
                       instance_ids: Iterable[str] | None = None) -> int:
        """Put rejected entries back in the queue (the data manager fixed the cause on the
        EPR side, e.g. registered the patient). Returns how many."""
        where, args = "state = 'rejected'", []
        if target is not None:
            where += " AND target = ?"
            args.append(target)
        chosen = list(instance_ids or [])
        if chosen:
            where += f" AND instance_id IN ({', '.join('?' * len(chosen))})"
            args.extend(chosen)
        with self.work.transaction() as db:
            cur = db.execute(
                f"UPDATE send_entries SET state = 'pending', outcome = '' WHERE {where}",
                tuple(args))
            return int(cur.rowcount or 0)

    def counts_by_instance(self) -> dict[tuple[str, str], Counter[str]]:
        """(instance id, form id) -> Counter of sent / accepted / rejected / pending."""
        rows = self._conn.execute(
            "SELECT instance_id, form_id, state, count(*), "
            "sum(attempts > 0 OR state IN ('accepted', 'rejected')) FROM send_entries "
            "WHERE state != 'superseded' GROUP BY instance_id, form_id, state"
        ).fetchall()
        out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for instance_id, form_id, state, count, sent in rows:
            counts = out[(instance_id, form_id)]
            counts[state] += count
            if sent:
                counts["sent"] += sent
        return out


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, read as used."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


SEND_KEYS = ("sent", "accepted", "rejected", "pending")


def send_counts(work: WorkStore) -> dict[tuple[str, str], Counter[str]]:
    """Per form instance, for ``entries status`` (an empty dict before any send)."""
    return SendLog(work).counts_by_instance()


def add_send_counts(status: dict[str, Any],
                    counts: dict[tuple[str, str], Counter[str]]) -> dict[str, Any]:
    """Add ``sent``/``accepted``/``rejected``/``pending`` to ``entries status --json``: on
    each form instance, each ward-and-form group, per form id and in total (``sending``)."""
    by_instance: dict[str, Counter[str]] = defaultdict(Counter)
    for (instance_id, _form), got in counts.items():
        by_instance[instance_id].update(got)
    for line in status.get("instances", []):
        got = by_instance.get(line["instance_id"], Counter())
        line.update({k: got.get(k, 0) for k in SEND_KEYS})
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for line in status.get("instances", []):
        groups[(line.get("ward", ""), line["form_id"])].update(
            {k: line[k] for k in SEND_KEYS})
    for group in status.get("by_ward_and_form", []):
        got = groups.get((group.get("ward", ""), group["form_id"]), Counter())
        group.update({k: got.get(k, 0) for k in SEND_KEYS})
    by_form: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for (_instance, form_id), got in counts.items():
        by_form[form_id].update(got)
        total.update(got)
    status["sending"] = {
        "total": {k: total.get(k, 0) for k in SEND_KEYS},
        "by_form": {form: {k: c.get(k, 0) for k in SEND_KEYS}
                    for form, c in sorted(by_form.items())},
    }
    return status
