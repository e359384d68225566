"""NEWS2 columns exported as UK Core Observations, checked against the UK Core example."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from paperfallback.domain.news2 import News2Observation, score
from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.samples import news2_column, news2_form, synthetic_patient

EXAMPLE = (
    Path(__file__).resolve().parents[1]
    / "fixtures/ukcore-examples/UKCore-Bundle-NEWS2Observations-Example.json"
)
KEYED_AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SYSTEMS = SiteSystems.for_site("DEMO")


def _bundle(*columns: Any) -> dict[str, Any]:
    form = news2_form("AB12-3456", synthetic_patient(1), list(columns))
    plan = plan_fhir_export([form], SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=KEYED_AT, export_id="00000000-0000-4000-8000-000000000001")
    assert not plan.problems
    bundle = plan.bundle()
    Bundle.model_validate(bundle)  # every resource validates against FHIR R4B
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        get_fhir_model_class(kind).model_validate(entry["resource"])
    return bundle


def _observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"]


def _codes(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in resource["code"]["coding"]}


def _by_code(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    found = [o for o in _observations(bundle) if any(c["code"] == code
                                                      for c in o["code"]["coding"])]
    assert len(found) == 1, code
    return found[0]


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    if not EXAMPLE.exists():
        pytest.skip("UK Core examples not available")
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return [e["resource"] for e in data["entry"]]


def test_each_parameter_is_coded_as_in_the_uk_core_example(
    example: list[dict[str, Any]],
) -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT, handwritten="1"))
    ours = _observations(bundle)
    # Every observation in the UK Core example has a counterpart with the same codings,
    # category and value type.
    for theirs in example:
        match = [o for o in ours if _codes(theirs) <= _codes(o)]
        assert match, f"no exported Observation coded like {theirs['code']['coding']}"
        mine = match[0]
        assert mine.get("category", [{}])[0].get("coding", [{}])[0].get("code") == \
            theirs.get("category", [{}])[0].get("coding", [{}])[0].get("code")
        value_keys = {k for k in theirs if k.startswith("value")}
        assert value_keys <= set(mine), (theirs["code"], value_keys)
        if "valueQuantity" in theirs:
            assert mine["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert mine["valueQuantity"]["code"] == theirs["valueQuantity"]["code"]
        if "component" in theirs:
            theirs_components = [{(c["system"], c["code"]) for c in comp["code"]["coding"]}
                                 for comp in theirs["component"]]
            mine_components = [{(c["system"], c["code"]) for c in comp["code"]["coding"]}
                               for comp in mine["component"]]
            for codes in theirs_components:
                if any(code[1] == "1104311000000102" for code in codes):
                    continue  # scale 1 vs 2: checked below
                assert any(codes <= m for m in mine_components), codes
    pulse = _by_code(bundle, "8867-4")
    assert [c.get("userSelected") for c in pulse["code"]["coding"]] == [None, True, None]


def test_total_is_computed_and_linked_to_its_parameters() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT,
                                  resp_rate="22", spo2="93", oxygen="A", sbp="120",
                                  pulse="95", acvpu="A", temp="37.5", handwritten="4"))
    total = _by_code(bundle, "1104051000000101")
    expected = score(News2Observation(22, 93, "A", 120, 95, "A", 37.5))
    assert total["valueQuantity"] == {"value": expected.total, "unit": "ScoreOf",
                                      "system": "http://unitsofmeasure.org",
                                      "code": "{ScoreOf}"}
    assert total["category"][0]["coding"][0]["code"] == "survey"
    assert total["effectiveDateTime"] == "2026-11-20T10:05:00+00:00"
    # derivedFrom points at the seven parameter observations of the same column, as the
    # UK Core example does (RR, HR, SpO2, air/O2, temp, BP panel, ACVPU).
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    derived = [urls[d["reference"]] for d in total["derivedFrom"]]
    assert len(derived) == 7
    assert {c for d in derived for c in _codes(d)} >= {
        ("http://snomed.info/sct", "86290005"), ("http://snomed.info/sct", "364075005"),
        ("http://snomed.info/sct", "103228002"), ("http://snomed.info/sct", "722742002"),
        ("http://snomed.info/sct", "276885007"), ("http://snomed.info/sct", "75367002"),
        ("http://snomed.info/sct", "1104441000000107"),
    }
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                  for c in total["component"]}
    assert components == {
        "1104301000000104": expected.components["resp_rate"],
        "1104351000000103": expected.components["pulse"],
        "1104311000000102": expected.components["spo2"],
        "1104331000000105": expected.components["oxygen"],
        "1104371000000107": expected.components["temp"],
        "1104341000000101": expected.components["sbp"],
        "1104361000000100": expected.components["acvpu"],
    }


def test_handwritten_total_that_differs_is_kept_in_a_note() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT,
                                  resp_rate="26", handwritten="1"))
    total = _by_code(bundle, "1104051000000101")
    computed = total["valueQuantity"]["value"]
    assert computed == 3
    notes = " ".join(n["text"] for n in total["note"])
    assert "handwritten on the paper chart was 1" in notes
    assert "score 3" in notes


def test_matching_handwritten_total_adds_no_discrepancy() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT, handwritten="0"))
    total = _by_code(bundle, "1104051000000101")
    assert total["valueQuantity"]["value"] == 0
    assert "DISCREPANCY" not in " ".join(n["text"] for n in total["note"])


def test_handwritten_total_is_exported_when_parameters_are_missing() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT, temp="",
                                  acvpu="", handwritten="5"))
    total = _by_code(bundle, "1104051000000101")
    assert total["valueQuantity"]["value"] == 5
    notes = " ".join(n["text"] for n in total["note"])
    assert "as handwritten" in notes and "acvpu" in notes and "temp" in notes
    assert "component" not in total


def test_scale_2_and_oxygen_use_their_own_codes() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT, spo2="95",
                                  oxygen="O2", spo2_scale="2"))
    total = _by_code(bundle, "1104051000000101")
    codes = {c["code"]["coding"][0]["code"] for c in total["component"]}
    assert "1104321000000108" in codes and "1104311000000102" not in codes
    oxygen = _by_code(bundle, "371825009")
    assert "valueQuantity" not in oxygen
    spo2 = _by_code(bundle, "103228002")
    assert "scale 2" in spo2["note"][0]["text"]


def test_temperature_keeps_the_precision_written() -> None:
    bundle = _bundle(news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED_AT, temp="37.0"))
    temp = _by_code(bundle, "8310-5")
    assert temp["valueQuantity"]["value"] == 37.0
    assert '"value":37.0' in json.dumps(temp["valueQuantity"], separators=(",", ":"))


def test_observation_time_is_the_time_on_the_paper_in_uk_local_time() -> None:
    summer = _bundle(news2_column(0, datetime(2026, 7, 1, 14, 0), KEYED_AT))
    assert {o["effectiveDateTime"] for o in _observations(summer)} == \
        {"2026-07-01T14:00:00+01:00"}
