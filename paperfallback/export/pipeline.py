"""One export run: keyed forms in, files out, and what was exported marked in the work store.

Files are written before anything is marked, so a failed write never hides entries from
the next export. Formats are tracked separately: exporting to CSV does not stop the
same values going into the next FHIR export.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.model import ExportedForm
from paperfallback.export.state import ExportState
from paperfallback.export.tabular import plan_tabular_export, write_csv, write_xlsx

Format = Literal["fhir", "xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("fhir", "xlsx", "csv")
XLSX_NAME = "paperfallback-export.xlsx"


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

    @property
    def is_empty(self) -> bool:
        return not any(self.counts.values())

    def lines(self) -> list[str]:
        """What the CLI tells the clerk."""
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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while an export builds its (acyclic) dicts.

    An export makes hundreds of thousands of small dicts and no reference cycles; the
    collector, triggered by allocation counts, otherwise spends more time scanning them
    than the export spends building them (measured: 1.6 s vs 0.7 s CPU for 2,000 forms).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def export_forms(
    forms: Sequence[ExportedForm],
    *,
    fmt: Format,
    out: Path,
    state: ExportState,
    systems: SiteSystems,
    pc_id: str,
    all_entries: bool = False,
    now: datetime | None = None,
) -> ExportSummary:
    """Export ``forms`` as ``fmt`` to ``out`` and mark what was written."""
    with gc_paused():
        return _export_forms(forms, fmt=fmt, out=out, state=state, systems=systems,
                             pc_id=pc_id, all_entries=all_entries, now=now)


def _export_forms(
    forms: Sequence[ExportedForm],
    *,
    fmt: Format,
    out: Path,
    state: ExportState,
    systems: SiteSystems,
    pc_id: str,
    all_entries: bool = False,
    now: datetime | None = None,
) -> ExportSummary:
    moment = now or datetime.now(UTC)
    previous = state.previous(fmt)
    if fmt == "fhir":
        plan = plan_fhir_export(forms, systems, previous, all_entries=all_entries,
                                pc_id=pc_id, exported_at=moment,
                                previous_forms=state.previous_forms(fmt))
        written = write_fhir(plan, out)
        summary = ExportSummary("fhir", written, plan.counts(), plan.new_units,
                                plan.changed_units, plan.repeated_units, plan.unchanged_units,
                                plan.withdrawn, list(plan.problems), plan.instance_ids(),
                                plan.unchanged_forms)
        state.record(fmt, plan.export_id, moment, plan.marks, all_entries=all_entries,
                     out=str(out), resources=len(plan.entries), forms=plan.forms_done)
        return summary
    tabular = plan_tabular_export(forms, previous, all_entries=all_entries)
    if fmt == "csv":
        if out.suffix.lower() in (".csv", ".xlsx", ".json"):
            raise InputError("CSV export writes one file per form type: give --out a folder")
        written = write_csv(tabular, out)
        if not written:  # say so on disk too, not only on screen
            out.mkdir(parents=True, exist_ok=True)
            note = out / "NOTHING-NEW.txt"
            note.write_text("Nothing new to export: every keyed entry was exported before.\n",
                            encoding="utf-8")
            written = [note]
    else:
        path = out if out.suffix.lower() == ".xlsx" else out / XLSX_NAME
        written = [write_xlsx(tabular, path)]
    summary = ExportSummary(fmt, written, {k: len(v) for k, v in sorted(tabular.sheets.items())},
                            tabular.new_units, tabular.changed_units, tabular.repeated_units,
                            tabular.unchanged_units, 0, [], tabular.instance_ids())
    state.record(fmt, str(uuid.uuid4()), moment, tabular.marks, all_entries=all_entries,
                 out=str(out), resources=tabular.row_count)
    return summary
