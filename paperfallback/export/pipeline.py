"""One export run: keyed forms in, files out, and what was exported marked in the work store.

Files are written before anything is marked, so a failed write never hides entries from
the next export. Formats are tracked separately: exporting to CSV does not stop the
same values going into the next FHIR export.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import CacheError, InputError
from paperfallback.export.fhir_bundle import plan_fhir_export, sink_for
from paperfallback.export.fhir_common import DEFAULT_BASE_URL, SiteSystems
from paperfallback.export.fhir_units import BuiltUnit
from paperfallback.export.from_entries import (
    exportable_instance_ids,
    iter_forms,
)
from paperfallback.export.model import ExportedForm, PatientRef
from paperfallback.export.scanned import scanned_documents
from paperfallback.export.state import ExportState, MarkSpool
from paperfallback.export.tabular import plan_tabular_export
from paperfallback.export.tabular_files import CsvFiles, RowSink, XlsxFile
from paperfallback.formspec import FormCatalogue, site_catalogue
from paperfallback.gc_policy import gc_paused
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import Register, pc_code_for
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM, Settings
from paperfallback.workstore import WorkStore

Format = Literal["fhir", "xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("fhir", "xlsx", "csv")
XLSX_NAME = "paperfallback-export.xlsx"
log = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    format: Format
    written: list[Path]
    counts: dict[str, int] = field(default_factory=dict)  # resources per type, or rows per form
    new_units: int = 0
    changed_units: int = 0
    repeated_units: int = 0
    unchanged_units: int = 0
    withdrawn: int = 0
    problems: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)
    unchanged_forms: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. exported without the cache

    @property
    def is_empty(self) -> bool:
        return not any(self.counts.values())

    def lines(self, *, warnings: bool = True) -> list[str]:
        """What the CLI and the app tell the clerk (``warnings`` first, unless asked not to:
        the CLI writes them to standard error)."""
        head = [f"Warning: {w}" for w in self.warnings] if warnings else []
        return head + self._report()

    def _report(self) -> list[str]:
        where = ", ".join(str(p) for p in self.written[:3])
        more = f" (+{len(self.written) - 3} more files)" if len(self.written) > 3 else ""
        if self.is_empty:
            what = ("an empty transaction Bundle" if self.format == "fhir"
                    else "an empty " + self.format.upper())
            out = [f"Nothing new to export: wrote {what} to {where}{more}."]
        else:
            unit = "resources" if self.format == "fhir" else "rows"
            total = sum(self.counts.values())
            parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
            out = [
                f"Exported {total} {unit} ({parts}) from {len(self.instance_ids)} forms to "
                f"{where}{more}.",
                f"New {self.new_units}, corrected {self.changed_units}"
                + (f", repeated {self.repeated_units}" if self.repeated_units else "")
                + (f", withdrawn {self.withdrawn}" if self.withdrawn else "")
                + "; left out as already exported and unchanged: "
                + f"{self.unchanged_units - self.repeated_units} parts"
                + (f" and {self.unchanged_forms} whole forms" if self.unchanged_forms else "")
                + ".",
            ]
        if self.problems:
            out.append(f"{len(self.problems)} could not be exported (fix and export again):")
            out.extend(f"  {p}" for p in self.problems)
        return out


def run_export(data_dir: Path, settings: Settings, key: str, key_source: str, fmt: Format,
               out: Path, all_entries: bool = False,
               catalogue: FormCatalogue | None = None) -> ExportSummary:
    """One whole export, as ``paperfallback export`` and the app's Export dialog run it:
    read the keyed forms from the work store (with the cache for printed facts, if it can
    be read), write ``fmt`` to ``out``, and mark what went out. Problems with single forms
    are in ``summary.problems``; a cache that cannot be read is a warning, not a stop."""
    with export_sources(data_dir, settings, key, key_source, catalogue) as sources:
        documents = sources.documents() if fmt == "fhir" else iter(())
        summary = export_forms(  # the forms are read as the export uses them (issue 15)
            sources.keyed(), fmt=fmt, out=out, state=ExportState(sources.work),
            systems=sources.systems, pc_id=settings.pc_id, all_entries=all_entries,
            documents=documents,
        )
        if summary.instance_ids:
            sources.store.mark_exported(summary.instance_ids)
        log.info(  # instance IDs and counts only: the log holds no patient data
            "export %s to %s: %d form instances (%d new, %d changed units), %d problems: %s",
            fmt, out.name, len(summary.instance_ids), summary.new_units,
            summary.changed_units, len(sources.problems), ", ".join(summary.instance_ids[:50]),
        )
    summary.problems[:0] = sources.problems
    summary.warnings[:0] = sources.warnings
    return summary


@dataclass
class ExportSources:
    """What one export or send reads, opened once: the work store, the keyed forms (read
    as the export uses them, problems collected once), the site's identifier systems and
    the scanned pages filed as documents."""

    work: WorkStore
    store: EntriesStore
    settings: Settings
    data_dir: Path
    cache: CacheStore | None
    catalogue: FormCatalogue
    systems: SiteSystems
    warnings: list[str]
    problems: list[str] = field(default_factory=list)

    def keyed(self, ids: Iterable[str] | None = None) -> Iterator[ExportedForm]:
        return iter_keyed_forms(self.work, self.store, self.cache, self.settings,
                                self.data_dir, catalogue=self.catalogue, instance_ids=ids,
                                # the forms read for scanned pages are told once, by keyed()
                                problems=self.problems if ids is None else [])

    def documents(self) -> Iterator[BuiltUnit]:
        """The returned forms' scanned pages as DocumentReference units, built one at a
        time as the export writes them (export.scanned)."""
        return scanned_documents(self.work, keyed_patients(self.keyed, self.store,
                                                           self.settings),
                                 self.settings, self.catalogue, self.systems)


@contextmanager
def export_sources(data_dir: Path, settings: Settings, key: str, key_source: str,
                   catalogue: FormCatalogue | None = None) -> Iterator[ExportSources]:
    """Open what an export or a send reads (a cache that cannot be read is a warning,
    not a stop) and close it afterwards, whatever happens."""
    cache, warnings = open_cache_for_export(data_dir, key, key_source)
    try:
        work = WorkStore.open(data_dir, key, key_source=key_source)
    except BaseException:
        if cache is not None:
            cache.close()
        raise
    try:
        yield ExportSources(
            work, EntriesStore(work), settings, data_dir, cache,
            catalogue or site_catalogue(settings.form_dirs, data_dir),
            SiteSystems.for_site(settings.site_code,
                                 settings.export_base_url or DEFAULT_BASE_URL),
            warnings)
    finally:
        work.close()
        if cache is not None:
            cache.close()


def keyed_patients(keyed: Callable[[Iterable[str] | None], Iterator[ExportedForm]],
                 store: EntriesStore, settings: Settings,
                 ) -> Callable[[list[str]], dict[str, PatientRef]]:
    """Who the keyed forms among ``ids`` were identified as (scanned pages are filed
    against them), reading only those forms."""
    def patients(ids: list[str]) -> dict[str, PatientRef]:
        ready = set(exportable_instance_ids(store, settings.double_entry_forms))
        return {f.instance_id: f.patient for f in keyed([i for i in ids if i in ready])
                if f.patient}

    return patients


def open_cache_for_export(data_dir: Path, key: str,
                          key_source: str) -> tuple[CacheStore | None, list[str]]:
    """The cache for printed facts, or None with a warning: an export works without it."""
    try:
        return CacheStore.open(data_dir, key, key_source=key_source, readonly=True), []
    except CacheError as exc:  # the export still works; pre-printed facts may be missing
        log.warning("export without the cache: %s", exc)
        return None, [f"the cache cannot be read ({exc}); printed drug names, procedures "
                      "and list patients will be missing."]


def iter_keyed_forms(work: WorkStore, store: EntriesStore, cache: CacheStore | None,
                     settings: Settings, data_dir: Path, *, problems: list[str],
                     catalogue: FormCatalogue | None = None,
                     instance_ids: Iterable[str] | None = None) -> Iterator[ExportedForm]:
    """Every form ready for export, as the file export and ``export --to`` both read it:
    one at a time, as the export uses them (``from_entries.iter_forms``)."""
    register = Register(work, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
    return iter_forms(
        store, register, catalogue or site_catalogue(settings.form_dirs, data_dir), cache,
        site_code=settings.site_code,
        hospital_number_system=(settings.hospital_number_systems or [""])[0]
        or LOCAL_PATIENT_ID_SYSTEM,
        double_entry_forms=settings.double_entry_forms, instance_ids=instance_ids,
        problems=problems,
    )


@gc_paused()  # a fresh pause per call (contextmanager objects are also decorators)
def export_forms(
    forms: Iterable[ExportedForm],
    *,
    fmt: Format,
    out: Path,
    state: ExportState,
    systems: SiteSystems,
    pc_id: str,
    all_entries: bool = False,
    now: datetime | None = None,
    documents: Iterable[BuiltUnit] = (),
) -> ExportSummary:
    """Export ``forms`` as ``fmt`` to ``out`` and mark what was written (``documents``:
    scanned pages filed as images, FHIR only: export.scanned)."""
    moment = now or datetime.now(UTC)
    previous = state.previous_units(fmt)
    if fmt == "fhir":
        # Each entry is written as it is built (export.fhir_writer): memory holds a form,
        # not the export (issue 15).
        export_id = str(uuid.uuid4())
        sink = sink_for(out, export_id, moment, systems, pc_id)
        with MarkSpool() as marks:
            try:
                plan = plan_fhir_export(forms, systems, previous, all_entries=all_entries,
                                        pc_id=pc_id, exported_at=moment, export_id=export_id,
                                        previous_forms=state.previous_forms(fmt),
                                        documents=documents, sink=sink, marks=marks)
                written = sink.finish(export_id=export_id, timestamp=moment,
                                      source=plan.source)
            except BaseException:
                sink.abandon()
                raise
            summary = ExportSummary("fhir", written, plan.counts(), plan.new_units,
                                    plan.changed_units, plan.repeated_units,
                                    plan.unchanged_units, plan.withdrawn, list(plan.problems),
                                    plan.instance_ids(), plan.unchanged_forms)
            state.record(fmt, plan.export_id, moment, plan.marks, all_entries=all_entries,
                         out=str(out), resources=plan.entry_count, forms=plan.forms_done)
        return summary
    if fmt == "csv" and out.suffix.lower() in (".csv", ".xlsx", ".json"):
        raise InputError("CSV export writes one file per form type: choose a folder, "
                         "not a file", where=str(out))
    # Each row is written as it is built (export.tabular_files): CSV a row at a time,
    # xlsx through openpyxl's write-only sheets (issue 15).
    files: RowSink = (CsvFiles(out) if fmt == "csv" else XlsxFile(
        out if out.suffix.lower() == ".xlsx" else out / XLSX_NAME))
    with MarkSpool() as marks:
        try:
            tabular = plan_tabular_export(forms, previous, all_entries=all_entries, sink=files,
                                          marks=marks)
            written = files.finish()
        except BaseException:
            files.abandon()
            raise
        if not written:  # say so on disk too, not only on screen
            out.mkdir(parents=True, exist_ok=True)
            note = out / "NOTHING-NEW.txt"
            note.write_text("Nothing new to export: every keyed entry was exported before.\n",
                            encoding="utf-8")
            written = [note]
        summary = ExportSummary(fmt, written, dict(sorted(tabular.rows.items())),
                                tabular.new_units, tabular.changed_units,
                                tabular.repeated_units, tabular.unchanged_units, 0,
                                list(tabular.problems), tabular.instance_ids())
        state.record(fmt, str(uuid.uuid4()), moment, tabular.marks, all_entries=all_entries,
                     out=str(out), resources=tabular.row_count)
    return summary
