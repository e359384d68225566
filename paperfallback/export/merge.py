"""Combine FHIR exports from several ward PCs into one, without duplicates.

Every entry is known by its ``fullUrl``, which the export derives from the form-instance
address (docs/export.md), so the same value exported twice, or by two PCs, has the same
key. For each key:

- the same content from several exports is kept once (the latest export's request);
- different content from *one* PC is a later correction: the latest export wins;
- different content from *two* PCs is a **conflict**: the same paper form was keyed on
  both with different values. Software must not pick one, so every entry of that form
  instance is left out of the merged Bundle and written to ``conflicts.json`` with each
  PC's version, for a person to settle against the paper.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_bundle import write_entries
from paperfallback.export.fhir_common import BuiltEntry

MERGE_SOURCE = "urn:paperfallback:merge"
# Parts of a resource that say who keyed it and when, not what the paper says.
_VOLATILE = ("authored", "author")


@dataclass(frozen=True, slots=True)
class LoadedExport:
    path: Path
    source: str
    timestamp: datetime
    entries: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Conflict:
    instance_id: str
    key: str  # the entry's fullUrl
    resource_type: str
    identifier: str  # the identifier value or request url
    versions: tuple[tuple[str, str, dict[str, Any]], ...]  # (source, file, resource)

    def describe(self) -> str:
        sources = ", ".join(sorted({s for s, _, _ in self.versions}))
        return (f"form {self.instance_id}: {self.resource_type} {self.identifier} differs "
                f"between {sources}")


@dataclass
class MergeResult:
    inputs: list[LoadedExport]
    entries: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    held_back: set[str] = field(default_factory=set)  # instance ids left out
    duplicates: int = 0
    superseded: int = 0

    @property
    def entries_in(self) -> int:
        return sum(len(e.entries) for e in self.inputs)


def load_export(path: Path) -> LoadedExport:
    """Read one export: a Bundle file, or a folder holding ``bundle.json``."""
    file = path / "bundle.json" if path.is_dir() else path
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no such export (a bundle .json file or an export folder)",
                         where=str(path)) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            "not a FHIR export: merge takes what a FHIR export of PaperFallback wrote "
            "(a bundle .json file or its folder), not xlsx or CSV exports", where=str(file)
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read the export: {exc}", where=str(file)) from exc
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle" or \
            raw.get("type") != "transaction":
        raise InputError("not a FHIR transaction Bundle written by paperfallback export",
                         where=str(file))
    try:
        stamp = datetime.fromisoformat(str(raw.get("timestamp")))
    except ValueError:
        stamp = datetime.fromtimestamp(file.stat().st_mtime, UTC)
    source = str(raw.get("meta", {}).get("source") or file)
    entries = raw.get("entry", [])
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "fullUrl" not in entry or "request" not in entry:
            raise InputError(f"entry {n + 1} has no fullUrl or request", where=str(file))
    return LoadedExport(path, source, stamp, tuple(entries))


def merge_exports(paths: list[Path]) -> MergeResult:
    loaded = sorted((load_export(p) for p in paths), key=lambda e: e.timestamp)
    result = MergeResult(loaded)
    instance_of = _instances(loaded)
    # key -> source -> (timestamp order, entry, file)
    latest: dict[str, dict[str, tuple[int, dict[str, Any], str]]] = {}
    order: list[str] = []
    for n, export in enumerate(loaded):
        for entry in export.entries:
            key = entry["fullUrl"]
            per_source = latest.setdefault(key, {})
            if not per_source:
                order.append(key)
            before = per_source.get(export.source)
            if before is not None:
                if _content(before[1]) == _content(entry):
                    result.duplicates += 1
                else:
                    result.superseded += 1
            per_source[export.source] = (n, entry, str(export.path))
    chosen: dict[str, dict[str, Any]] = {}
    for key in order:
        versions = latest[key]
        contents = {json.dumps(_content(e), sort_keys=True) for _, e, _ in versions.values()}
        if len(contents) > 1 and not _is_provenance(key, versions):
            some = next(iter(versions.values()))[1]
            instance = instance_of.get(key, "?")
            result.conflicts.append(Conflict(
                instance, key, str(some["resource"].get("resourceType", "")),
                _identifier(some),
                tuple((source, file, e["resource"])
                      for source, (_, e, file) in sorted(versions.items())),
            ))
            result.held_back.add(instance)
            continue
        result.duplicates += len(versions) - 1
        chosen[key] = max(versions.values(), key=lambda v: v[0])[1]
    for key, entry in chosen.items():
        if instance_of.get(key) in result.held_back:
            continue
        result.entries.append(entry)
    return result


def write_merge(result: MergeResult, out: Path) -> list[Path]:
    """The merged export as a folder (bundle.json, NDJSON per type) plus conflicts.json."""
    if out.suffix.lower() == ".json":
        raise InputError("merge writes a folder: name a folder for the output, not a .json file")
    entries = [
        BuiltEntry(e["resource"], e["fullUrl"], e["request"]["method"], e["request"]["url"],
                   e["request"].get("ifNoneExist"), e["fullUrl"])
        for e in result.entries
    ]
    stamp = max((e.timestamp for e in result.inputs), default=datetime.now(UTC))
    written = write_entries(
        entries, out, export_id=str(uuid.uuid4()), timestamp=stamp, source=MERGE_SOURCE,
        extra_manifest={
            "mergedFrom": [{"path": str(e.path), "source": e.source,
                            "timestamp": e.timestamp.isoformat()} for e in result.inputs],
            "conflicts": len(result.conflicts),
            "heldBack": sorted(result.held_back),
        },
    )
    path = out / "conflicts.json"
    report = {
        "conflicts": [
            {"formInstanceId": c.instance_id, "resourceType": c.resource_type,
             "identifier": c.identifier, "fullUrl": c.key,
             "versions": [{"source": s, "file": f, "resource": r} for s, f, r in c.versions]}
            for c in result.conflicts
        ],
        "heldBackFormInstances": sorted(result.held_back),
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*written, path]


def _instances(loaded: list[LoadedExport]) -> dict[str, str]:
    """fullUrl -> form-instance id, from identifiers and from Provenance targets."""
    out: dict[str, str] = {}
    for export in loaded:
        by_url = {e["request"].get("url"): e["fullUrl"] for e in export.entries
                  if e["request"].get("method") == "PATCH"}
        for entry in export.entries:
            resource = entry["resource"]
            if resource.get("resourceType") == "Provenance":
                what = (resource.get("entity") or [{}])[0].get("what", {})
                instance = what.get("identifier", {}).get("value")
                if instance:
                    out[entry["fullUrl"]] = instance
                    for target in resource.get("target", []):
                        ref = target.get("reference", "")
                        out.setdefault(ref, instance)
                        if ref in by_url:  # a PATCH target: key by its fullUrl
                            out.setdefault(by_url[ref], instance)
                continue
            identifiers = resource.get("identifier")
            first = identifiers[0] if isinstance(identifiers, list) and identifiers else \
                identifiers if isinstance(identifiers, dict) else None
            if first and "/Id/downtime-entry/" in str(first.get("system", "")):
                out.setdefault(entry["fullUrl"], str(first.get("value", "")).split("/", 1)[0])
    return out


def _content(entry: dict[str, Any]) -> dict[str, Any]:
    resource = {k: v for k, v in entry["resource"].items() if k not in _VOLATILE}
    return resource


def _is_provenance(key: str, versions: dict[str, tuple[int, dict[str, Any], str]]) -> bool:
    return all(e["resource"].get("resourceType") == "Provenance" for _, e, _ in versions.values())


def _identifier(entry: dict[str, Any]) -> str:
    identifiers = entry["resource"].get("identifier")
    first = identifiers[0] if isinstance(identifiers, list) and identifiers else identifiers
    if isinstance(first, dict) and first.get("value"):
        return str(first["value"])
    return str(entry["request"].get("url", ""))
