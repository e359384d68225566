"""Site forms listed in settings.json (form_dirs) join the catalogue every command uses,
and the YAML declares what code used to infer from ids (roles, export, bold)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue, load_form, site_catalogue
from paperfallback.resources import forms_dir

SITE_FORM = """\
id: site-check
version: "1.0"
title: Site check
scope: patient
sections:
  - id: checks
    kind: chart
    time_field: ck_time
    export: observation
    fields:
      - {id: ck_time, label: Time, type: datetime, role: observation_time}
      - {id: ck_score, label: Score, type: number, min: 0, max: 40}
"""


def _data_dir(tmp_path: Path, form_dirs: list[str]) -> Path:
    data = tmp_path / "pf-data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps({"form_dirs": form_dirs}), encoding="utf-8")
    return data


def test_a_form_dirs_folder_joins_the_app_catalogue(tmp_path: Path) -> None:
    site = tmp_path / "site-forms"
    site.mkdir()
    (site / "site-check.yaml").write_text(SITE_FORM, encoding="utf-8")
    ctx = AppContext(data_dir_option=str(_data_dir(tmp_path, [str(site)])))
    assert "site-check" in ctx.catalogue
    assert {"news2", "mar"} <= set(ctx.catalogue.ids())  # the bundled forms stay
    assert ctx.catalogue.problems == []


def test_a_relative_form_dir_is_under_the_data_folder(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, ["site"])
    (data / "site").mkdir()
    (data / "site" / "site-check.yaml").write_text(SITE_FORM, encoding="utf-8")
    assert "site-check" in AppContext(data_dir_option=str(data)).catalogue


def test_a_broken_site_form_is_left_out_and_named_the_rest_still_print(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "site-check.yaml").write_text(SITE_FORM.replace("type: number", "type: numbr"),
                                          encoding="utf-8")
    catalogue = site_catalogue([str(site), str(tmp_path / "missing")], tmp_path)
    assert "site-check" not in catalogue and "news2" in catalogue
    assert any("site-check.yaml" in p and "fields[1].type" in p for p in catalogue.problems)
    assert any("missing" in p and "does not exist" in p for p in catalogue.problems)


def test_an_explicit_forms_dir_still_stops_on_a_mistake(tmp_path: Path) -> None:
    (tmp_path / "site-check.yaml").write_text(SITE_FORM.replace("type: number", "type: numbr"),
                                              encoding="utf-8")
    with pytest.raises(InputError, match=r"site-check\.yaml"):
        site_catalogue([], tmp_path, tmp_path)


def test_bundled_forms_declare_roles_exports_and_bold() -> None:
    forms = load_catalogue()
    news2 = forms.get("news2")
    assert news2.section("observations").export == "news2-vital-signs"  # type: ignore[union-attr]
    assert news2.news2_fields("observations")["total"] == "news2_total"
    assert news2.field("news2_total").bold
    assert forms.get("downtime-registration").role_field("patient.nhs_number") is not None
    assert forms.get("mar").role_field("drug", "regular") is not None
    fluid = forms.get("fluid-balance")
    assert [f.id for _s, f in fluid.fields() if f.role == "running_total"] == [
        "in_running", "out_running", "balance_running"]


@pytest.mark.parametrize(("change", "message"), [
    ("role: observation_time}\n      - {id: ck_score, label: Score, type: number, min: 0, max: 40}",
     None),
    ("role: observation_time}\n      - {id: ck_score, label: Score, role: observation_time}",
     "both have role 'observation_time'"),
])
def test_a_role_names_one_field_per_section(tmp_path: Path, change: str,
                                             message: str | None) -> None:
    text = SITE_FORM.replace(
        "role: observation_time}\n      - {id: ck_score, label: Score, type: number, min: 0, "
        "max: 40}", change)
    path = tmp_path / "site-check.yaml"
    path.write_text(text, encoding="utf-8")
    if message is None:
        load_form(path)
        return
    with pytest.raises(InputError, match=message):
        load_form(path)


def test_an_observation_section_must_say_when(tmp_path: Path) -> None:
    path = tmp_path / "site-check.yaml"
    path.write_text(SITE_FORM.replace(", role: observation_time", ""), encoding="utf-8")
    with pytest.raises(InputError, match="no field says when"):
        load_form(path)


def test_a_news2_export_needs_the_news2_roles() -> None:
    text = (forms_dir() / "news2.yaml").read_text(encoding="utf-8")
    broken = text.replace("role: news2.pulse", "role: performer").replace(
        "{id: initials, role: performer, ", "{id: initials, ")
    assert broken != text
    spec = yaml_load(broken)
    with pytest.raises(ValueError, match=r"news2\.pulse"):
        spec()


@pytest.mark.parametrize(("old", "new", "message"), [
    # a MAR section must say what its drug rows record
    ("    medicines: as-required  # a log of the doses given, each with its time\n", "",
     "does not say what its rows record: add medicines"),
    # ... with the roles that kind needs, in the right place
    ("{id: reg_given, role: administration,", "{id: reg_given,",
     r"needs a field with role administration \(in repeat\)"),
    ("{id: reg_time, role: dose_time,", "{id: reg_time,",
     r"needs a field with role dose_time \(not repeated\)"),
    ("{id: prn_time, role: administered_at,", "{id: prn_time,",
     r"as-required medicines\) needs a field with role administered_at \(in repeat"),
    ("{id: once_started, role: administered_at,", "{id: once_started,",
     r"needs a field with role administered_at \(not repeated\)"),
    ("      print_dates: true\n      day_field: {id: day_date,", "      # {id: day_date,",
     "needs a repeat with a day_field"),
    ("    export: medication-administration\n    medicines: once-only",
     "    medicines: once-only",
     "declares medicines but is exported as 'questionnaire-response'"),
])
def test_a_mar_section_declares_what_its_rows_record(old: str, new: str, message: str) -> None:
    """What the exporter used to infer from the MAR's section and field ids is declared
    (``medicines:`` and roles) and checked when the form is loaded."""
    text = (forms_dir() / "mar.yaml").read_text(encoding="utf-8")
    assert old in text
    spec = yaml_load(text.replace(old, new))
    with pytest.raises(ValueError, match=message):
        spec()


def test_the_bundled_mar_declares_its_drug_rows() -> None:
    mar = load_catalogue().get("mar")
    assert {s.id: mar.medicines(s.id) for s in mar.sections} == {
        "allergy_box": None, "regular": "scheduled", "prn": "as-required",
        "once_infusions": "once-only"}
    assert {r: f.id for r in ("administered_at", "dose_given", "performer")
            if (f := mar.role_field(r, "prn")) is not None} == {
        "administered_at": "prn_time", "dose_given": "prn_given_dose",
        "performer": "prn_initials"}
    assert [mar.role_field(r, "once_infusions").id  # type: ignore[union-attr]
            for r in ("administered_at", "stopped_at", "performer", "checked_by")] == [
        "once_started", "once_stopped", "once_initials", "once_checked"]


def yaml_load(text: str):  # type: ignore[no-untyped-def]
    import yaml

    from paperfallback.formspec import FormSpec

    raw = yaml.safe_load(text)
    return lambda: FormSpec.model_validate(raw)


def test_the_cli_warns_and_self_test_fails_on_a_broken_site_form(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paperfallback.cli.main import main
    from paperfallback.cli.selftest_cmd import Failed, SelfTest

    site = tmp_path / "site"
    site.mkdir()
    (site / "site-check.yaml").write_text(SITE_FORM.replace("kind: chart", "kind: chrt"),
                                          encoding="utf-8")
    data = _data_dir(tmp_path, [str(site)])
    out = tmp_path / "blank.pdf"
    assert main(["--data-dir", str(data), "print", "--blank", "continuation",
                 "--out", str(out)]) == 0
    assert "warning: site form left out" in capsys.readouterr().err and out.exists()
    with pytest.raises(Failed, match=r"site-check\.yaml"):
        SelfTest(AppContext(data_dir_option=str(data)), None).forms()


def test_a_bad_settings_file_still_gives_the_bundled_forms(tmp_path: Path) -> None:
    data = tmp_path / "pf-data"
    data.mkdir()
    (data / "settings.json").write_text('{"stale_minutes": "sixty"}', encoding="utf-8")
    ctx = AppContext(data_dir_option=str(data))
    assert "news2" in ctx.catalogue and ctx.catalogue.problems == []


def test_codes_by_name_come_from_the_terminology_module(tmp_path: Path) -> None:
    from paperfallback.domain.terminology import NEWS2_TOTAL, URINE_OUTPUT, VITAL_CODES

    forms = load_catalogue()
    assert [(c.system, c.code) for c in forms.get("fluid-balance").field("out_urine").code] \
        == [(URINE_OUTPUT.system, URINE_OUTPUT.code)]
    assert forms.get("news2").field("news2_total").code[0].display == NEWS2_TOTAL.display
    path = tmp_path / "site-check.yaml"
    path.write_text(SITE_FORM.replace("max: 40}", "max: 40, code: [VITAL_CODES.sbp]}"),
                    encoding="utf-8")
    assert [c.code for c in load_form(path).field("ck_score").code] == [
        c.code for c in VITAL_CODES["sbp"]]
    path.write_text(SITE_FORM.replace("max: 40}", "max: 40, code: [VITAL_CODES.sbpp]}"),
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"fields\[1\]\.code.*'VITAL_CODES\.sbpp' is not a code"):
        load_form(path)


def test_running_totals_are_declared_not_guessed_from_ids(tmp_path: Path) -> None:
    from paperfallback.reentry.layout import form_layout
    from paperfallback.reentry.running_totals import running_fields

    fluid = form_layout(load_catalogue().get("fluid-balance")).section("hours")
    assert running_fields(fluid) == {
        "in_running": ("in_oral", "in_iv1", "in_iv2", "in_other"),
        "out_running": ("out_urine", "out_vomit", "out_drain", "out_other")}
    site = SITE_FORM.replace(
        "      - {id: ck_score, label: Score, type: number, min: 0, max: 40}\n",
        "      - {id: ck_score, label: Score, type: number, min: 0, max: 40}\n"
        "      - {id: ck_extra, label: Extra, type: number}\n"
        "      - {id: ck_sum, label: Total so far, type: number, role: running_total,"
        " sums: [ck_score, ck_extra]}\n"
        "      - {id: ck_running, label: Not a total, type: number}\n")
    path = tmp_path / "site-check.yaml"
    path.write_text(site, encoding="utf-8")
    checks = form_layout(load_form(path)).section("checks")
    assert running_fields(checks) == {"ck_sum": ("ck_score", "ck_extra")}
    path.write_text(site.replace("sums: [ck_score, ck_extra]", "sums: [ck_score, ck_nope]"),
                    encoding="utf-8")
    with pytest.raises(InputError, match="sums ck_nope"):
        load_form(path)
