"""Idempotent identity and incremental export: load twice, create nothing new."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from paperfallback.export.fhir_common import SiteSystems, token
from paperfallback.export.model import ExportedForm
from paperfallback.export.pipeline import export_forms
from paperfallback.export.samples import news2_column, news2_form, synthetic_patient
from paperfallback.export.state import ExportState

SYSTEMS = SiteSystems.for_site("DEMO")
KEYED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TEST_KEY = "test-key-not-secret"


@pytest.fixture
def state(data_dir: Path) -> Iterator[ExportState]:
    with ExportState.open(data_dir, TEST_KEY) as opened:
        yield opened


def _form(**column: Any) -> ExportedForm:
    return news2_form("NW34-0001", synthetic_patient(1), [
        news2_column(0, datetime(2026, 11, 20, 10, 0), KEYED, **column),
        news2_column(1, datetime(2026, 11, 20, 14, 0), KEYED, pulse="96"),
    ])


def _run(state: ExportState, tmp_path: Path, name: str, forms: list[ExportedForm],
         *, all_entries: bool = False) -> tuple[dict[str, Any], list[str]]:
    out = tmp_path / f"{name}.json"
    summary = export_forms(forms, fmt="fhir", out=out, state=state, systems=SYSTEMS,
                           pc_id="PC1", all_entries=all_entries)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    return bundle, summary.lines()


def _identified(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if "identifier" in resource:
            ids = resource["identifier"]
            first = ids[0] if isinstance(ids, list) else ids
            out[first["value"]] = entry
    return out


def test_every_entry_is_a_conditional_create_on_its_own_identifier(
    state: ExportState, tmp_path: Path
) -> None:
    bundle, _ = _run(state, tmp_path, "first", [_form()])
    for value, entry in _identified(bundle).items():
        assert value.startswith("NW34-0001/")
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["ifNoneExist"] == token(SYSTEMS.entry, value)
        identifier = entry["resource"]["identifier"][0]
        assert identifier["system"] == "https://paperfallback.example.nhs.uk/Id/downtime-entry/demo"
    provenance = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert len(provenance) == 2
    for entry in provenance:
        tag = entry["resource"]["meta"]["tag"][0]
        assert entry["request"] == {"method": "POST", "url": "Provenance",
                                    "ifNoneExist": f"_tag={tag['system']}|{tag['code']}"}


def test_exporting_twice_gives_the_same_identifiers_and_full_urls(
    state: ExportState, tmp_path: Path
) -> None:
    first, _ = _run(state, tmp_path, "first", [_form()])
    again, _ = _run(state, tmp_path, "again", [_form()], all_entries=True)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in again["entry"]]
    assert [e["request"] for e in first["entry"]] == [e["request"] for e in again["entry"]]
    assert [e["resource"] for e in first["entry"]] == [e["resource"] for e in again["entry"]]


def test_nothing_new_writes_an_empty_transaction_bundle_and_says_so(
    state: ExportState, tmp_path: Path
) -> None:
    _run(state, tmp_path, "first", [_form()])
    bundle, lines = _run(state, tmp_path, "second", [_form()])
    assert bundle["type"] == "transaction"
    assert "entry" not in bundle
    assert lines[0].startswith("Nothing new to export: wrote an empty transaction Bundle")


def test_only_the_changed_column_goes_out_as_a_conditional_update(
    state: ExportState, tmp_path: Path
) -> None:
    _run(state, tmp_path, "first", [_form()])
    bundle, lines = _run(state, tmp_path, "second", [_form(resp_rate="25")])
    entries = _identified(bundle)
    assert entries  # the first column only
    assert all(v.endswith("/1") for v in entries)
    resp = entries["NW34-0001/resp_rate/1"]
    assert resp["request"]["method"] == "PUT"
    assert resp["request"]["url"] == "Observation?" + token(SYSTEMS.entry,
                                                            "NW34-0001/resp_rate/1")
    assert "ifNoneExist" not in resp["request"]
    assert resp["resource"]["valueQuantity"]["value"] == 25
    assert resp["resource"]["status"] == "amended"  # corrected after the EPR had it as final
    total = entries["NW34-0001/news2_total/1"]
    assert total["resource"]["valueQuantity"]["value"] == 3  # recomputed with the correction
    assert "corrected 1" in lines[1]


def test_a_value_removed_after_export_is_withdrawn(state: ExportState, tmp_path: Path) -> None:
    _run(state, tmp_path, "first", [_form()])
    form = _form()
    column = form.rows[0]
    values = dict(column.values)
    del values["temp"]  # keyed in error, then cleared by the clerk
    form = replace(form, rows=(replace(column, values=values), form.rows[1]))
    bundle, _ = _run(state, tmp_path, "second", [form])
    withdrawn = _identified(bundle)["NW34-0001/temp/1"]
    assert withdrawn["resource"]["status"] == "entered-in-error"
    assert withdrawn["request"]["method"] == "PUT"
    assert withdrawn["resource"]["subject"]["identifier"]["value"] == \
        synthetic_patient(1).nhs_number


def test_all_includes_everything_again(state: ExportState, tmp_path: Path) -> None:
    first, _ = _run(state, tmp_path, "first", [_form()])
    again, lines = _run(state, tmp_path, "all", [_form()], all_entries=True)
    assert len(again["entry"]) == len(first["entry"])
    assert "repeated 2" in lines[1]


def test_formats_are_tracked_separately(state: ExportState, tmp_path: Path) -> None:
    _run(state, tmp_path, "first", [_form()])
    summary = export_forms([_form()], fmt="csv", out=tmp_path / "csv", state=state,
                           systems=SYSTEMS, pc_id="PC1")
    assert summary.counts["news2"] > 0
    again = export_forms([_form()], fmt="csv", out=tmp_path / "csv2", state=state,
                         systems=SYSTEMS, pc_id="PC1")
    assert again.is_empty
    assert (tmp_path / "csv2" / "NOTHING-NEW.txt").exists()
    assert [r.format for r in state.runs()] == ["fhir", "csv", "csv"]


def test_bundle_file_is_the_same_bytes_for_the_same_export(tmp_path: Path) -> None:
    from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir

    files = []
    for name in ("a.json", "b.json"):
        plan = plan_fhir_export([_form()], SYSTEMS, {}, all_entries=False, pc_id="PC1",
                                exported_at=KEYED, export_id="e1")
        files.append(write_fhir(plan, tmp_path / name)[0].read_bytes())
    assert files[0] == files[1]


def test_folder_export_has_ndjson_per_type_with_stable_ids(tmp_path: Path) -> None:
    from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir

    plan = plan_fhir_export([_form()], SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=KEYED)
    written = write_fhir(plan, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["Observation.ndjson", "Provenance.ndjson", "bundle.json", "manifest.json"]
    lines = (tmp_path / "out" / "Observation.ndjson").read_text(encoding="utf-8").splitlines()
    resources = [json.loads(line) for line in lines]
    assert len(resources) == plan.counts()["Observation"]
    assert all(r["id"].startswith("pf-") for r in resources)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert {o["type"]: o["count"] for o in manifest["output"]} == plan.counts()


def test_a_form_that_cannot_be_exported_is_not_marked_and_comes_back(
    state: ExportState, tmp_path: Path
) -> None:
    from paperfallback.export.model import PatientRef

    orphan = news2_form("NW34-0002", PatientRef(family="Unknown"),
                        [news2_column(0, datetime(2026, 11, 20, 10, 0), KEYED)])
    for name in ("first", "second"):
        out = tmp_path / f"{name}.json"
        summary = export_forms([_form(), orphan], fmt="fhir", out=out, state=state,
                               systems=SYSTEMS, pc_id="PC1")
        assert any("NW34-0002" in p for p in summary.problems)
        assert "NW34-0002" not in summary.instance_ids
    fixed = replace(orphan, patient=synthetic_patient(9))
    summary = export_forms([_form(), fixed], fmt="fhir", out=tmp_path / "third.json",
                           state=state, systems=SYSTEMS, pc_id="PC1")
    assert summary.instance_ids == ["NW34-0002"] and not summary.problems


def test_half_written_files_never_carry_the_final_name(tmp_path: Path) -> None:
    from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir

    plan = plan_fhir_export([_form()], SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=KEYED)
    write_fhir(plan, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.part"))
    (tmp_path / "bundle.json").mkdir()  # the final name cannot be replaced
    with pytest.raises(OSError):
        write_fhir(plan, tmp_path / "bundle.json")
    assert not (tmp_path / "bundle.json" / "bundle.json").exists()
