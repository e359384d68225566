"""Nonsense doses never print on a drug chart (issue 13, item 3): dose, rate and maximum
are range-checked at import; an impossible one prints as "check dose with prescriber" and
the import summary names the resource and file:line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.domain.plausible import (
    CHECK_DOSE,
    amount_problem,
    dose_text_problem,
    range_problem,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Prys"}]}


def rx(rid: str, dose_and_rate: dict[str, Any], **dosage: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active",
            "intent": "order", "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"text": f"Drug {rid}"},
            "dosageInstruction": [{"doseAndRate": [dose_and_rate], **dosage}]}


def qty(value: Any, unit: str = "mg") -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _import(tmp_path: Path, *resources: dict[str, Any]) -> Any:
    f = tmp_path / "x.ndjson"
    f.write_text("".join(json.dumps(r) + "\n" for r in (PATIENT, *resources)),
                 encoding="utf-8")
    return f, read_extract([f], now=NOW)


@pytest.mark.parametrize(
    ("dose_and_rate", "why"),
    [
        ({"doseQuantity": qty(-500, "mL")}, "-500 mL is negative"),
        ({"doseQuantity": qty(0)}, "is zero"),
        ({"doseQuantity": qty(5_000_000)}, "more than 200 g"),
        ({"doseQuantity": qty(20, "L")}, "more than 10 litres"),
        ({"doseQuantity": qty(500, "tablets")}, "more than 100"),
        ({"doseQuantity": qty("500")}, "is not a number"),
        ({"doseRange": {"low": qty(2, "tablet"), "high": qty(1, "tablet")}}, "upside down"),
        ({"doseQuantity": qty(1000, "mL"), "rateQuantity": qty(-83, "mL/h")}, "rate -83"),
        ({"doseQuantity": qty(1000, "mL"),
          "rateRatio": {"numerator": qty(0, "mL"), "denominator": qty(1, "h")}}, "is zero"),
    ],
)
def test_impossible_dose_or_rate_prints_check_dose(
        tmp_path: Path, dose_and_rate: dict[str, Any], why: str) -> None:
    f, snap = _import(tmp_path, rx("bad", dose_and_rate), rx("ok", {"doseQuantity": qty(500)}))
    doses = {p.id: p.dose for p in snap.prescriptions}
    assert doses == {"bad": CHECK_DOSE, "ok": "500 mg"}
    [(reason, count)] = [(k, v) for k, v in snap.skipped.items() if "check dose" in k]
    assert count == 1 and why in reason
    assert "MedicationRequest 'bad'" in reason and f"{f}:2" in reason


def test_infinite_dose_from_1e400_prints_check_dose(tmp_path: Path) -> None:
    f = tmp_path / "x.ndjson"
    line = json.dumps(rx("inf", {"doseQuantity": qty(1)})).replace('"value": 1', '"value": 1e400')
    f.write_text(json.dumps(PATIENT) + "\n" + line + "\n", encoding="utf-8")
    snap = read_extract([f], now=NOW)
    assert snap.prescriptions[0].dose == CHECK_DOSE
    assert any("not a finite number" in k for k in snap.skipped)


def test_impossible_prn_maximum_prints_check_dose(tmp_path: Path) -> None:
    bad = rx("prn", {"doseQuantity": qty(1, "g")}, asNeededBoolean=True,
             maxDosePerPeriod={"numerator": qty(-4, "g"), "denominator": qty(24, "h")})
    _, snap = _import(tmp_path, bad)
    assert snap.prescriptions[0].dose == "1 g"
    assert snap.prescriptions[0].prn_max_24h == CHECK_DOSE


def test_stopped_prescriptions_are_not_reported(tmp_path: Path) -> None:
    _, snap = _import(tmp_path, {**rx("old", {"doseQuantity": qty(-1)}), "status": "stopped"})
    assert not any("check dose" in k for k in snap.skipped)


def test_csv_dose_text_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text("id,family\np1,Prys\n", encoding="utf-8")
    f = tmp_path / "prescriptions.csv"
    f.write_text("id,patient_id,drug,dose,prn_max_24h\n"
                 "r1,p1,Saline,-500 mL,\nr2,p1,Morphine,1e400 mg,\nr3,p1,Paracetamol,1 g,4 g\n"
                 "r4,p1,Oxycodone,as directed,0 mg\n", encoding="utf-8")
    snap = read_extract([tmp_path], now=NOW)
    got = {p.id: (p.dose, p.prn_max_24h) for p in snap.prescriptions}
    assert got == {"r1": (CHECK_DOSE, ""), "r2": (CHECK_DOSE, ""), "r3": ("1 g", "4 g"),
                   "r4": ("as directed", CHECK_DOSE)}
    assert any(f"{f}:2, column 'dose'" in k and "negative" in k for k in snap.skipped)


def test_impossible_observation_values_are_not_printed(tmp_path: Path) -> None:
    obs = {"resourceType": "Observation", "id": "o1", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-03-02T10:00:00Z",
           "valueQuantity": {"value": -72, "unit": "/min"}}
    _, snap = _import(tmp_path, obs, {**obs, "id": "o2", "valueQuantity": {"value": 72}})
    assert [o.id for o in snap.observations] == ["o2"]
    assert any("Observation 'o1'" in k and "negative" in k for k in snap.skipped)


def test_the_rule_itself() -> None:
    assert amount_problem(500, "mg") == ""
    assert amount_problem(2_400_000, "units") == ""
    assert amount_problem(62.5, "microgram") == ""
    assert amount_problem(83, "mL/h", what="rate") == ""
    assert "negative" in amount_problem(-1, "mg")
    assert "finite" in amount_problem(float("nan"), "mg")
    assert "not a number" in amount_problem(True, "mg")
    assert range_problem(1, 2, "tablets") == ""
    assert dose_text_problem("as directed") == ""
    assert dose_text_problem("1-2 tablets") == ""
    assert "zero" in dose_text_problem("0 mg")
