"""Every clinical code is defined once (paperfallback.domain.terminology) and is a real
code: SNOMED CT identifiers pass the Verhoeff check digit, LOINC codes the mod-10 check.

Audit defect (issue 11): the importer recognised the NEWS2 SpO2 scale 2 score by
1104321000000109, which fails the check digit; the exporter wrote the real
1104321000000108. An extract with the real code printed a scale 2 patient on Scale 1.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.domain import terminology as terms
from paperfallback.domain.news2_input import NEWS2_FIELDS, PARAMETERS
from paperfallback.domain.records import ObservationKind
from paperfallback.formspec import load_catalogue

PACKAGE = Path(__file__).resolve().parents[2] / "paperfallback"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WRONG_SCALE_2 = "1104321000000109"  # the code the importer and demo used before


def test_the_check_digit_functions_accept_known_codes_and_refuse_slips() -> None:
    assert terms.sctid_is_valid("138875005")  # SNOMED CT root concept
    assert terms.sctid_is_valid("1104321000000108")
    assert not terms.sctid_is_valid(WRONG_SCALE_2)
    assert not terms.sctid_is_valid("138875006") and not terms.sctid_is_valid("12a45")
    assert terms.loinc_is_valid("9279-1") and terms.loinc_is_valid("8867-4")
    assert not terms.loinc_is_valid("9279-2") and not terms.loinc_is_valid("92791")


def test_every_snomed_constant_passes_verhoeff_and_every_loinc_mod10() -> None:
    codes = terms.all_codes()
    snomed = [c.code for c in codes if c.system == terms.SNOMED]
    loinc = [c.code for c in codes if c.system == terms.LOINC]
    assert len(snomed) > 30 and len(loinc) > 15
    assert [c for c in snomed if not terms.sctid_is_valid(c)] == []
    assert [c for c in loinc if not terms.loinc_is_valid(c)] == []
    assert all(c.display for c in codes if c.system in (terms.SNOMED, terms.LOINC)
               and c.code not in terms.BP_PANEL_CODES)


def _form_codings() -> list[tuple[str, str, Any]]:
    out = []
    for form in load_catalogue():
        for section in form.sections:
            for spec in getattr(section, "fields", []):
                out += [(form.id, spec.id, c) for c in spec.code]
                out += [(form.id, spec.id, c) for choice in spec.choices for c in choice.coding]
    return out


def test_every_code_in_the_form_definitions_is_a_valid_code() -> None:
    codings = _form_codings()
    assert codings
    bad = [(form, field, c.code) for form, field, c in codings
           if (c.system == terms.SNOMED and not terms.sctid_is_valid(c.code))
           or (c.system == terms.LOINC and not terms.loinc_is_valid(c.code))]
    assert bad == []


def test_news2_form_codes_are_read_back_as_their_own_parameter() -> None:
    """A value exported with the form's codes and read back lands on the same row."""
    news2 = [(field, c) for form, field, c in _form_codings() if form == "news2"]
    for field_id, coding in news2:
        parameter = NEWS2_FIELDS.get(field_id, field_id)
        if field_id == "oxygen":
            assert terms.PARAMETER_OF_CODE[coding.code] == "oxygen"
        elif field_id == "acvpu" and coding.code in terms.ACVPU_OF_CODE:
            assert terms.ACVPU_OF_CODE[coding.code] == "A"
        else:
            assert terms.PARAMETER_OF_CODE[coding.code] == parameter, (field_id, coding.code)
    assert {p for p in PARAMETERS} <= {k.value for k in ObservationKind}


def test_no_code_literal_lives_outside_the_terminology_module() -> None:
    """One place: a SNOMED CT or LOINC code, or a code or NHS identifier system, written
    anywhere else in the package is a second copy that can drift (as the scale 2 code
    did). Comments may name them."""
    # (Synthetic NHS numbers, 999 000 0000-999 999 9999, are not codes.)
    literal = re.compile(r"[\"'](?:(?!999\d{7}[\"'])[1-9]\d{5,17}|\d{3,6}-\d|"
                         r"https?://(?:snomed\.info|loinc\.org|unitsofmeasure\.org|"
                         r"fhir\.nhs\.uk)[^\"']*)[\"']")
    found = [f"{path.relative_to(PACKAGE)}: {match.group()}"
             for path in PACKAGE.rglob("*.py") if path.name != "terminology.py"
             for line in path.read_text(encoding="utf-8").splitlines()
             for match in literal.finditer(line.split("#", 1)[0])]
    assert found == []


