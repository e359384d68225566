"""Issue #13 item 12: one selection of what is exportable for the MAR, used by CSV/xlsx
and FHIR; every format carries the drug, the dose time and the omission label."""

from __future__ import annotations

from datetime import UTC, datetime

from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.samples import keyed_form, keyed_row, synthetic_patient
from paperfallback.export.tabular import COLUMNS, plan_tabular_export

KEYED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CONTEXT = {"drug": "Amoxicillin 500mg capsules", "dose": "500 mg", "route": "Oral",
           "dose_time": "08:00", "day_1": "2026-11-20", "day_2": "2026-11-21"}


def _mar() -> object:
    good = keyed_row("regular", 0, {"reg_given_1": "AB", "reg_given_2": "2"},
                     keyed_at=KEYED, source_ref="rx-1", context=CONTEXT)
    # day 3 has no printed or keyed date: the row cannot be dated, so it is held back
    undated = keyed_row("regular", 1, {"reg_given_1": "CD", "reg_given_3": "EF"},
                        keyed_at=KEYED, source_ref="rx-2",
                        context={**CONTEXT, "drug": "Ramipril 5mg capsules"})
    return keyed_form("mar", "MA12-0001", [good, undated], patient=synthetic_patient(4))


def test_csv_and_fhir_hold_back_the_same_rows_and_list_them() -> None:
    form = _mar()
    fhir = plan_fhir_export([form], SiteSystems.for_site("DEMO"), {}, all_entries=False,  # type: ignore[list-item]
                            pc_id="PC1", exported_at=KEYED)
    tabular = plan_tabular_export([form], {}, all_entries=False)  # type: ignore[list-item]
    assert fhir.problems and tabular.problems == fhir.problems
    assert "day column 3" in tabular.problems[0]
    exported_rows = {r["row"] for r in tabular.sheets["mar"]}
    assert exported_rows == {"1"}  # the undated row is in neither format
    drugs = {e.resource["medicationCodeableConcept"]["text"] for e in fhir.entries
             if e.resource["resourceType"] == "MedicationAdministration"}
    assert drugs == {"Amoxicillin 500mg capsules"}
    assert {m.unit_key for m in tabular.marks} == {"MA12-0001/regular/1"}


def test_every_format_carries_drug_dose_time_and_omission_label() -> None:
    tabular = plan_tabular_export([_mar()], {}, all_entries=False)  # type: ignore[list-item]
    assert {"drug", "dose_time"} <= set(COLUMNS)
    lines = {r["field_id"]: r for r in tabular.sheets["mar"]}
    given, omitted = lines["reg_given_1"], lines["reg_given_2"]
    for line in (given, omitted):
        assert line["drug"] == "Amoxicillin 500mg capsules 500 mg Oral"
        assert line["dose_time"] == "08:00"
    assert given["effective"] == "2026-11-20T08:00:00+00:00"
    assert omitted["effective"] == "2026-11-21T08:00:00+00:00"
    assert omitted["choice_label"] == "Omission code 2: Nil by mouth"
    fhir = plan_fhir_export([_mar()], SiteSystems.for_site("DEMO"), {},  # type: ignore[list-item]
                            all_entries=False, pc_id="PC1", exported_at=KEYED)
    administrations = [e.resource for e in fhir.entries
                       if e.resource["resourceType"] == "MedicationAdministration"]
    not_done = next(a for a in administrations if a["status"] == "not-done")
    assert not_done["statusReason"][0]["text"] == omitted["choice_label"]
    assert not_done["effectiveDateTime"].startswith("2026-11-21T08:00")
