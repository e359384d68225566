"""Assemble a FHIR ``transaction`` Bundle from keyed forms, and write it out.

``plan_fhir_export`` decides what goes in: units never exported (conditional creates),
units changed since they were exported (conditional updates, so the EPR's copy is
corrected rather than duplicated), and resources whose value was removed since
(``entered-in-error``). Unchanged units are left out unless ``all_entries``. Writing is
separate: one ``bundle.json`` file, or a folder with ``bundle.json``, one NDJSON file per
resource type for bulk loaders, and ``manifest.json`` (docs/export.md).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    full_url_for,
    token,
)
from paperfallback.export.fhir_resources import BuiltUnit, build_form
from paperfallback.export.fhir_writer import BundleWriter
from paperfallback.export.model import ExportedForm, form_fingerprint, row_fingerprints
from paperfallback.export.state import ExportedUnit, Marks, no_marks

FORMAT = "fhir"
WITHDRAWN_TEXT = (
    "Withdrawn: keyed in error from a paper downtime form and removed in PaperFallback"
)
# Entry order in the Bundle: patients before what refers to them; Provenance last.
TYPE_ORDER = {"Patient": 0, "Encounter": 1, "Provenance": 9}
OTHER_TYPES_ORDER = 5


def type_rank(resource_type: str) -> int:
    """Where a resource type goes in a Bundle (``TYPE_ORDER``; every other type between)."""
    return TYPE_ORDER.get(resource_type, OTHER_TYPES_ORDER)


class EntrySink(Protocol):
    """Where a streamed export puts each unit's entries as they are built: the file
    writer (``fhir_writer.BundleWriter``) or the send queue (``send_run``)."""

    def write_unit(self, entries: Sequence[BuiltEntry], unit_key: str, /) -> None: ...


@dataclass
class FhirExport:
    """What one FHIR export holds and what it will mark as exported."""

    export_id: str
    exported_at: datetime
    source: str  # who made it: site and PC (Bundle.meta.source)
    entries: list[BuiltEntry] = field(default_factory=list)
    marks: Marks = field(default_factory=no_marks)  # a MarkSpool for a file export
    forms_done: dict[str, str] = field(default_factory=dict)  # instance -> form fingerprint
    unit_of: dict[str, str] = field(default_factory=dict)  # entry fullUrl -> unit key
    problems: list[str] = field(default_factory=list)
    new_units: int = 0
    changed_units: int = 0
    repeated_units: int = 0  # unchanged, included because of --all
    unchanged_units: int = 0
    unchanged_forms: int = 0  # skipped whole: nothing in them changed since their export
    withdrawn: int = 0
    # Entries written as they are built (file export: fhir_writer; ``export --to``: the
    # send queue) instead of kept in ``entries`` and ``unit_of`` (merge and tests keep them).
    sink: EntrySink | None = None
    type_counts: Counter[str] = field(default_factory=Counter)
    entry_count: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.entry_count

    def counts(self) -> dict[str, int]:
        return dict(sorted(self.type_counts.items()))

    def add(self, entries: Sequence[BuiltEntry], unit_key: str) -> None:
        self.entry_count += len(entries)
        self.type_counts.update(e.resource_type for e in entries)
        if self.sink is not None:
            self.sink.write_unit(entries, unit_key)
            return
        self.entries.extend(entries)
        self.unit_of.update((e.full_url, unit_key) for e in entries)

    def instance_ids(self) -> list[str]:
        return sorted({m.instance_id for m in self.marks})

    def bundle(self) -> dict[str, Any]:
        return transaction_bundle(self.entries, export_id=self.export_id,
                                  timestamp=self.exported_at, source=self.source)


def export_source(systems: SiteSystems, pc_id: str) -> str:
    """Bundle.meta.source: which site and PC made the export (merge reads it)."""
    return f"{systems.entry.replace('/Id/downtime-entry/', '/export-source/')}/{pc_id}"


def plan_fhir_export(
    forms: Iterable[ExportedForm],
    systems: SiteSystems,
    previous: Mapping[str, ExportedUnit],
    *,
    all_entries: bool,
    pc_id: str,
    exported_at: datetime,
    export_id: str | None = None,
    previous_forms: dict[str, str] | None = None,
    documents: Iterable[BuiltUnit] = (),
    sink: EntrySink | None = None,
    marks: Marks | None = None,
) -> FhirExport:
    """What goes into the export, read from ``forms`` once (an iterator is never held
    whole). With ``sink`` each entry is written as it is built (``sink_for``)."""
    export = FhirExport(export_id or str(uuid.uuid4()), exported_at,
                        export_source(systems, pc_id), sink=sink)
    if marks is not None:
        export.marks = marks
    produced: set[str] = set()
    instances: set[str] = set()
    done_before = previous_forms or {}
    for form in forms:
        rows = row_fingerprints(form)
        fingerprint = form_fingerprint(form, rows)
        if not all_entries and done_before.get(form.instance_id) == fingerprint:
            export.unchanged_forms += 1  # fully exported before and unchanged since
            continue
        instances.add(form.instance_id)
        clean = True
        for unit in build_form(form, systems, pc_id, rows):
            produced.add(unit.key)
            if unit.problems:
                export.problems.extend(unit.problems)
                clean = False
                continue
            _select(export, unit, previous.get(unit.key), systems, all_entries)
        if clean:
            export.forms_done[form.instance_id] = fingerprint
    for unit in documents:  # scanned pages filed as images (export.fhir_documents)
        produced.add(unit.key)
        if unit.problems:
            export.problems.extend(unit.problems)
        else:
            _select(export, unit, previous.get(unit.key), systems, all_entries)
    for key, before in previous.items():  # a whole unit cleared since it was exported
        if key not in produced and before.instance_id in instances and before.resources:
            empty = BuiltUnit(key, before.instance_id, "")
            _select(export, empty, before, systems, all_entries)
    export.entries.sort(key=_type_order)  # a sink orders by the same key as it writes
    return export


def _type_order(entry: BuiltEntry) -> int:
    return type_rank(entry.resource_type)


def sink_for(out: Path, export_id: str, exported_at: datetime, systems: SiteSystems,
             pc_id: str) -> BundleWriter:
    """The writer ``plan_fhir_export`` streams a file export into (``out``: a .json file
    or a folder, as ``write_fhir``)."""
    head = transaction_bundle([], export_id=export_id, timestamp=exported_at,
                              source=export_source(systems, pc_id))
    return BundleWriter(out, head, group=_type_order)


def _select(
    export: FhirExport,
    unit: BuiltUnit,
    before: ExportedUnit | None,
    systems: SiteSystems,
    all_entries: bool,
) -> None:
    identified = [e for e in unit.entries if e.method != "PATCH" and
                  e.resource_type not in ("Provenance",)]
    if before is None:
        if not unit.entries:
            return
        export.new_units += 1
        entries, revised = unit.entries, False
    elif before.fingerprint == unit.fingerprint:
        export.unchanged_units += 1
        if not all_entries or not unit.entries:
            return
        export.repeated_units += 1
        revised = before.revised
        entries = [_as_update(e, systems) for e in unit.entries] if revised else unit.entries
    else:
        export.changed_units += 1
        revised = True
        entries = [_as_update(e, systems) for e in unit.entries]
        now_keys = {e.key for e in identified}
        for key, kind, effective in before.resources:
            if key not in now_keys:
                withdrawn = _withdrawal(key, kind, effective, before.subject, systems)
                if withdrawn is None:
                    export.problems.append(
                        f"{unit.key}: {kind} {key} was exported before but its values were "
                        "removed since; withdraw it on the EPR by hand"
                    )
                else:
                    entries = [*entries, withdrawn]
                    export.withdrawn += 1
    export.add(entries, unit.key)
    subject = next((e.resource["subject"] for e in identified
                    if "identifier" in e.resource.get("subject", {})), None)
    export.marks.append(ExportedUnit(
        unit.key, unit.instance_id, unit.fingerprint, revised,
        tuple((e.key, e.resource_type, _effective(e.resource)) for e in identified),
        subject,
    ))


def _effective(resource: dict[str, Any]) -> str:
    value = resource.get("effectiveDateTime") or resource.get("effectivePeriod", {}).get("start")
    return str(value or "")


def _as_update(entry: BuiltEntry, systems: SiteSystems) -> BuiltEntry:
    """A conditional create turned into a conditional update on the same identifier (or,
    for Provenance, the same tag)."""
    provenance = entry.resource_type == "Provenance" and entry.if_none_exist
    if entry.method != "POST" or (
        entry.if_none_exist != token(systems.entry, entry.key) and not provenance
    ):
        return entry  # PUT/PATCH already idempotent; a Patient matched on NHS number stays
    resource = entry.resource
    if resource.get("resourceType") == "Observation" and resource.get("status") == "final":
        resource = {**resource, "status": "amended"}  # FHIR R4: changed after being final
    return BuiltEntry(resource, entry.full_url, "PUT",
                      f"{entry.resource_type}?{entry.if_none_exist}", None, entry.key)


def _withdrawal(
    key: str, kind: str, effective: str, subject: dict[str, Any] | None, systems: SiteSystems
) -> BuiltEntry | None:
    """A conditional update that marks an exported resource entered-in-error."""
    if subject is None:
        return None
    identifier = {"system": systems.entry, "value": key}
    resource: dict[str, Any] = {"resourceType": kind, "status": "entered-in-error"}
    if kind == "Observation":
        resource.update(identifier=[identifier], code={"text": WITHDRAWN_TEXT})
    elif kind == "MedicationAdministration" and effective:
        resource.update(identifier=[identifier],
                        medicationCodeableConcept={"text": WITHDRAWN_TEXT},
                        effectiveDateTime=effective)
    elif kind == "Procedure":
        resource.update(identifier=[identifier], code={"text": WITHDRAWN_TEXT})
    elif kind == "QuestionnaireResponse":
        resource.update(identifier=identifier)
    else:
        return None
    resource["subject"] = subject
    search = token(systems.entry, key)
    return BuiltEntry(resource, full_url_for(systems.entry, key), "PUT", f"{kind}?{search}",
                      None, key)


def transaction_bundle(
    entries: Sequence[BuiltEntry], *, export_id: str, timestamp: datetime, source: str
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": export_id,
        "meta": {"source": source},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{export_id}"},
        "type": "transaction",
        "timestamp": timestamp.isoformat(timespec="seconds"),
    }
    if entries:
        bundle["entry"] = [e.bundle_entry() for e in entries]
    return bundle


def dump_bundle(bundle: dict[str, Any]) -> bytes:
    """JSON with one entry per line: compact enough for 10,000 forms, still diffable."""
    head = {k: v for k, v in bundle.items() if k != "entry"}
    return _bundle_bytes(head, [orjson.dumps(e) for e in bundle.get("entry", [])])


def _bundle_bytes(head: dict[str, Any], entry_lines: list[bytes]) -> bytes:
    text = orjson.dumps(head)
    if not entry_lines:
        return text + b"\n"
    return text[:-1] + b',"entry":[\n' + b",\n".join(entry_lines) + b"\n]}\n"


def write_fhir(export: FhirExport, out: Path) -> list[Path]:
    """Write ``out`` as a Bundle file (``*.json``) or as a folder (anything else)."""
    return write_entries(export.entries, out, export_id=export.export_id,
                         timestamp=export.exported_at, source=export.source)


def write_entries(
    entries: Sequence[BuiltEntry], out: Path, *, export_id: str, timestamp: datetime,
    source: str, extra_manifest: dict[str, Any] | None = None,
) -> list[Path]:
    """Stream the Bundle (and, into a folder, the NDJSON files) to disk, in the order
    given (export.fhir_writer: each resource serialised once; ``*.part`` until complete)."""
    writer = BundleWriter(out, transaction_bundle([], export_id=export_id, timestamp=timestamp,
                                                  source=source))
    try:
        for entry in entries:
            writer.write(entry)
        return writer.finish(export_id=export_id, timestamp=timestamp, source=source,
                             extra_manifest=extra_manifest)
    except BaseException:
        writer.abandon()
        raise


