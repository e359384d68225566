"""One ``export --to URL`` run, as the CLI and the app's Export dialog start it.

Read the keyed forms, plan the FHIR export for this server, queue it, send the queue and
say what happened; with ``dry_run``, validate and show what would be sent and change
nothing. The authoriser is built from the settings here (``export_auth``) so that both
callers use the same rules.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_bundle import FhirExport, export_source, plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.fhir_units import BuiltUnit
from paperfallback.export.model import ExportedForm
from paperfallback.export.pipeline import export_sources
from paperfallback.export.send import (
    SendInterrupted,
    SendOptions,
    SendRefused,
    SendResult,
    send_pending,
)
from paperfallback.export.send_http import (
    Auth,
    NoAuth,
    SafeTransport,
    Transport,
    check_base_url,
)
from paperfallback.export.send_plan import SendQueue, preview, scratch_copy
from paperfallback.export.send_state import QueuedEntry, SendLog
from paperfallback.export.state import ExportState, MarkSpool
from paperfallback.fhirclient import SmartBackendAuth, StaticBearerAuth
from paperfallback.formspec import FormCatalogue
from paperfallback.gc_policy import gc_paused
from paperfallback.reentry.store import EntriesStore
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

log = logging.getLogger(__name__)


def state_key(target: str) -> str:
    """The export-state "format" of sends to one server: each server has its own record."""
    return f"send {target}"


@dataclass
class SendSummary:
    target: str
    dry_run: bool = False
    queued: int = 0
    known: int = 0  # left out: the same content was sent (or queued) before
    would_send: int = 0  # dry run: entries that would go, by type, and the first Bundles
    would_send_types: dict[str, int] = field(default_factory=dict)
    bundle_lines: list[str] = field(default_factory=list)
    bundles: int = 0
    result: SendResult | None = None
    pending_after: int = 0
    invalid: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped: str = ""
    bundles_of: int = 100  # the chunk size, for the dry run's list of Bundles

    @property
    def failed(self) -> bool:
        rejected = self.result.rejected if self.result else 0
        return bool(self.problems or self.invalid or rejected or self.pending_after
                    or self.stopped)

    def lines(self, *, warnings: bool = True) -> list[str]:
        out = [f"Warning: {w}" for w in self.warnings] if warnings else []
        types = ", ".join(f"{k} {v}" for k, v in sorted(self.would_send_types.items()))
        if self.dry_run:
            out.append(f"Dry run: nothing was sent to {self.target}.")
            out.append(f"Would send {self.would_send} entries in {self.bundles} transaction "
                       f"Bundles" + (f" ({types})" if types else "") + f"; {self.known} left "
                       "out as sent before with the same content.")
            shown = self.bundle_lines
            out.extend(f"  Bundle {n}: {line}" for n, line in enumerate(shown[:20], 1))
            if self.bundles > 20:
                out.append(f"  ... and {self.bundles - 20} more Bundles")
            out.append(f"Checked {self.would_send} resources against FHIR R4: "
                       + ("all valid." if not self.invalid else f"{len(self.invalid)} invalid:"))
            out.extend(f"  {line}" for line in self.invalid)
        else:
            r = self.result or SendResult()
            out.append(f"Sent to {self.target}: {r.accepted + r.rejected} entries answered in "
                       f"{r.bundles} requests: accepted {r.accepted}, rejected {r.rejected}; "
                       f"still to send {self.pending_after}."
                       + (f" New this time {self.queued}, left out as sent before "
                          f"{self.known}." if self.queued or self.known else ""))
            if r.rejected_entries:
                out.append(f"{r.rejected} rejected by the EPR (see why, fix, then send again or "
                           "retry them from the app / --retry-rejected):")
                out.extend(f"  {describe(q)}: {r.rejected_outcomes.get(q.seq, '')}"
                           for q in r.rejected_entries[:200])
            if self.stopped:
                out.append(f"Stopped: {self.stopped}.")
        if self.problems:
            out.append(f"{len(self.problems)} could not be exported (fix and export again):")
            out.extend(f"  {p}" for p in self.problems)
        return out


def describe(q: QueuedEntry) -> str:
    where = q.unit_key.split("/", 1)[1] if "/" in q.unit_key else q.unit_key
    return (f"form {q.instance_id} ({q.form_id or '?'}) {where}: {q.resource_type} "
            f"{q.entry.get('request', {}).get('method', '')}")


def run_send(
    data_dir: Path,
    settings: Settings,
    key: str,
    key_source: str,
    target: str,
    *,
    auth: Auth | None = None,
    transport: Transport | None = None,
    dry_run: bool = False,
    all_entries: bool = False,
    retry_rejected: bool = False,
    options: SendOptions | None = None,
    now: datetime | None = None,
    catalogue: FormCatalogue | None = None,
) -> SendSummary:
    """Plan, queue and send (or, with ``dry_run``, check and show) the FHIR export for
    ``target``; what the EPR answered is in the summary and the work store."""
    target = check_base_url(target)
    opts = options or SendOptions(chunk_size=settings.export_chunk_size)
    with export_sources(data_dir, settings, key, key_source, catalogue) as sources:
        with gc_paused():  # thousands of small objects, no cycles: see gc_policy
            summary = send_forms(  # the forms are read as the plan uses them (issue 15)
                sources.work, sources.keyed(), target, systems=sources.systems,
                pc_id=settings.pc_id, auth=lambda: auth or export_auth(settings, target),
                transport=transport or SafeTransport(settings.export_timeout_seconds),
                options=opts, documents=sources.documents(), dry_run=dry_run,
                all_entries=all_entries, retry_rejected=retry_rejected, now=now,
                conditional_references=settings.export_conditional_references)
        summary.problems[:0] = sources.problems
        summary.warnings = sources.warnings
    return summary


def send_forms(
    conn: WorkStore,
    forms: Iterable[ExportedForm],
    target: str,
    *,
    systems: SiteSystems,
    pc_id: str,
    auth: Callable[[], Auth],
    transport: Transport,
    options: SendOptions,
    documents: Iterable[BuiltUnit] = (),
    dry_run: bool = False,
    all_entries: bool = False,
    retry_rejected: bool = False,
    now: datetime | None = None,
    conditional_references: bool = False,
) -> SendSummary:
    """Plan ``forms`` (and ``documents``) for ``target``, queue and send them (or, with
    ``dry_run``, check and show them): ``export --to`` after the forms are read.

    ``forms`` is read once, as the plan uses it, and each unit is queued as it is built
    (send_plan); the send reads the queue back a chunk at a time: memory holds a form and
    a chunk, never the export (issue 15). ``auth`` is asked for only when sending.
    """
    opts = options
    moment = now or datetime.now(UTC)
    summary = SendSummary(target, dry_run=dry_run, bundles_of=opts.chunk_size)
    state, fmt = ExportState(conn), state_key(target)
    sends = SendLog(conn)
    if dry_run:
        with scratch_copy(sends, target) as scratch, MarkSpool() as marks:
            if retry_rejected:
                scratch.retry_rejected(target)
            plan, queue = _plan_into(scratch, forms, target, state, fmt, systems, pc_id,
                                     documents, moment, all_entries, conditional_references,
                                     marks)
            summary.known = queue.known
            seen = preview(scratch, target, opts, validate_entries)
        summary.problems.extend(plan.problems)
        summary.would_send, summary.would_send_types = seen.entries, dict(seen.types)
        summary.bundles, summary.bundle_lines = seen.bundles, seen.bundle_lines
        summary.invalid = seen.invalid
        return summary
    if retry_rejected:
        sends.retry_rejected(target)
    with MarkSpool() as marks:
        plan, queue = _plan_into(sends, forms, target, state, fmt, systems, pc_id, documents,
                                 moment, all_entries, conditional_references, marks)
        summary.problems.extend(plan.problems)
        summary.queued, summary.known = queue.queued, queue.known
        state.record(fmt, plan.export_id, moment, marks, all_entries=all_entries,
                     out=target, resources=plan.entry_count, forms=plan.forms_done)
        instance_ids = plan.instance_ids()
    if instance_ids:
        EntriesStore(conn).mark_exported(instance_ids)
    chosen = auth()
    try:
        summary.result = send_pending(
            sends, target, auth=chosen, transport=transport,
            source=export_source(systems, pc_id), options=opts)
    except (SendRefused, SendInterrupted) as exc:
        summary.stopped = str(exc)
    summary.pending_after = sends.pending_count(target)
    r = summary.result or SendResult()
    log.info(  # counts and instance IDs only: the log holds no patient data
        "export to %s: queued %d, accepted %d, rejected %d, pending %d%s", target,
        summary.queued, r.accepted, r.rejected, summary.pending_after,
        f"; stopped: {summary.stopped}" if summary.stopped else "")
    return summary


def _plan_into(
    sends: SendLog, forms: Iterable[ExportedForm], target: str, state: ExportState,
    fmt: str, systems: SiteSystems, pc_id: str, documents: Iterable[BuiltUnit],
    moment: datetime, all_entries: bool, conditional_references: bool, marks: MarkSpool,
) -> tuple[FhirExport, SendQueue]:
    """The plan queued in ``sends`` as it is built, in one transaction (all or nothing)."""
    queue = SendQueue(sends, target, now=moment, conditional_references=conditional_references)
    with sends.work.transaction():
        plan = plan_fhir_export(queue.forms(forms), systems, state.previous_units(fmt),
                                all_entries=all_entries, pc_id=pc_id, exported_at=moment,
                                previous_forms=state.previous_forms(fmt), documents=documents,
                                sink=queue, marks=marks)
    return plan, queue


def retry_rejected_entries(data_dir: Path, key: str, key_source: str,
                           instance_ids: Sequence[str] | None = None) -> int:
    """Queue rejected entries again (all servers), for the app's Retry button."""
    conn = WorkStore.open(data_dir, key, key_source=key_source)
    try:
        return SendLog(conn).retry_rejected(None, instance_ids)
    finally:
        conn.close()


