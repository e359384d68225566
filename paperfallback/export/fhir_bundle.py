"""Assemble a FHIR ``transaction`` Bundle from keyed forms, and write it out.

``plan_fhir_export`` decides what goes in: units never exported (conditional creates),
units changed since they were exported (conditional updates, so the EPR's copy is
corrected rather than duplicated), and resources whose value was removed since
(``entered-in-error``). Unchanged units are left out unless ``all_entries``. Writing is
separate: one ``bundle.json`` file, or a folder with ``bundle.json``, one NDJSON file per
resource type for bulk loaders, and ``manifest.json`` (docs/export.md).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    deterministic_id,
    full_url_for,
    token,
)
from paperfallback.export.fhir_resources import BuiltUnit, build_form
from paperfallback.export.model import ExportedForm
from paperfallback.export.state import ExportedUnit

FORMAT = "fhir"
WITHDRAWN_TEXT = (
    "Withdrawn: keyed in error from a paper downtime form and removed in PaperFallback"
)
# Entry order in the Bundle: patients before what refers to them; Provenance last.
TYPE_ORDER = {"Patient": 0, "Encounter": 1, "Provenance": 9}


@dataclass
class FhirExport:
    """What one FHIR export holds and what it will mark as exported."""

    export_id: str
    exported_at: datetime
    source: str  # who made it: site and PC (Bundle.meta.source)
    entries: list[BuiltEntry] = field(default_factory=list)
    marks: list[ExportedUnit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    new_units: int = 0
    changed_units: int = 0
    repeated_units: int = 0  # unchanged, included because of --all
    unchanged_units: int = 0
    withdrawn: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.entries

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.resource_type for e in self.entries).items()))

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
    previous: dict[str, ExportedUnit],
    *,
    all_entries: bool,
    pc_id: str,
    exported_at: datetime,
    export_id: str | None = None,
) -> FhirExport:
    export = FhirExport(export_id or str(uuid.uuid4()), exported_at,
                        export_source(systems, pc_id))
    produced: set[str] = set()
    instances: set[str] = set()
    for form in forms:
        instances.add(form.instance_id)
        for unit in build_form(form, systems):
            produced.add(unit.key)
            if unit.problems:
                export.problems.extend(unit.problems)
                continue
            _select(export, unit, previous.get(unit.key), systems, all_entries)
    for key, before in previous.items():  # a whole unit cleared since it was exported
        if key not in produced and before.instance_id in instances and before.resources:
            empty = BuiltUnit(key, before.instance_id, "")
            _select(export, empty, before, systems, all_entries)
    export.entries.sort(key=lambda e: TYPE_ORDER.get(e.resource_type, 5))
    return export


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
    export.entries.extend(entries)
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
    """A conditional create turned into a conditional update on the same identifier."""
    if entry.method != "POST" or entry.if_none_exist != token(systems.entry, entry.key):
        return entry  # PUT/PATCH already idempotent; a Patient matched on NHS number stays
    return BuiltEntry(entry.resource, entry.full_url, "PUT",
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


def dump_bundle(bundle: dict[str, Any]) -> str:
    """JSON with one entry per line: compact enough for 10,000 forms, still diffable."""
    head = {k: v for k, v in bundle.items() if k != "entry"}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    if "entry" not in bundle:
        return text + "\n"
    lines = ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"))
                       for e in bundle["entry"])
    return text[:-1] + ',"entry":[\n' + lines + "\n]}\n"


def write_fhir(export: FhirExport, out: Path) -> list[Path]:
    """Write ``out`` as a Bundle file (``*.json``) or as a folder (anything else)."""
    return write_entries(export.entries, out, export_id=export.export_id,
                         timestamp=export.exported_at, source=export.source)


def write_entries(
    entries: Sequence[BuiltEntry], out: Path, *, export_id: str, timestamp: datetime,
    source: str, extra_manifest: dict[str, Any] | None = None,
) -> list[Path]:
    bundle = transaction_bundle(entries, export_id=export_id, timestamp=timestamp,
                                source=source)
    if out.suffix.lower() == ".json":
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_text(out, dump_bundle(bundle))
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "bundle.json"]
    _write_text(written[0], dump_bundle(bundle))
    by_type: dict[str, list[str]] = {}
    patches: list[str] = []
    for entry in entries:
        if entry.method == "PATCH":
            patches.append(json.dumps(
                {"method": "PATCH", "url": entry.url, "resource": entry.resource},
                ensure_ascii=False, separators=(",", ":")))
            continue
        resource = entry.resource
        if "id" not in resource:  # bulk loaders upsert by id: the same id every time
            resource = {"resourceType": resource["resourceType"],
                        "id": deterministic_id(entry.full_url), **resource}
        by_type.setdefault(entry.resource_type, []).append(
            json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
    outputs = []
    for kind, lines in sorted(by_type.items()):
        path = out / f"{kind}.ndjson"
        _write_text(path, "\n".join(lines) + "\n")
        written.append(path)
        outputs.append({"type": kind, "url": path.name, "count": len(lines)})
    if patches:
        path = out / "patches.ndjson"
        _write_text(path, "\n".join(patches) + "\n")
        written.append(path)
    manifest = {
        "transactionTime": timestamp.isoformat(timespec="seconds"),
        "exportId": export_id,
        "source": source,
        "bundle": "bundle.json",
        "output": outputs,
        "patches": {"url": "patches.ndjson", "count": len(patches)} if patches else None,
        **(extra_manifest or {}),
    }
    path = out / "manifest.json"
    _write_text(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    written.append(path)
    return written


def _write_text(path: Path, text: str) -> None:
    """Write whole or not at all: a half-written export must never be loaded."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
