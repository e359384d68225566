"""A site MAR whose every section id and field id differs from the bundled one exports
the same doses: nothing reads the MAR by its ids (issue #11, "the YAML declares what the
code infers").

The site form is forms/mar.yaml with every section, field and day-column id renamed
(same roles, same ``export`` and ``medicines`` declarations) in a temporary folder listed
in ``settings.json`` (``form_dirs``). Both MARs are printed for the same patient, keyed
with the same values through the keying service (regular doses given and omitted, a
PRN dose, an infusion started and stopped), refused the same wrong values, and exported
to FHIR (every resource validated with fhir.resources) and to CSV: the
MedicationAdministrations and the CSV rows are the same, ids apart.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from paperfallback.cache.staleness import UK
from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.export.pipeline import run_export
from paperfallback.formspec import site_catalogue
from paperfallback.reentry.keying_service import KeyingService, OpenForm
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register
from paperfallback.render.pack import PackRequest, render_pack
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

KEY = os.environ.get("PAPERFALLBACK_KEY", "test-key-not-secret")
BUNDLED_MAR = Path(__file__).resolve().parents[2] / "forms" / "mar.yaml"


def _renamed_mar(folder: Path) -> dict[str, str]:
    """forms/mar.yaml with every id renamed; returns new id -> bundled id."""
    spec = yaml.safe_load(BUNDLED_MAR.read_text(encoding="utf-8"))
    names: dict[str, str] = {}

    def rename(item: dict[str, Any], prefix: str) -> None:
        new = f"{prefix}{len(names) + 1:02d}"
        names[new] = item["id"]
        item["id"] = new

    spec["id"] = "site-mar"
    spec["title"] = "Site medicines chart"
    for section in spec["sections"]:
        rename(section, "part")
        for field in section["fields"]:
            rename(field, "cell")
        repeat = section.get("repeat")
        if repeat:
            for field in repeat["fields"]:
                rename(field, "cell")
            if repeat.get("day_field"):
                rename(repeat["day_field"], "when")
    folder.mkdir()
    (folder / "site-mar.yaml").write_text(yaml.safe_dump(spec, sort_keys=False),
                                          encoding="utf-8")
    assert not set(names) & set(names.values())
    return names


def _print(data_dir: Path, now: datetime) -> dict[str, IssuedForm]:
    settings = Settings.load(data_dir)
    catalogue = site_catalogue(settings.form_dirs, data_dir)
    with CacheStore.open(data_dir, KEY) as cache:
        conn = WorkStore.open(data_dir, KEY)
        try:
            register = Register(conn, pc_code="T1")
            result = render_pack(PackRequest(patient_ids=("RM100001",),
                                             forms=("mar", "site-mar")),
                                 cache, catalogue, settings, out=data_dir / "mars.pdf",
                                 allocate_ids=register, now=now)
            register.record(result.issued)
        finally:
            conn.close()
    return {i.form_id: i for i in result.issued}


def _key(form: OpenForm, ids: dict[str, str], day1: date, printed: datetime) -> None:
    """The same paper, keyed by bundled ids translated to the form's own."""
    back = {old: new for new, old in ids.items()} if ids else {}

    def at(section: str, row: int, field: str, text: str) -> None:
        base, _, day = field.rpartition("_") if field[-1].isdigit() else (field, "", "")
        own = f"{back.get(base, base)}_{day}" if day else back.get(field, field)
        form.enter(back.get(section, section), row, own, text)

    def moment(hours: float) -> str:
        return (printed + timedelta(hours=hours)).astimezone(UK).strftime("%d/%m/%Y %H:%M")

    at("allergy_box", 0, "allergy_checked_by", "GL")
    at("allergy_box", 0, "weight_kg", "61.5")
    for row in range(4):  # Amoxicillin 08:00, 14:00, 22:00, Enoxaparin 18:00
        at("regular", row, "reg_given_1", "2" if row == 1 else "SJ")
    at("regular", 0, "reg_given_2", "AB")
    # the same wrong values are refused, by role: a code not on the legend, a dose dated
    # after the keying (day 7 is in the future)
    with pytest.raises(InputError, match="not an omission code"):
        at("regular", 0, "reg_given_3", "9")
    with pytest.raises(InputError, match="after it was keyed"):
        at("regular", 0, "reg_given_7", "SJ")
    at("prn", 0, "prn_time_1", moment(5))
    at("prn", 0, "prn_given_dose_1", "1 g")
    at("prn", 0, "prn_initials_1", "GH")
    at("prn", 0, "prn_time_2", moment(11))
    at("prn", 0, "prn_initials_2", "GH")
    at("once_infusions", 0, "once_started", moment(1))
    at("once_infusions", 0, "once_stopped", moment(9))
    at("once_infusions", 0, "once_initials", "SJ")
    at("once_infusions", 0, "once_checked", "AB")
    assert form.finish(confirmed=True).done


