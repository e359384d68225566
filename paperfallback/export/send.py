"""``export --to URL``: send what ``export --format fhir`` would write to the EPR's FHIR API.

The same plan as the file export (conditional creates, corrections as conditional updates,
withdrawals), tracked per server in the export state, is queued entry by entry in the work
store (``send_state``) as it is built and then posted as transaction Bundles of at most
``chunk_size`` entries and ``MAX_BUNDLE_BYTES``, read back from the store a unit at a time
(memory holds one chunk, never the export: issue 15). Entries of one unit (a chart
column, a table row, a registration) travel in one Bundle, because they refer to each other
by ``urn:uuid`` (``derivedFrom``, Provenance targets); units holding a Patient go first, as
later units may refer to that patient.

Every answer is recorded per entry: accepted (with the server's ``location``) or rejected
(with the OperationOutcome text). A chunk refused whole (a real transaction is all or
nothing) is split in halves until the refused unit is found, so one bad value does not
hold back a ward's data. Network failures, 429 and 5xx are retried with backoff; after the
last try the run stops and what was not answered stays queued for the next run. Sending
again is harmless by design: every entry is conditional, so a chunk the server applied but
whose answer was lost creates nothing new when re-sent (hazard log R-SEND-2).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.export.fhir_bundle import FhirExport, type_rank
from paperfallback.export.fhir_common import BuiltEntry, token
from paperfallback.export.send_http import Auth, HttpAnswer, NetworkError, Transport
from paperfallback.export.send_state import Answer, NewEntry, QueuedEntry, SendLog
from paperfallback.fhirclient.errors import FhirClientError

DEFAULT_CHUNK_SIZE = 100
# A Bundle is also cut at this many bytes of entries (a unit bigger goes alone): 100
# scanned forms filed as DocumentReferences would otherwise make one request of 160 MB,
# held in memory and refused by most EPRs' request limits.
MAX_BUNDLE_BYTES = 10_000_000
FHIR_JSON = "application/fhir+json"
REJECTED_KEPT = 200  # rejected entries a result keeps to show (it counts them all)


class SendRefused(PaperFallbackError):
    """The server refused our authorisation (401/403): nothing more is sent this run."""


class SendInterrupted(PaperFallbackError):
    """The server did not answer usefully after every retry; the rest stays queued."""


@dataclass
class SendOptions:
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_bundle_bytes: int = MAX_BUNDLE_BYTES
    tries: int = 4  # per chunk: network errors, 429 and 5xx
    backoff_s: float = 2.0  # doubled after each failed try
    max_wait_s: float = 60.0  # cap on one wait, also on a server's Retry-After
    sleep: Callable[[float], None] = time.sleep


@dataclass
class SendResult:
    """What one pass over the queue did (the first ``REJECTED_KEPT`` rejected entries,
    with the EPR's reason: a send that is all refused must not hold them all)."""

    bundles: int = 0
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    rejected_entries: list[QueuedEntry] = field(default_factory=list)
    rejected_outcomes: dict[int, str] = field(default_factory=dict)  # seq -> outcome text


# ---- from the plan to queued entries ---------------------------------------------------------


def entries_to_send(plan: FhirExport, form_ids: dict[str, str], *,
                    conditional_references: bool = False) -> list[NewEntry]:
    """The plan's Bundle entries, each with the unit and form it belongs to (a plan kept
    in memory; ``export --to`` queues each unit as it is built: send_run)."""
    out = []
    for built in plan.entries:
        unit_key = plan.unit_of.get(built.full_url, "")
        out.append(new_entry(built, unit_key, form_ids.get(unit_key.split("/", 1)[0], ""),
                             conditional_references=conditional_references))
    return out


def new_entry(built: BuiltEntry, unit_key: str, form_id: str, *,
              conditional_references: bool = False) -> NewEntry:
    """One planned entry as it is queued: its Bundle entry, unit, form instance and form."""
    entry = built.bundle_entry()
    if conditional_references:
        entry = {**entry, "resource": with_conditional_references(entry["resource"])}
    return NewEntry(built.full_url, unit_key, unit_key.split("/", 1)[0], form_id,
                    built.resource_type, built.method, built.url, entry)


def with_conditional_references(resource: dict[str, Any]) -> dict[str, Any]:
    """Patient references by identifier also as a conditional reference
    (``Patient?identifier=system|value``), for servers that resolve only those; the
    identifier stays, so the reference still says whom it means if read elsewhere."""

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {k: walk(v) for k, v in value.items()}
        ident = out.get("identifier")
        if (out.get("type") == "Patient" and "reference" not in out and isinstance(ident, dict)
                and ident.get("system") and ident.get("value")):
            out = {"reference": f"Patient?{token(ident['system'], ident['value'])}", **out}
        return out

    result: dict[str, Any] = walk(resource)
    return result


# ---- chunks ------------------------------------------------------------------------------------


def chunked(pending: Sequence[QueuedEntry], size: int,
            max_bytes: int | None = None) -> list[list[list[QueuedEntry]]]:
    """Whole units packed into chunks of at most ``size`` entries (a unit larger than
    ``size`` goes alone); units with a Patient first, then with an Encounter, then the
    rest in queue order. In memory: the send reads the same order from the log a unit at a
    time (``SendLog.units``)."""
    groups: dict[str, list[QueuedEntry]] = {}
    for q in pending:
        groups.setdefault(q.unit_key or q.full_url, []).append(q)
    for group in groups.values():
        group.sort(key=lambda q: (type_rank(q.resource_type), q.seq))
    ordered = sorted(groups.values(), key=lambda g: (type_rank(g[0].resource_type), g[0].seq))
    return list(pack(ordered, size, max_bytes))


def pack(units: Iterable[list[QueuedEntry]], size: int,
         max_bytes: int | None = None) -> Iterator[list[list[QueuedEntry]]]:
    """Units, in the order given, into chunks of at most ``size`` entries (and
    ``max_bytes`` of entries as stored), yielded as each fills (so a send holds one chunk,
    not the queue)."""
    current: list[list[QueuedEntry]] = []
    count = weight = 0
    for unit in units:
        unit_bytes = sum(q.size for q in unit)
        if current and (count + len(unit) > size
                        or (max_bytes is not None and weight + unit_bytes > max_bytes)):
            yield current
            current, count, weight = [], 0, 0
        current.append(unit)
        count += len(unit)
        weight += unit_bytes
    if current:
        yield current


def transaction_of(groups: Sequence[Sequence[QueuedEntry]], *, source: str,
                   now: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "meta": {"source": source},
        "type": "transaction",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [q.entry for g in groups for q in g],
    }


# ---- sending -------------------------------------------------------------------------------


def send_pending(
    log: SendLog,
    target: str,
    *,
    auth: Auth,
    transport: Transport,
    source: str,
    options: SendOptions | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SendResult:
    """Send everything queued for ``target``, chunk by chunk, recording each answer.

    Raises SendRefused (401/403) or SendInterrupted (no useful answer after every try);
    whatever was answered before that is already recorded.
    """
    opts = options or SendOptions()
    result = SendResult()
    for groups in pack(log.units(target), max(1, opts.chunk_size), opts.max_bundle_bytes):
        _send_groups(log, target, groups, auth, transport, source, opts, now, result)
    return result


def _send_groups(
    log: SendLog, target: str, groups: list[list[QueuedEntry]], auth: Auth,
    transport: Transport, source: str, opts: SendOptions, now: Callable[[], datetime],
    result: SendResult,
) -> None:
    entries = [q for g in groups for q in g]
    body = orjson.dumps(transaction_of(groups, source=source, now=now()))
    last = ""
    answer_wait: float | None = None
    renewed = False
    for attempt in range(max(1, opts.tries)):
        if attempt:
            result.retries += 1
            opts.sleep(_wait(opts, attempt, answer_wait))
            answer_wait = None
        try:
            authorization = auth.headers_for(target)
        except FhirClientError as exc:  # no token: the token endpoint refused or is down
            raise SendRefused(f"no access token for {target}: {exc}") from exc
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **authorization}
        try:
            answer = transport.post(target, body, headers)
        except NetworkError as exc:
            last = f"no answer ({exc})"
            log.count_attempt(q.seq for q in entries)
            continue
        result.bundles += 1
        if answer.status == 401 and not renewed:  # expired or revoked mid-send: renew once
            renewed = True
            auth.invalidate()
            last = "HTTP 401 (token renewed)"
            continue
        if answer.status in (401, 403):
            raise SendRefused(
                f"the EPR at {target} refused the authorisation (HTTP {answer.status}: "
                f"{outcome_text(_json(answer.body)) or 'no reason given'}); nothing more was "
                "sent. Check the export client id, key and scope (docs/install.md)"
            )
        if answer.status == 429 or answer.status >= 500:
            last = f"HTTP {answer.status}: {outcome_text(_json(answer.body)) or 'server error'}"
            answer_wait = _retry_after(answer)
            log.count_attempt(q.seq for q in entries)
            continue
        if 200 <= answer.status < 300:
            answers = _per_entry(entries, answer)
            if answers is None:
                last = f"HTTP {answer.status} but not a transaction-response for this Bundle"
                log.count_attempt(q.seq for q in entries)
                continue
            _record(log, entries, answers, result)
            return
        # refused whole (400, 404, 409, 412, 413, 422 ...): find the unit that caused it
        if len(groups) > 1:
            half = len(groups) // 2
            for part in (groups[:half], groups[half:]):
                _send_groups(log, target, part, auth, transport, source, opts, now, result)
            return
        text = (outcome_text(_json(answer.body)) or f"refused with HTTP {answer.status}")
        _record(log, entries, [Answer(q.seq, "rejected", str(answer.status), "", text)
                               for q in entries], result)
        return
    raise SendInterrupted(
        f"the EPR at {target} did not take a Bundle of {len(entries)} entries after "
        f"{max(1, opts.tries)} tries ({last}); what was not answered stays queued: send "
        "again later with the same command"
    )


def _wait(opts: SendOptions, attempt: int, retry_after: float | None) -> float:
    backoff = opts.backoff_s * (2 ** (attempt - 1))
    wait = max(backoff, retry_after or 0.0)  # a Retry-After: 0 never makes us hammer
    return float(min(wait, opts.max_wait_s))


def _retry_after(answer: HttpAnswer) -> float | None:
    value = {k.lower(): v for k, v in answer.headers.items()}.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _record(log: SendLog, entries: list[QueuedEntry], answers: list[Answer],
            result: SendResult) -> None:
    log.record(answers)
    for q, a in zip(entries, answers, strict=True):
        if a.state == "accepted":
            result.accepted += 1
        else:
            result.rejected += 1
            if len(result.rejected_entries) < REJECTED_KEPT:
                result.rejected_entries.append(q)
                result.rejected_outcomes[q.seq] = a.outcome


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def _per_entry(entries: list[QueuedEntry], answer: HttpAnswer) -> list[Answer] | None:
    """Read a transaction-response (or a batch-response, as some servers answer): entry i
    answers request i (FHIR R4 http.html#transaction-response)."""
    bundle = _json(answer.body)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    replies = bundle.get("entry") or []
    if len(replies) != len(entries):
        return None
    out = []
    for q, reply in zip(entries, replies, strict=True):
        response = (reply or {}).get("response") or {}
        status = str(response.get("status", "")).strip()
        code = status.split(" ", 1)[0]
        resource = (reply or {}).get("resource") or {}
        if code.startswith("2"):
            location = str(response.get("location") or "")
            if not location and resource.get("id"):
                location = f"{resource.get('resourceType')}/{resource['id']}"
            out.append(Answer(q.seq, "accepted", code, location))
        else:
            text = outcome_text(response.get("outcome")) or outcome_text(resource)
            out.append(Answer(q.seq, "rejected", code or "?", "",
                              text or f"refused with status {status or 'none'}"))
    return out


def outcome_text(outcome: Any) -> str:
    """An OperationOutcome as one line a data manager can read."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = ((issue.get("details") or {}).get("text") or issue.get("diagnostics")
                or issue.get("code") or "")
        where = ", ".join(str(e) for e in issue.get("expression") or [])
        parts.append(f"{text} (at {where})" if where else str(text))
    return "; ".join(p for p in parts if p)


def count_types(entries: Sequence[QueuedEntry] | Sequence[NewEntry]) -> dict[str, int]:
    return dict(sorted(Counter(e.resource_type for e in entries).items()))
