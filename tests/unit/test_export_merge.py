"""Merging exports from several ward PCs: no duplicates, conflicts reported and held back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from paperfallback.cli.main import main
from paperfallback.export.fhir_bundle import plan_fhir_export, write_fhir
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.merge import merge_exports, write_merge
from paperfallback.export.model import ExportedForm
from paperfallback.export.samples import news2_column, news2_form, synthetic_patient

SYSTEMS = SiteSystems.for_site("DEMO")
KEYED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _chart(instance_id: str, n: int, *, pulse: str = "80") -> ExportedForm:
    return news2_form(instance_id, synthetic_patient(n), [
        news2_column(0, datetime(2026, 11, 20, 10, 0), KEYED, pulse=pulse),
    ])


def _export(path: Path, pc_id: str, forms: list[ExportedForm], minutes: int = 0) -> Path:
    plan = plan_fhir_export(forms, SYSTEMS, {}, all_entries=False, pc_id=pc_id,
                            exported_at=KEYED + timedelta(minutes=minutes))
    return write_fhir(plan, path)[0]


def _keys(bundle: dict[str, Any]) -> list[str]:
    return [e["fullUrl"] for e in bundle.get("entry", [])]


def test_same_form_from_two_pcs_and_twice_from_one_is_merged_once(tmp_path: Path) -> None:
    a = _export(tmp_path / "a.json", "PC-A", [_chart("NW78-0001", 1), _chart("NW78-0002", 2)])
    a_again = _export(tmp_path / "a2.json", "PC-A", [_chart("NW78-0001", 1)], minutes=5)
    b = _export(tmp_path / "b", "PC-B", [_chart("NW78-0002", 2), _chart("NW78-0003", 3)])
    result = merge_exports([a, a_again, b])
    assert not result.conflicts
    written = write_merge(result, tmp_path / "merged")
    bundle = json.loads((tmp_path / "merged" / "bundle.json").read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    keys = _keys(bundle)
    assert len(keys) == len(set(keys))  # no duplicates
    identifiers = [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Observation"]
    assert len(identifiers) == len(set(identifiers)) == 3 * 8
    # one Provenance per PC that keyed each column: both PCs keyed NW78-0002
    provenance = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert len(provenance) == 4
    assert any(p.name == "conflicts.json" for p in written)
    report = json.loads((tmp_path / "merged" / "conflicts.json").read_text(encoding="utf-8"))
    assert report["conflicts"] == []


def test_different_values_on_two_pcs_are_a_conflict_and_held_back(tmp_path: Path) -> None:
    a = _export(tmp_path / "a.json", "PC-A", [_chart("NW78-0001", 1, pulse="80"),
                                              _chart("NW78-0002", 2)])
    b = _export(tmp_path / "b.json", "PC-B", [_chart("NW78-0001", 1, pulse="88")])
    result = merge_exports([a, b])
    assert result.held_back == {"NW78-0001"}
    kinds = {c.identifier for c in result.conflicts}
    assert "NW78-0001/pulse/1" in kinds
    write_merge(result, tmp_path / "merged")
    bundle = json.loads((tmp_path / "merged" / "bundle.json").read_text(encoding="utf-8"))
    kept = {e["resource"]["identifier"][0]["value"].split("/")[0] for e in bundle["entry"]
            if "identifier" in e["resource"]}
    assert kept == {"NW78-0002"}  # nothing of the conflicting form is loaded
    provenance = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Provenance"]
    assert all(p["entity"][0]["what"]["identifier"]["value"] == "NW78-0002"
               for p in provenance)
    report = json.loads((tmp_path / "merged" / "conflicts.json").read_text(encoding="utf-8"))
    pulse = next(c for c in report["conflicts"] if c["identifier"] == "NW78-0001/pulse/1")
    values = sorted(v["resource"]["valueQuantity"]["value"] for v in pulse["versions"])
    assert values == [80, 88]


def test_a_later_correction_from_the_same_pc_is_not_a_conflict(tmp_path: Path) -> None:
    a = _export(tmp_path / "a.json", "PC-A", [_chart("NW78-0001", 1, pulse="80")])
    later = _export(tmp_path / "later.json", "PC-A", [_chart("NW78-0001", 1, pulse="86")],
                    minutes=30)
    result = merge_exports([later, a])  # order on the command line does not matter
    assert not result.conflicts
    pulse = next(e for e in result.entries
                 if e["resource"].get("identifier", [{}])[0].get("value") == "NW78-0001/pulse/1")
    assert pulse["resource"]["valueQuantity"]["value"] == 86
    assert result.superseded > 0


def test_merge_command_exits_1_and_lists_conflicts(tmp_path: Path, capsys: Any) -> None:
    a = _export(tmp_path / "a.json", "PC-A", [_chart("NW78-0001", 1, pulse="80")])
    b = _export(tmp_path / "b.json", "PC-B", [_chart("NW78-0001", 1, pulse="88")])
    code = main(["merge", str(a), str(b), "--out", str(tmp_path / "merged")])
    out = capsys.readouterr().out
    assert code == 1
    assert "held back" in out and "NW78-0001" in out
    assert main(["merge", str(a), str(a), "--out", str(tmp_path / "same")]) == 0


def test_merge_refuses_what_is_not_an_export(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Patient"}', encoding="utf-8")
    assert main(["merge", str(bad), "--out", str(tmp_path / "m")]) == 1
    assert "not a FHIR transaction Bundle" in capsys.readouterr().err


def test_merge_of_a_spreadsheet_export_says_what_merge_takes(
    tmp_path: Path, capsys: Any
) -> None:
    book = tmp_path / "ward7.xlsx"
    book.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\xff\xfe not a json file")
    assert main(["merge", str(book), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip()
    assert "not a FHIR export" in err and "ward7.xlsx" in err
    assert "\n" not in err and "codec" not in err
