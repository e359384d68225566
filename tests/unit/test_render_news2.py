"""NEWS2 on paper: each pre-filled value lands in the graph row whose shading is the score
the NEWS2 scorer gives it (RCP 2017 chart 1), oldest column first."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymupdf
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfallback.cache.store import CacheStore
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.domain.records import (
    Observation,
    ObservationKind,
    Patient,
    PatientRecord,
)
from paperfallback.formspec import ChartSection, load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.render.chart_section import _graph_row_for, time_points
from paperfallback.render.draw import SCORE_RGB
from paperfallback.settings import Settings

CHART = load_catalogue().get("news2").sections[0]
assert isinstance(CHART, ChartSection)
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _record(readings: list[dict[str, float | str]], scale: int | None) -> PatientRecord:
    obs = []
    for j, reading in enumerate(readings):
        when = T0 + timedelta(hours=j)
        for kind, value in reading.items():
            k = ObservationKind(kind)
            if isinstance(value, str):
                obs.append(Observation(f"{j}{kind}", "p", k, when, text=value))
            else:
                obs.append(Observation(f"{j}{kind}", "p", k, when, float(value)))
    patient = Patient("p", None, "H1", "Prys", "Ifan", None)
    return PatientRecord(patient, None, None, (), (), (), tuple(obs), spo2_scale=scale)


READING = st.fixed_dictionaries({
    "resp_rate": st.integers(4, 40),
    "spo2": st.integers(75, 100),
    "oxygen": st.sampled_from(["A", "O2"]),
    "sbp": st.integers(40, 250),
    "pulse": st.integers(20, 180),
    "acvpu": st.sampled_from(["A", "C", "V", "P", "U"]),
    "temp": st.integers(330, 415).map(lambda t: t / 10),
})


@settings(max_examples=150, deadline=None)
@given(reading=READING, scale=st.sampled_from([1, 2]))
def test_value_row_shading_equals_the_scorer(reading: dict[str, float | str],
                                             scale: int) -> None:
    record = _record([reading], scale)
    (point,) = time_points(record, CHART)
    expected = score(News2Observation(
        resp_rate=float(reading["resp_rate"]), spo2=float(reading["spo2"]),
        oxygen=str(reading["oxygen"]), sbp=float(reading["sbp"]),
        pulse=float(reading["pulse"]), acvpu=str(reading["acvpu"]),
        temp=float(reading["temp"]), spo2_scale=scale,
    )).components
    for row in CHART.layout_rows():
        if not row.graph or (row.score_table is None and row.spo2_scale is None):
            continue
        if row.spo2_scale is not None and row.spo2_scale != scale:
            continue
        index = _graph_row_for(row, CHART.field(row.field), point, "oxygen")
        assert index is not None, (row.field, reading)
        shaded = row.score_of(row.graph[index])
        assert shaded == expected[row.field], (row.field, row.graph[index].label, reading)
        assert shaded == 0 or shaded in SCORE_RGB


def test_time_points_are_oldest_first_with_device_and_scale() -> None:
    record = _record([
        {"resp_rate": 18, "oxygen": "A"},
        {"resp_rate": 22, "oxygen": "O2", "o2_flow": 2},
    ], scale=2)
    points = time_points(record, CHART)
    assert [p.values["resp_rate"] for p in points] == ["18", "22"]
    assert points[1].values["oxygen"] == "O2" and points[1].values["o2_flow"] == "2.0"
    assert all(p.values["spo2_scale"] == "2" for p in points)


def test_rcp_colours_are_red_orange_yellow() -> None:
    red, orange, yellow = SCORE_RGB[3], SCORE_RGB[2], SCORE_RGB[1]
    assert red[0] > red[1] and red[0] > red[2]  # red dominant
    assert orange[0] > orange[1] > orange[2]
    assert yellow[0] > 0.9 and yellow[1] > 0.85 and yellow[2] < 0.6


def test_printed_values_sit_on_the_colour_of_their_score(
    sample_data_dir: Path, sample_as_of: datetime
) -> None:
    """Read the rendered page back: each pre-filled value's cell colour is the RCP colour
    of the score the NEWS2 scorer gives that value (the sample patient is on Scale 2)."""
    buffer = io.BytesIO()
    with CacheStore.open(sample_data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        render_pack(PackRequest(patient_ids=("RM100001",), forms=("news2",)), store,
                    load_catalogue(), Settings(), out=buffer, allocate_ids=MemoryAllocator(),
                    now=sample_as_of)
    page = pymupdf.open(stream=buffer.getvalue(), filetype="pdf")[0]
    shaded = [(d["rect"], d["fill"]) for d in page.get_drawings()
              if d.get("fill") and any(_close(d["fill"], rgb) for rgb in SCORE_RGB.values())]
    spans = [s for block in page.get_text("dict")["blocks"] for line in block.get("lines", [])
             for s in line["spans"]]

    def centre_x(text: str) -> float:
        return next((s["bbox"][0] + s["bbox"][2]) / 2 for s in spans if s["text"] == text)

    def score_under(text: str, column: str) -> int:
        x = centre_x(column)
        span = min((s for s in spans if s["text"] == text),
                   key=lambda s: abs((s["bbox"][0] + s["bbox"][2]) / 2 - x))
        cx, cy = (span["bbox"][0] + span["bbox"][2]) / 2, (span["bbox"][1] + span["bbox"][3]) / 2
        for rect, fill in shaded:
            if rect.x0 <= cx <= rect.x1 and rect.y0 <= cy <= rect.y1:
                return next(k for k, rgb in SCORE_RGB.items() if _close(fill, rgb))
        return 0

    # the sample readings (conftest.sample_snapshot), 20:30, 00:30 and 04:30 UK time
    expected = {
        "20:30": {"18": 0, "93": 0, "A": 0, "128": 0, "88": 0, "37.1": 0},
        "00:30": {"22": 2, "90": 0, "O2": 2, "104": 1, "38.4": 1},
        "04:30": {"26": 3, "97": 3, "O2": 2, "88": 3, "132": 3, "C": 3, "39.4": 2},
    }
    for column, values in expected.items():
        for text, band in values.items():
            assert score_under(text, column) == band, (column, text)


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(abs(x - y) < 0.02 for x, y in zip(a, b, strict=True))


def test_a_set_stamped_minutes_apart_is_one_column() -> None:
    obs = (
        Observation("1", "p", ObservationKind.RESP_RATE, T0, 18.0),
        Observation("2", "p", ObservationKind.PULSE, T0 + timedelta(minutes=2), 80.0),
        Observation("3", "p", ObservationKind.TEMP, T0 + timedelta(minutes=4), 37.0),
        Observation("4", "p", ObservationKind.RESP_RATE, T0 + timedelta(minutes=5), 20.0),
        Observation("5", "p", ObservationKind.PULSE, T0 + timedelta(hours=1), 90.0),
    )
    record = PatientRecord(Patient("p", None, "H1", "Prys", "Ifan", None), None, None, (), (),
                           (), obs)
    points = time_points(record, CHART)
    assert [p.moment for p in points] == [T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=1)]
    assert points[0].values == {"resp_rate": "18", "pulse": "80", "temp": "37.0"}


def test_the_printed_scale_is_recorded_on_the_issued_form(
    sample_data_dir: Path, sample_as_of: datetime
) -> None:
    """The SpO2 scale is decided once, at print time, printed on the chart and recorded in
    the register; every later path scores the chart's columns on it (issue 11 item 2)."""
    buffer = io.BytesIO()
    with CacheStore.open(sample_data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        printed = render_pack(PackRequest(patient_ids=("RM100001",), forms=("news2", "mar")),
                              store, load_catalogue(), Settings(), out=buffer,
                              allocate_ids=MemoryAllocator(), now=sample_as_of)
        blank = render_pack(PackRequest(blank_form="news2"), store, load_catalogue(),
                            Settings(), out=io.BytesIO(), allocate_ids=MemoryAllocator(),
                            now=sample_as_of)
    scales = {i.form_id: i.spo2_scale for i in printed.issued}
    assert scales == {"news2": 2, "mar": None}  # the sample patient is on Scale 2
    assert "SpO2 scale recorded in the EPR: Scale 2." in \
        pymupdf.open(stream=buffer.getvalue(), filetype="pdf")[0].get_text()
    assert [i.spo2_scale for i in blank.issued] == [None]  # the nurse circles it on paper
