"""A site form cannot lose data on export (hazard log F-FORM-1).

A site form with a field of every type, in a section declared ``export: observation`` and
in one that declares nothing, keyed with a value (or "illegible") in every field: each
keyed value must be found in the FHIR Bundle (as an Observation value, a
QuestionnaireResponse answer, a time or a performer) and in the CSV rows. Only the roles
that say *when* and *who* become times and performers rather than values of their own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.fhir_resources import build_form
from paperfallback.export.model import ExportedForm, ValueState
from paperfallback.export.samples import keyed_row, synthetic_patient
from paperfallback.export.tabular import value_rows
from paperfallback.formspec import load_form

SITE_FORM = """\
id: site-every-type
version: "1.0"
title: Site form with every field type
scope: patient
sections:
  - id: checks
    kind: chart
    export: observation
    time_field: ck_time
    fields:
      - {id: ck_time, label: Checked at, type: datetime, role: observation_time}
      - {id: ck_score, label: Score, type: number, unit: "/min", min: 0, max: 99,
         code: [{system: "https://trust.example/cs", code: "score", display: Score}]}
      - {id: ck_side, label: Side, type: choice,
         choices: [{code: L, label: Left}, {code: R, label: Right}]}
      - {id: ck_text, label: Remark, type: text}
      - {id: ck_tick, label: Turned, type: tickbox}
      - {id: ck_day, label: Due, type: date}
      - {id: ck_at, label: Next at, type: time}
      - {id: ck_lines, label: Notes, type: lines, lines: 2}
      - {id: ck_blurred, label: Blurred, type: number}
      - {id: ck_initials, label: Initials, type: initials, role: performer}
  - id: plan
    kind: fields
    fields:
      - {id: pl_number, label: Turns, type: number}
      - {id: pl_choice, label: Mattress, type: choice,
         choices: [{code: A, label: Air}, {code: F, label: Foam}]}
      - {id: pl_text, label: Plan, type: lines}
      - {id: pl_day, label: Started, type: date}
      - {id: pl_signed, label: Signed, type: signature}
"""
CHECKS = {"ck_time": "2026-11-21T10:30", "ck_score": "17", "ck_side": "L",
          "ck_text": "red heel", "ck_tick": "yes", "ck_day": "2026-11-23", "ck_at": "14:00",
          "ck_lines": "dressing changed", "ck_blurred": "", "ck_initials": "AW"}
PLAN = {"pl_number": "2", "pl_choice": "F", "pl_text": "reposition 2-hourly",
        "pl_day": "2026-11-20", "pl_signed": "A Wyn"}


@pytest.fixture
def form(tmp_path: Path) -> ExportedForm:
    path = tmp_path / "site-every-type.yaml"
    path.write_text(SITE_FORM, encoding="utf-8")
    spec = load_form(path)
    rows = []
    for section, values in (("checks", CHECKS), ("plan", PLAN)):
        types = {f.id: f.type for f in spec.section(section).all_fields()}  # type: ignore[union-attr]
        rows.append(keyed_row(
            section, 0, values, types=types,
            units={"ck_score": "/min"},
            codes={"ck_score": tuple(spec.field("ck_score").code)},  # type: ignore[arg-type]
            states={"ck_blurred": ValueState.ILLEGIBLE}))
    return ExportedForm(
        instance_id="K7-00001-X", form_id=spec.id, form_version=spec.version,
        form_title=spec.title, patient=synthetic_patient(3),
        printed_at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC), pc_id="W7A", site_code="DEMO",
        rows=tuple(rows), spec=spec)


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [str(node)]


def test_every_keyed_value_of_a_site_form_reaches_the_fhir_export(form: ExportedForm) -> None:
    units = build_form(form, SiteSystems.for_site("DEMO"))
    assert units and all(not u.problems for u in units), [u.problems for u in units]
    resources = [e.resource for u in units for e in u.entries]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    by_field = {r["code"]["coding"][0]["code"].rsplit("/", 1)[-1]: r for r in observations}
    assert by_field["score"]["valueQuantity"]["value"] == 17
    assert by_field["ck_side"]["valueCodeableConcept"]["text"] in ("L", "Left")
    assert by_field["ck_blurred"]["dataAbsentReason"]["text"] == "Illegible on the paper form"
    for field_id in ("ck_text", "ck_tick", "ck_day", "ck_at", "ck_lines"):
        assert by_field[field_id]["valueString"] == CHECKS[field_id], field_id
    assert {r["effectiveDateTime"][:16] for r in observations} == {"2026-11-21T10:30"}
    assert all("AW" in r["performer"][0]["display"] for r in observations)
    assert "ck_time" not in by_field and "ck_initials" not in by_field  # when and who
    text = json.dumps(resources, ensure_ascii=False)
    for value in PLAN.values():  # the undeclared section: a QuestionnaireResponse
        assert value in _strings(resources) or value in text, value
    answered = {i["linkId"] for r in resources if r["resourceType"] == "QuestionnaireResponse"
                for group in r["item"] for i in group["item"]}
    assert answered == set(PLAN)


def test_every_keyed_value_of_a_site_form_reaches_the_csv(form: ExportedForm) -> None:
    rows = [r for row in form.rows for r in value_rows(form, row)]
    exported = {r["field_id"]: r for r in rows}
    for field_id, value in {**CHECKS, **PLAN}.items():
        assert field_id in exported, field_id
        if field_id != "ck_blurred":
            assert exported[field_id]["value"] == value, field_id
    assert exported["ck_blurred"]["state"] == "illegible"
    assert exported["ck_score"]["effective"].startswith("2026-11-21T10:30")
