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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from paperfallback.workstore import WorkStore

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


class SendLog:
    """The send tables in the work store (``send_entries``; see workstore.migrations)."""

    def __init__(self, work: WorkStore) -> None:
        self.work = work
        self._conn = work.connection

    def plan_new(self, target: str, entries: Iterable[NewEntry]) -> tuple[list[NewEntry], int]:
        """Which of ``entries`` would be queued (read-only, for ``--dry-run``), and how many
        are left out as already pending, accepted or rejected with the same content."""
        known = self._known(target)
        fresh, same = [], 0
        for new in entries:
            if known.get(new.full_url, {}).get(entry_digest(new.entry)) in (
                "pending", "accepted", "rejected"
            ):
                same += 1
            else:
                fresh.append(new)
        return fresh, same

    def queue(self, target: str, entries: Iterable[NewEntry], *,
              now: datetime | None = None) -> tuple[int, int]:
        """Queue what is new, in one transaction. Returns (queued, left out as known).

        The same content already pending, accepted or rejected is not queued again (a
        rejected one is retried only on request: ``retry_rejected``). A different content
        for the same resource supersedes an older pending or rejected version.
        """
        stamp = (now or datetime.now(UTC)).isoformat()
        with self.work.transaction() as db:
            known = self._known(target)
            queued = same = 0
            for new in entries:
                digest = entry_digest(new.entry)
                states = known.get(new.full_url, {})
                if states.get(digest) in ("pending", "accepted", "rejected"):
                    same += 1
                    continue
                db.execute(  # by its URL: without INDEXED BY SQLite scans every pending row
                    "UPDATE send_entries INDEXED BY send_entries_by_url SET state = "
                    "'superseded' WHERE target = ? AND full_url = ? AND state IN "
                    "('pending', 'rejected')",
                    (target, new.full_url),
                )
                db.execute(
                    "INSERT INTO send_entries (target, full_url, unit_key, instance_id, form_id, "
                    "resource_type, method, url, entry, digest, state, queued_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (target, new.full_url, new.unit_key, new.instance_id, new.form_id,
                     new.resource_type, new.method, new.url, orjson.dumps(new.entry), digest,
                     stamp),
                )
                known.setdefault(new.full_url, {})[digest] = "pending"
                queued += 1
        return queued, same

    def _known(self, target: str) -> dict[str, dict[str, str]]:
        rows = self._conn.execute(
            "SELECT full_url, digest, state FROM send_entries WHERE target = ? AND "
            "state != 'superseded' ORDER BY seq", (target,),
        ).fetchall()
        known: dict[str, dict[str, str]] = defaultdict(dict)
        for full_url, digest, state in rows:
            known[full_url][digest] = state
        return known

    def pending(self, target: str) -> list[QueuedEntry]:
        return self._select("target = ? AND state = 'pending'", (target,))

    def entries(self, target: str | None = None) -> list[QueuedEntry]:
        """Every current (not superseded) row, for one server or all."""
        if target is None:
            return self._select("state != 'superseded'", ())
        return self._select("target = ? AND state != 'superseded'", (target,))

    def _select(self, where: str, args: Sequence[Any]) -> list[QueuedEntry]:
        rows = self._conn.execute(
            "SELECT seq, target, full_url, unit_key, instance_id, form_id, resource_type, "
            f"entry, state, attempts, location, outcome FROM send_entries WHERE {where} "
            "ORDER BY seq", tuple(args),
        ).fetchall()
        return [QueuedEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7]),
                            r[8], r[9], r[10], r[11]) for r in rows]

    def record(self, answers: Iterable[Answer], *, now: datetime | None = None) -> None:
        """The server's answers for one chunk, in one transaction."""
        stamp = (now or datetime.now(UTC)).isoformat()
        with self.work.transaction() as db:
            for a in answers:
                db.execute(
                    "UPDATE send_entries SET state = ?, http_status = ?, location = ?, "
                    "outcome = ?, attempts = attempts + 1, answered_at = ? WHERE seq = ?",
                    (a.state, a.http_status, a.location, a.outcome[:OUTCOME_MAX_CHARS], stamp,
                     a.seq),
                )

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
            "SELECT instance_id, form_id, state, attempts > 0 FROM send_entries "
            "WHERE state != 'superseded'"
        ).fetchall()
        out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for instance_id, form_id, state, tried in rows:
            counts = out[(instance_id, form_id)]
            counts[state] += 1
            if tried or state in ("accepted", "rejected"):
                counts["sent"] += 1
        return out


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