def _validated(path: Path) -> list[dict[str, Any]]:
    bundle: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resources


def _administrations(resources: list[dict[str, Any]], instance: str) -> list[str]:
    """The form's MedicationAdministrations without their entry identifiers (which name
    the form, field and row on the paper), as sorted JSON."""
    found = []
    for r in resources:
        if r["resourceType"] != "MedicationAdministration":
            continue
        if not r["identifier"][0]["value"].startswith(f"{instance}/"):
            continue
        found.append(json.dumps({k: v for k, v in r.items() if k != "identifier"},
                                sort_keys=True))
    return sorted(found)


def _csv_rows(path: Path, ids: dict[str, str]) -> list[tuple[str, ...]]:
    """CSV rows with form and instance ids left out and section / field ids translated
    back to the bundled ones."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))

    def bundled(field_id: str) -> str:
        base, _, n = field_id.rpartition("_")
        if n.isdigit() and base in ids:
            return f"{ids[base]}_{n}"
        return ids.get(field_id, field_id)

    out = []
    for row in rows:
        row = {**row, "section": ids.get(row["section"], row["section"]),
               "field_id": bundled(row["field_id"])}
        out.append(tuple(v for k, v in row.items()
                         if k not in ("form_instance_id", "form_id", "keyed_at")))
    return sorted(out)


def test_a_site_mar_with_other_ids_exports_the_same_doses(
    sample_data_dir: Path, tmp_path: Path,
) -> None:
    ids = _renamed_mar(tmp_path / "site-forms")
    (sample_data_dir / "settings.json").write_text(
        json.dumps({"form_dirs": [str(tmp_path / "site-forms")], "pc_code": "T1"}),
        encoding="utf-8")
    printed = (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
    issued = _print(sample_data_dir, printed)
    site, bundled = issued["site-mar"], issued["mar"]
    part = {old: new for new, old in ids.items()}
    assert [r.split(":", 1)[1] for r in site.rows if r.startswith(part["regular"] + ":")] \
        == [r.split(":", 1)[1] for r in bundled.rows if r.startswith("regular:")]
    day1 = printed.astimezone(UK).date()

    settings = Settings.load(sample_data_dir)
    conn = WorkStore.open(sample_data_dir, KEY)
    try:
        service = KeyingService(EntriesStore(conn), Register(conn, pc_code="T1"),
                                site_catalogue(settings.form_dirs, sample_data_dir))
        _key(service.open(bundled.instance_id, "Siân Jones"), {}, day1, printed)
        _key(service.open(site.instance_id, "Siân Jones"), ids, day1, printed)
    finally:
        conn.close()

    bundle_path = tmp_path / "bundle.json"
    summary = run_export(sample_data_dir, settings, KEY, "env", "fhir", bundle_path)
    assert not summary.problems, summary.problems
    resources = _validated(bundle_path)
    mine = _administrations(resources, site.instance_id)
    theirs = _administrations(resources, bundled.instance_id)
    assert mine == theirs
    given = [json.loads(r) for r in theirs]
    # 4 doses on day 1 (one omitted), 1 on day 2, 2 PRN doses, 1 infusion
    assert len(given) == 8
    omitted = [g for g in given if g["status"] == "not-done"]
    assert [g["statusReason"][0]["text"] for g in omitted] == ["Omission code 2: Nil by mouth"]
    assert omitted[0]["effectiveDateTime"] == datetime.combine(
        day1, time(14, 0), tzinfo=UK).isoformat()
    infusion = next(g for g in given if "effectivePeriod" in g)
    assert infusion["medicationCodeableConcept"]["text"] == "Sodium chloride 0.9%"
    assert infusion["note"][0]["text"].startswith("Checked by (initials on the paper MAR): AB")
    prn = sorted(g["effectiveDateTime"] for g in given
                 if g["medicationCodeableConcept"]["text"] == "Paracetamol")
    assert prn == [(printed + timedelta(hours=h)).astimezone(UK).isoformat()
                   for h in (5, 11)]

    out = tmp_path / "csv"
    summary = run_export(sample_data_dir, settings, KEY, "env", "csv", out, all_entries=True)
    assert not summary.problems, summary.problems
    site_rows = _csv_rows(out / "site-mar.csv", ids)
    bundled_rows = _csv_rows(out / "mar.csv", {})
    assert site_rows == bundled_rows
    assert len(bundled_rows) == 2 + 5 + 5 + 4  # allergy box, doses, PRN log, infusion
