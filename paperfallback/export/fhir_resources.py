"""Build the FHIR R4 (UK Core) resources for one keyed paper form.

Each section of a form definition declares how it is exported (``export:`` in
forms/*.yaml); one builder per declaration, never per form id, so a site form exports
like a bundled one. A section that declares nothing becomes a QuestionnaireResponse, so
no keyed value is dropped on the way to the EPR:

- ``news2-vital-signs``: vital-sign Observations and the computed NEWS2 total (fhir_news2);
- ``observation``: an Observation per keyed value, at the row's declared time
  (fhir_measurements: fluid balance, site charts);
- ``medication-administration``: a MedicationAdministration per administration or omission;
- ``appointment-status``: the Appointment's status, as a FHIRPath Patch of ``status`` only
  (the EPR keeps everything else it holds), plus the row as a QuestionnaireResponse;
- ``procedure``: a Procedure per case outcome (done, or not-done with the reason);
- ``patient-encounter``: Patient + Encounter carrying the downtime number.

Each *unit* (a chart column, a table row, or a whole registration) gets one Provenance
saying who keyed it, when, from which paper form, entered retrospectively in downtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from paperfallback.export.fhir_charts import news2_units
from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    deterministic_id,
    full_url_for,
)
from paperfallback.export.fhir_lists import clinic_units, theatre_units
from paperfallback.export.fhir_measurements import observation_units
from paperfallback.export.fhir_medication import OMISSION_REASONS, mar_units
from paperfallback.export.fhir_registration import registration_units
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    keyed_at,
    questionnaire_rows,
)
from paperfallback.export.model import ExportedForm, KeyedRow, fhir_datetime

RETROSPECTIVE_TEXT = "Entered retrospectively from paper during downtime"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

SectionBuilder = Callable[[FormContext, list[KeyedRow]], list[BuiltUnit]]

# A section's ``export`` declaration -> its builder ("questionnaire-response": the rest).
_BUILDERS: dict[str, SectionBuilder] = {
    "news2-vital-signs": news2_units,
    "observation": observation_units,
    "medication-administration": mar_units,
    "appointment-status": clinic_units,
    "procedure": theatre_units,
    "patient-encounter": registration_units,
}


def build_form(
    form: ExportedForm, systems: SiteSystems, keyed_on: str = "",
    fingerprints: Mapping[str, str] | None = None,
) -> list[BuiltUnit]:
    """Every unit of ``form``, each with its resources and its Provenance.

    ``keyed_on``: the PC exporting, where the values were keyed (the paper may have been
    printed on another one); it makes each PC's Provenance its own.
    """
    ctx = FormContext(form, systems, keyed_on or form.pc_id, fingerprints or {})
    declared: dict[str, list[KeyedRow]] = {}
    for row in form.rows:
        declared.setdefault(form.export_of(row), []).append(row)
    units: list[BuiltUnit] = []
    for export, builder in _BUILDERS.items():
        if export in declared:
            units += builder(ctx, declared.pop(export))
    units += questionnaire_rows(ctx, [r for rows in declared.values() for r in rows])
    for unit in units:
        if unit.entries and not unit.problems:
            unit.entries.append(_provenance(ctx, unit))
    return units



def _provenance(ctx: FormContext, unit: BuiltUnit) -> BuiltEntry:
    form = ctx.form
    rows = [r for r in form.rows if f"{form.instance_id}/{r.key}" == unit.key] or list(form.rows)
    keyed_by = sorted({c for r in rows for c in r.keyed_by}) or list(form.keyed_by)
    targets = []
    for entry in unit.entries:
        if entry.method == "PATCH":
            targets.append({"reference": entry.url})
        else:
            targets.append({"reference": entry.full_url})
    printed = fhir_datetime(form.printed_at)
    agents: list[dict[str, Any]] = [{
        "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "enterer",
                             "display": "Enterer"}]},
        "who": {"display": f"Keyed from paper by {', '.join(keyed_by) or 'unknown clerk'} "
                           f"on PC {ctx.keyed_on}"},
    }]
    if form.verified_by:
        agents.append({
            "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "verifier",
                                 "display": "Verifier"}]},
            "who": {"display": f"Double entry resolved by {form.verified_by}"},
        })
    tag = deterministic_id(ctx.systems.entry, ctx.keyed_on, unit.key)
    tag_system = provenance_tag_system(ctx.systems)
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": tag_system, "code": tag,
                          "display": "PaperFallback keying provenance"}]},
        "target": targets,
        "recorded": keyed_at(ctx, rows).isoformat(timespec="seconds"),
        "activity": {
            "coding": [{"system": DATA_OPERATION, "code": "CREATE", "display": "create"}],
            "text": RETROSPECTIVE_TEXT,
        },
        "reason": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "TREAT", "display": "treatment"}],
            "text": RETROSPECTIVE_TEXT,
        }],
        "agent": agents,
        "entity": [{
            "role": "source",
            "what": {
                "identifier": {"system": ctx.systems.form_instance, "value": form.instance_id},
                "display": (f"Paper form '{form.form_title}' ({form.form_id} v{form.form_version}) "
                            f"instance {form.instance_id}, printed {printed} on PC {form.pc_id}, "
                            f"{unit.key.split('/', 1)[1]}"),
            },
        }],
    }
    # A conditional create like every other resource (some EPRs refuse a PUT with an id
    # the client chose). Provenance has no identifier element, so the match is on a tag.
    return BuiltEntry(resource, full_url_for("Provenance", tag), "POST", "Provenance",
                      f"_tag={quote(tag_system, safe=':/')}|{tag}", f"Provenance/{tag}")


def provenance_tag_system(systems: SiteSystems) -> str:
    """The tag system that identifies PaperFallback's Provenance per site (``_tag`` search):
    ``<base>/CodeSystem/keying-provenance/<site>``."""
    return systems.entry.replace("/Id/downtime-entry/", "/CodeSystem/keying-provenance/")


__all__ = ["OMISSION_REASONS", "RETROSPECTIVE_TEXT", "BuiltUnit", "build_form"]