def _extract(tmp_path: Path, *observations: dict[str, Any]) -> Path:
    patient = {"resourceType": "Patient", "id": "a", "name": [{"family": "Ŵyn"}]}
    path = tmp_path / "extract.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in (patient, *observations)),
                    encoding="utf-8")
    return path


def _obs(oid: str, code: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": terms.SNOMED if "-" not in code else terms.LOINC,
                                 "code": code}]},
            "subject": {"reference": "Patient/a"},
            "effectiveDateTime": (NOW - timedelta(hours=1)).isoformat(), **value}


def _total_with_scale_component(code: str) -> dict[str, Any]:
    return _obs("news", terms.NEWS2_TOTAL.code, valueQuantity={"value": 3}, component=[
        {"code": {"coding": [{"system": terms.SNOMED, "code": code}]},
         "valueQuantity": {"value": 0}}])


@pytest.mark.parametrize("scale", [1, 2])
def test_an_extract_with_the_real_scale_code_prints_that_scale(tmp_path: Path,
                                                                 scale: int) -> None:
    code = terms.SPO2_SCALE_SCORE[scale].code
    snap = read_extract([_extract(tmp_path, _total_with_scale_component(code))], now=NOW)
    assert snap.spo2_scale == {"a": scale}


def test_the_invalid_legacy_scale_code_is_not_taken_for_scale_2(tmp_path: Path) -> None:
    """No source writes it (it fails the check digit; earlier demo data only): it is not a
    SNOMED CT concept, so it says nothing about the scale."""
    snap = read_extract([_extract(tmp_path, _total_with_scale_component(WRONG_SCALE_2))],
                        now=NOW)
    assert snap.spo2_scale == {}


def test_a_peak_flow_is_not_read_as_oxygen_flow(tmp_path: Path) -> None:
    """LOINC 19935-6 is the peak expiratory flow: it used to print as O2 450 L/min."""
    snap = read_extract([_extract(tmp_path, _obs("pef", terms.NOT_OXYGEN_FLOW.code,
                                                 valueQuantity={"value": 450}),
                                  _obs("flow", "3151-8", valueQuantity={"value": 2}))],
                        now=NOW)
    assert [(o.kind, o.value) for o in snap.observations] == [(ObservationKind.O2_FLOW, 2.0)]


def test_acvpu_is_read_from_its_code_its_letter_or_its_words() -> None:
    for letter, code in terms.ACVPU_VALUES.items():
        assert terms.acvpu_letter({code.code}, "") == letter
    assert terms.acvpu_letter(set(), " v ") == "V"
    assert terms.acvpu_letter(set(), "New confusion") == "C"
    assert terms.acvpu_letter(set(), "asleep") == ""


def test_units_print_as_the_forms_print_them() -> None:
    news2 = load_catalogue().get("news2")
    printed = {f.id: f.unit for s in news2.sections for f in getattr(s, "fields", []) if f.unit}
    for field_id, unit in printed.items():
        assert terms.PARAMETER_UNITS[NEWS2_FIELDS.get(field_id, field_id)].printed == unit
        assert unit in terms.PRINTED_UNITS


def test_every_code_written_in_the_tests_is_a_real_code() -> None:
    """The wrong scale 2 code survived because the tests used it too. A SNOMED CT concept
    id (partition 00 or 10 before the check digit) or a LOINC code written in any test
    must pass its check digit (this file, which names the wrong code on purpose, aside)."""
    tests = Path(__file__).resolve().parents[1]
    number = re.compile(r"[\"'](\d{6,18}|\d{3,6}-\d)[\"']")
    coded = re.compile(r"code|snomed|loinc|sct", re.IGNORECASE)
    bad, checked = [], 0
    for path in tests.rglob("*.py"):
        if path.name == Path(__file__).name:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for code in (c for line in lines if coded.search(line) and "nhs" not in line.lower()
                     for c in number.findall(line)):
            if "-" in code:
                ok = terms.loinc_is_valid(code)
            elif code[-3:-1] in ("00", "10") and code[0] != "0":
                ok = terms.sctid_is_valid(code)
            else:
                continue  # not a concept id (an NHS number, a count)
            checked += 1
            if not ok:
                bad.append(f"{path.relative_to(tests)}: {code}")
    assert bad == [] and checked > 40