def send_status_lines(data_dir: Path, key: str, key_source: str, *,
                      rejected_shown: int = 20) -> list[str]:
    """What the Export dialog shows: sent / accepted / rejected / pending per form and in
    total (every server), then the first rejected entries with the EPR's reason."""
    conn = WorkStore.open(data_dir, key, key_source=key_source)
    try:
        sends = SendLog(conn)
        counts = sends.counts_by_instance()
        rejected, rejected_count = sends.rejected(limit=rejected_shown)
    finally:
        conn.close()
    if not counts:
        return ["Nothing sent to the EPR yet."]
    by_form: dict[str, Counter[str]] = {}
    for (_instance, form_id), got in counts.items():
        by_form.setdefault(form_id, Counter()).update(got)
    total: Counter[str] = sum(by_form.values(), Counter())
    out = [f"Sent to the EPR: {total['sent']} entries; accepted {total['accepted']}, rejected "
           f"{total['rejected']}, still to send {total['pending']}."]
    out.extend(f"  {form}: sent {c['sent']}, accepted {c['accepted']}, rejected "
               f"{c['rejected']}, still to send {c['pending']}"
               for form, c in sorted(by_form.items()))
    if rejected:
        out.append(f"Rejected by the EPR ({rejected_count}):")
        out.extend(f"  {describe(q)}: {q.outcome}" for q in rejected)
        if rejected_count > rejected_shown:
            out.append(f"  ... and {rejected_count - rejected_shown} more "
                       "(paperfallback entries status --json)")
    return out


