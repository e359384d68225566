"""The form catalogue loads, and a bad definition says file, key path and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.domain.news2 import band_score, spo2_bands
from paperfallback.formspec import load_catalogue, load_form
from paperfallback.formspec.models import ChartSection, json_schema
from paperfallback.resources import forms_dir

CATALOGUE = [
    "clinic-list", "continuation", "downtime-registration", "fluid-balance", "handover",
    "mar", "news2", "theatre-list",
]

NEWS2_IDS = [
    "obs_time", "resp_rate", "spo2", "spo2_scale", "oxygen", "o2_device", "o2_flow", "sbp",
    "dbp", "pulse", "acvpu", "temp", "news2_total", "monitoring_frequency", "escalation",
    "initials",
]


def test_catalogue_has_the_eight_forms() -> None:
    catalogue = load_catalogue()
    assert catalogue.ids() == CATALOGUE
    assert catalogue.get("downtime-registration").scope == "blank"
    assert catalogue.get("handover").scope == "ward"
    assert catalogue.get("clinic-list").scope == "clinic-day"
    assert catalogue.get("theatre-list").scope == "theatre-day"


def test_news2_keyed_field_ids_are_exact() -> None:
    news2 = load_catalogue().get("news2")
    assert [f.id for _s, f in news2.fields()] == NEWS2_IDS
    assert news2.field("acvpu").choices[4].code == "U"
    assert [c.code for c in news2.field("oxygen").choices] == ["A", "O2"]
    assert [c.code for c in news2.field("spo2_scale").choices] == ["1", "2"]
    codes = {c.code for c in news2.field("resp_rate").code}
    assert codes == {"9279-1", "86290005"}
    assert news2.field("news2_total").code[0].code == "1104051000000101"


def test_news2_graph_rows_shade_as_the_scorer_scores() -> None:
    """Every integer (or 0.1 degC) a graph row covers scores what the row is shaded as."""
    chart = load_catalogue().get("news2").sections[0]
    assert isinstance(chart, ChartSection)
    checked = 0
    for row in chart.layout_rows():
        for graph_row in row.graph:
            shade = row.score_of(graph_row)
            if graph_row.choice is not None or shade is None:
                continue
            low = 0.0 if graph_row.low is None else graph_row.low
            high = 300.0 if graph_row.high is None else graph_row.high
            step = 0.1 if row.field == "temp" else 1.0
            value = low
            while value <= high + 1e-9:
                if row.field == "spo2" and row.spo2_scale == 2:
                    on_o2 = graph_row.when_oxygen == "O2"
                    expected = next(b.score for b in spo2_bands(2, on_o2) if value <= b.high)
                else:
                    table = graph_row.score_table or row.score_table
                    assert table is not None
                    expected = band_score(table, round(value, 1))
                assert shade == expected, (row.field, graph_row.label, value)
                checked += 1
                value += step
    assert checked > 400


def test_every_chart_has_at_least_eight_blank_columns() -> None:
    for form in load_catalogue():
        for chart in form.charts():
            if chart.axis == "columns":
                assert chart.blank_columns >= 8


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_field_type_names_file_key_path_and_reason(tmp_path: Path) -> None:
    text = (forms_dir() / "continuation.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, "continuation", text.replace("type: signature", "type: signatur"))
    with pytest.raises(InputError) as err:
        load_form(path)
    message = str(err.value)
    assert str(path) in message
    assert "sections[0].fields[2].type" in message
    assert "signature" in message  # the reason lists what is allowed


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    text = (forms_dir() / "continuation.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, "continuation", text.replace("line_height_mm: 8", "line_hight_mm: 8"))
    with pytest.raises(InputError, match=r"sections\[0\]\.line_hight_mm: Extra inputs"):
        load_form(path)


def test_graph_row_spanning_two_bands_is_refused(tmp_path: Path) -> None:
    text = (forms_dir() / "news2.yaml").read_text(encoding="utf-8")
    bad = text.replace('{label: "18–20", low: 18, high: 20}', '{label: "18–22", low: 18, high: 22}')
    assert bad != text
    path = _write(tmp_path, "news2", bad)
    with pytest.raises(InputError, match=r"sections\[0\]: .*rows\[0\]\.graph\[2\].*more than one"):
        load_form(path)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken", "id: broken\ntitle: [unclosed\n")
    with pytest.raises(InputError, match=r"broken.yaml:\d+: not valid YAML"):
        load_form(path)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    text = (forms_dir() / "continuation.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, "notes", text)
    with pytest.raises(InputError, match="must match the file name 'notes'"):
        load_form(path)


def test_unknown_form_lists_known_ones() -> None:
    with pytest.raises(InputError, match="forms are: clinic-list, continuation"):
        load_catalogue().get("news3")


def test_json_schema_export_is_json() -> None:
    schema = json_schema()
    assert "sections" in json.dumps(schema)
    assert schema["title"] == "FormSpec"


def test_published_json_schema_is_current() -> None:
    """docs/forms/form.schema.json is what the models say (docs/forms/make_previews.py
    regenerates it with the previews)."""
    published = Path(__file__).resolve().parents[2] / "docs" / "forms" / "form.schema.json"
    assert json.loads(published.read_text(encoding="utf-8")) == json_schema()
