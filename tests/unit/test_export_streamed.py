"""File exports are written as they are built (issue 15, goal 3): the same bytes as the
export built whole, from forms read once, with memory that does not grow with them."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.model import ExportedForm
from paperfallback.export.pipeline import export_forms
from paperfallback.export.samples import random_form
from paperfallback.export.state import ExportState

SYSTEMS = SiteSystems.for_site("RXX")
KEY = "0" * 64
MOMENT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _forms(count: int) -> Iterator[ExportedForm]:
    rng = random.Random(11)
    return (random_form(n, rng) for n in range(count))


def _state(folder: Path) -> ExportState:
    folder.mkdir(parents=True, exist_ok=True)
    return ExportState.open(folder, KEY)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("out_name", ["bundle.json", "folder"])
def test_streamed_fhir_export_is_the_same_as_the_export_built_whole(
        tmp_path: Path, out_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paperfallback.export.pipeline.uuid.uuid4", lambda: "fixed-id")
    streamed = tmp_path / "streamed" / out_name
    with _state(tmp_path / "a") as state:
        summary = export_forms(_forms(40), fmt="fhir", out=streamed, state=state,
                               systems=SYSTEMS, pc_id="PC1", now=MOMENT)
        marked = state.previous("fhir")
    whole = tmp_path / "whole" / out_name
    with _state(tmp_path / "b") as state:
        plan = plan_fhir_export(list(_forms(40)), SYSTEMS, {}, all_entries=False,
                                pc_id="PC1", exported_at=MOMENT, export_id="fixed-id",
                                previous_forms={})
        write_fhir(plan, whole)
    assert summary.counts == plan.counts() and sum(plan.counts().values()) > 500
    assert {m.unit_key: m for m in plan.marks} == marked  # the same units marked
    bundle_path = streamed if out_name.endswith(".json") else streamed / "bundle.json"
    Bundle.model_validate(json.loads(bundle_path.read_text(encoding="utf-8")))
    if out_name.endswith(".json"):
        assert streamed.read_bytes() == whole.read_bytes()
    else:
        assert _files(streamed) == _files(whole)
    assert not list(streamed.parent.glob("**/*.part"))  # no spool or part left behind


def test_a_second_export_reads_what_was_exported_from_the_store_and_sends_only_changes(
        tmp_path: Path) -> None:
    with ExportState.open(tmp_path, KEY) as state:
        export_forms(_forms(30), fmt="fhir", out=tmp_path / "a.json", state=state,
                     systems=SYSTEMS, pc_id="PC1", now=MOMENT)
        again = export_forms(_forms(30), fmt="fhir", out=tmp_path / "b.json", state=state,
                             systems=SYSTEMS, pc_id="PC1", now=MOMENT)
        everything = export_forms(_forms(30), fmt="fhir", out=tmp_path / "c.json",
                                  state=state, systems=SYSTEMS, pc_id="PC1", now=MOMENT,
                                  all_entries=True)
    assert again.is_empty and again.unchanged_forms == 30
    assert sum(everything.counts.values()) > 300


def _export_peak(tmp_path: Path, count: int) -> int:
    with _state(tmp_path / str(count)) as state:
        tracemalloc.start()
        try:
            export_forms(_forms(count), fmt="fhir", out=tmp_path / f"{count}.json",
                         state=state, systems=SYSTEMS, pc_id="PC1", now=MOMENT)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_fhir_export_memory_does_not_grow_with_the_forms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four times the forms, far less than twice the peak: a form's entries are written
    as they are built (built whole, the peak grew about fourfold). The marks spool in
    batches of 50 so that these few forms are many batches."""
    monkeypatch.setattr("paperfallback.cache.importers.staging.BATCH", 50)
    _export_peak(tmp_path, 20)  # lazy imports and caches first
    small = _export_peak(tmp_path, 100)
    large = _export_peak(tmp_path, 400)
    assert large < 2 * small, (small, large)


def test_streamed_csv_and_xlsx_are_the_same_as_the_export_built_whole(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from paperfallback.export.tabular import plan_tabular_export, write_csv, write_xlsx

    with _state(tmp_path / "a") as state:
        csv_summary = export_forms(_forms(40), fmt="csv", out=tmp_path / "csv", state=state,
                                   systems=SYSTEMS, pc_id="PC1", now=MOMENT)
        export_forms(_forms(40), fmt="xlsx", out=tmp_path / "x.xlsx", state=state,
                     systems=SYSTEMS, pc_id="PC1", now=MOMENT)
    whole = plan_tabular_export(list(_forms(40)), {}, all_entries=False)
    write_csv(whole, tmp_path / "csv-whole")
    write_xlsx(whole, tmp_path / "x-whole.xlsx")
    assert csv_summary.counts == {k: len(v) for k, v in sorted(whole.sheets.items())}
    assert len(csv_summary.counts) > 2 and whole.row_count > 1000
    assert _files(tmp_path / "csv") == _files(tmp_path / "csv-whole")
    streamed, built = (load_workbook(tmp_path / n, read_only=True)
                       for n in ("x.xlsx", "x-whole.xlsx"))
    assert streamed.sheetnames == built.sheetnames == sorted(whole.sheets)
    for name in built.sheetnames:
        assert list(streamed[name].values) == list(built[name].values)
    assert not list(tmp_path.glob("**/*.part"))


def test_csv_export_memory_does_not_grow_with_the_forms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CSV is written a row at a time (built whole, every row was a dict in memory)."""
    monkeypatch.setattr("paperfallback.cache.importers.staging.BATCH", 50)

    def peak(count: int) -> int:
        with _state(tmp_path / f"s{count}") as state:
            tracemalloc.start()
            try:
                export_forms(_forms(count), fmt="csv", out=tmp_path / f"csv{count}",
                             state=state, systems=SYSTEMS, pc_id="PC1", now=MOMENT)
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    peak(20)
    small, large = peak(100), peak(400)
    assert large < 2 * small, (small, large)
