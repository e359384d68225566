"""Read the files of an EPR extract: ``read_extract`` into one Snapshot in memory, touching
no store; ``stream_extract`` into any Output a batch at a time (``cache import``: the
cache's tables, cache.snapshot_writer).

All or nothing: the first problem raises InputError naming file, line and field, and
nothing is returned, so the caller's cache keeps its previous snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from paperfallback.cache.importers.as_of import (
    AS_OF_IMPORT_TIME,
    AsOfEvidence,
    check_not_future,
)
from paperfallback.cache.importers.client_log import read_client_log
from paperfallback.cache.importers.fhir_collect import FhirCollector, Output
from paperfallback.cache.importers.fhir_files import (
    check_manifest,
    find_files,
    read_fhir_file,
    read_manifest,
)
from paperfallback.cache.importers.parts import Parts
from paperfallback.cache.importers.policy import DEFAULT_POLICY, ImportPolicy
from paperfallback.cache.importers.staging import Staging
from paperfallback.cache.importers.tabular import read_tables
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Snapshot
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM

T = TypeVar("T")


@dataclass
class ExtractRead:
    """What reading an extract decided besides its records."""

    data_as_of: datetime
    as_of_source: str
    sources: list[Path]
    skipped: Counter[str]  # files skipped (the records' skips are in their Output)


def read_extract(
    paths: Sequence[Path],
    *,
    as_of: datetime | None = None,
    hospital_number_systems: Sequence[str] = (LOCAL_PATIENT_ID_SYSTEM,),
    now: datetime | None = None,
    policy: ImportPolicy = DEFAULT_POLICY,
) -> Snapshot:
    """Read FHIR JSON/NDJSON files, Bulk Data folders, or CSV/xlsx tables into a Snapshot
    (in memory: ``cache import`` streams into the cache instead, cache.snapshot_writer)."""
    staging = Staging()
    try:
        parts = Parts()
        read = stream_extract(paths, parts, staging, as_of=as_of,
                              hospital_number_systems=hospital_number_systems, now=now,
                              policy=policy)
    finally:
        staging.close()
    _off_lists_if_deceased(parts)
    skipped: Counter[str] = Counter(parts.skipped)
    skipped.update(read.skipped)
    return _snapshot(parts, read.data_as_of, read.as_of_source, read.sources, skipped)


def stream_extract(
    paths: Sequence[Path],
    out: Output,
    staging: Staging,
    *,
    as_of: datetime | None = None,
    hospital_number_systems: Sequence[str] = (LOCAL_PATIENT_ID_SYSTEM,),
    now: datetime | None = None,
    policy: ImportPolicy = DEFAULT_POLICY,
    accept: Callable[[datetime], None] | None = None,
    undated: tuple[datetime, str] | None = None,
) -> ExtractRead:
    """Read the extract's FHIR resources into ``out`` a batch at a time (kept in
    ``staging`` until every reference can be resolved), then its CSV/xlsx tables a row at
    a time. All or nothing: the first problem raises InputError naming
    file, line and field. ``accept(data_as_of)`` may refuse the extract (by raising)
    once its time is known, before any record is resolved. ``undated``: the time (and its
    source) of an extract that carries none of its own (a refresh's drop marker)."""
    if not paths:
        raise InputError("no extract files given")
    files = find_files([Path(p) for p in paths])
    if not files.fhir and not files.tabular:
        raise InputError(
            "no extract files found (.json, .ndjson, .csv or .xlsx)",
            where=", ".join(str(p) for p in paths),
        )
    evidence = AsOfEvidence()
    manifests = [read_manifest(m, evidence) for m in files.manifests]
    for log_path in files.client_logs:
        moment = read_client_log(log_path)
        if evidence.client_log_time is None or moment < evidence.client_log_time:
            evidence.client_log_time = moment
    collector = FhirCollector(tuple(hospital_number_systems), policy, evidence, staging)
    counts: dict[Path, int] = {}
    for path in files.fhir:
        for resource, where in read_fhir_file(path, evidence, counts):
            collector.add(resource, where)
    collector.read_done()
    for manifest in manifests:
        check_manifest(manifest, [p for p in files.fhir if p.suffix.lower() != ".json"], counts)
    data_as_of, source = evidence.decide(as_of, now)
    check_not_future(data_as_of, source, now)
    if source == AS_OF_IMPORT_TIME and undated is not None:
        data_as_of, source = undated
    if accept is not None:
        accept(data_as_of)
    collector.finish(data_as_of, out)
    if files.tabular:
        read_tables(files.tabular, out, staging, policy=policy, as_of=data_as_of)
    skipped: Counter[str] = Counter()
    for name in files.skipped:
        skipped[f"file {name} (not an extract file)"] += 1
    return ExtractRead(data_as_of, source, [*files.fhir, *files.tabular, *files.manifests,
                                            *files.client_logs], skipped)


def _off_lists_if_deceased(parts: Parts) -> None:
    """A deceased patient is never on a ward, clinic or theatre list as current (issue 13,
    item 4): the SMART/Synthea samples have 3 of 13 patients deceased, one printed as "99 y"
    with an active drug chart. Their stays, appointments and theatre cases are dropped and
    counted; the patient stays in the cache, found by search and printed explicitly with
    DECEASED on every page."""
    dead = {p.id for p in parts.patients if p.deceased}
    if not dead:
        return
    stays = [s for s in parts.stays if s.patient_id not in dead]
    if len(stays) != len(parts.stays):
        parts.skipped["current stay of a deceased patient (not on any ward list)"] += (
            len(parts.stays) - len(stays))
        parts.stays = stays
    booked = len(parts.appointments) + len(parts.theatre_cases)
    parts.appointments = [a for a in parts.appointments if a.patient_id not in dead]
    parts.theatre_cases = [t for t in parts.theatre_cases if t.patient_id not in dead]
    dropped = booked - len(parts.appointments) - len(parts.theatre_cases)
    if dropped:
        parts.skipped["appointment or theatre case of a deceased patient"] += dropped


def _snapshot(
    parts: Parts, data_as_of: datetime, source: str, read: list[Path], skipped: Counter[str]
) -> Snapshot:
    return Snapshot(
        data_as_of=data_as_of,
        as_of_source=source,
        patients=tuple(_unique(parts.patients)),
        wards=tuple({w.code: w for w in parts.wards}.values()),
        stays=tuple(_unique(parts.stays)),
        allergies=tuple(parts.allergies),
        alerts=tuple(parts.alerts),
        prescriptions=tuple(parts.prescriptions),
        observations=tuple(parts.observations),
        appointments=tuple(_unique(parts.appointments)),
        theatre_cases=tuple(_unique(parts.theatre_cases)),
        spo2_scale=dict(parts.spo2_scale),
        sources=tuple(str(p) for p in read),
        skipped=dict(sorted(skipped.items())),
    )


def _unique(items: list[T]) -> list[T]:
    """One record per id (the store keys patients, appointments ... by id). Each reader
    refuses duplicate ids within its files; two different records with one id from two
    formats (a FHIR Patient and a patients.csv row) are refused here: one would silently
    replace the other."""
    by_id: dict[str, T] = {}
    for item in items:
        rid = getattr(item, "id")  # noqa: B009
        other = by_id.setdefault(rid, item)
        if other != item:
            raise InputError(
                f"two different {type(item).__name__.lower()} records with id {rid!r} in "
                "the extract (in two of its files); one would silently replace the other"
            )
    return list(by_id.values())
