"""Drug chart units: never a "do not use" abbreviation on a MAR.

ISMP List of Error-Prone Abbreviations and NHS prescribing standards: "ug" is misread as
"mg" (a 1000-fold overdose) and "U" as 0 or 4 (insulin): write "microgram" and "units".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.cache.importers.fhir_values import quantity_text

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _rx(rid: str, dose: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active",
            "intent": "order", "subject": {"reference": "Patient/a"},
            "medicationCodeableConcept": {"text": rid},
            "dosageInstruction": [{"doseAndRate": [{"doseQuantity": dose}]}]}


def test_microgram_and_units_are_written_in_full_on_the_mar(tmp_path: Path) -> None:
    resources = [
        {"resourceType": "Patient", "id": "a", "name": [{"family": "Ŵyn", "given": ["Ela"]}]},
        _rx("levo-text", {"value": 500, "unit": "microgram",
                          "system": "http://unitsofmeasure.org", "code": "ug"}),
        _rx("levo-code", {"value": 500, "system": "http://unitsofmeasure.org", "code": "ug"}),
        _rx("insulin", {"value": 10, "system": "http://unitsofmeasure.org", "code": "U"}),
        _rx("insulin-iu", {"value": 6, "unit": "[iU]"}),
    ]
    path = tmp_path / "extract.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    doses = {p.id: p.dose for p in read_extract([path], now=NOW).prescriptions}
    assert doses == {"levo-text": "500 microgram", "levo-code": "500 microgram",
                     "insulin": "10 units", "insulin-iu": "6 units"}


@pytest.mark.parametrize(("quantity", "text"), [
    ({"value": 50, "code": "mcg"}, "50 microgram"),
    ({"value": 2, "code": "IU"}, "2 units"),
    ({"value": 1000, "code": "ml"}, "1000 mL"),
    ({"value": 500, "unit": "milligram", "code": "mg"}, "500 mg"),
    ({"value": 1, "code": "g"}, "1 g"),
    ({"value": 250, "code": "ng"}, "250 nanogram"),
    ({"value": 20, "code": "mmol"}, "20 mmol"),
    ({"value": 1, "code": "L"}, "1 litre"),
    ({"value": 83, "unit": "mL/h", "code": "mL/h"}, "83 mL/h"),
    ({"value": 2, "code": "{tablet}", "unit": "tablet"}, "2 tablet"),
])
def test_ucum_codes_map_to_safe_words(quantity: dict[str, Any], text: str) -> None:
    assert quantity_text(quantity) == text


def test_demo_extract_never_prints_an_abbreviated_unit(demo_data_dir: Path) -> None:
    from paperfallback.cache.store import CacheStore

    with CacheStore.open(demo_data_dir, "test-key-not-secret") as store:
        doses = [rx.dose for ward in store.wards() for record in store.ward_records(ward.code)
                 for rx in record.prescriptions]
    assert doses and any(d.endswith(" microgram") for d in doses)
    for dose in doses:
        assert not dose.endswith((" ug", " mcg", " U", " IU", " [iU]")), dose