def export_auth(settings: Settings, target: str) -> Auth:
    """SMART Backend Services when a client is configured (``export_*``, else the
    ``refresh_*`` client, key and key id; the scope is ``export_scope``, never the read-only
    refresh scope); else a bearer token IT put in the environment variable
    ``export_token_env``; else none (the server will say 401)."""
    client_id = settings.export_client_id or settings.refresh_client_id
    if client_id:
        private_key = settings.export_private_key or settings.refresh_private_key
        if not private_key:
            raise InputError("export_client_id is set but no private key: set "
                             "export_private_key (or refresh_private_key)", where="settings.json")
        return SmartBackendAuth(target, client_id, private_key,
                                settings.export_key_id or settings.refresh_key_id,
                                settings.export_scope or "system/*.write")
    token = os.environ.get(settings.export_token_env or "", "")
    if token:
        return StaticBearerAuth(target, token.strip())
    return NoAuth()


def validate_entries(entries: Sequence[QueuedEntry]) -> list[str]:
    """Each resource against the FHIR R4 structure (fhir.resources, R4B models: the
    resources we send are the same in R4 and R4B), and each request against the rules of a
    transaction entry. One line per problem."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    out = []
    for q in entries:
        request = q.entry.get("request") or {}
        resource = q.entry.get("resource") or {}
        if request.get("method") == "POST" and not request.get("ifNoneExist"):
            out.append(f"{describe(q)}: a create without ifNoneExist would duplicate on resend")
        try:
            get_fhir_model_class(str(resource.get("resourceType"))).model_validate(resource)
        except (ValidationError, KeyError, ValueError) as exc:
            first = str(exc).splitlines()
            out.append(f"{describe(q)}: " + "; ".join(first[:3]))
    return out
