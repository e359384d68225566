"""Audit defect: the next NEWS2 chart printed a keyed column's handwritten total (5) alone
while its keyed parameters score 10, and plotted it on the EPR's SpO2 scale (2) although
the nurse keyed Scale 1. The chart must show the computed total, flag the paper's, and
plot and label each column on its own scale; the handover's latest NEWS2 is the computed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pymupdf

from paperfallback.cache.staleness import UK, utc_now
from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.register import Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
# RCP NEWS2 chart 1 on Scale 1: RR 25 -> 3, SpO2 93 -> 2, air 0, SBP 101 -> 1, pulse 118
# -> 2, alert 0, temperature 39.1 -> 2: total 10 (on Scale 2, SpO2 93 on air scores 0: 8).
KEYED = {"resp_rate": "25", "spo2": "93", "spo2_scale": "1", "oxygen": "A", "sbp": "101",
         "dbp": "64", "pulse": "118", "acvpu": "A", "temp": "39.1", "news2_total": "5",
         "initials": "SW"}


def _words(page: pymupdf.Page) -> list[tuple[float, float, float, float, str]]:
    return [(w[0], w[1], w[2], w[3], w[4]) for w in page.get_text("words")]


def _centre_y(word: tuple[float, float, float, float, str]) -> float:
    return (word[1] + word[3]) / 2


def test_keyed_column_prints_the_computed_total_on_its_own_scale(
        demo_data_dir: Path, tmp_path: Path) -> None:
    with CacheStore.open(demo_data_dir, KEY) as store:
        patient = store.find_patient("DH100001")
        assert store.patient_record(patient.id).spo2_scale == 2  # the EPR's scale
        ward_code = store.patient_record(patient.id).stay.ward_code  # type: ignore[union-attr]
    argv = ["--data-dir", str(demo_data_dir), "print"]
    assert main([*argv, "--patient", "DH100001", "--forms", "news2",
                 "--out", str(tmp_path / "first.pdf")]) == 0
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        issued = Register(conn, pc_code="T1").list(form_id="news2", patient_id=patient.id)[-1]
        session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                                issued, clerk="Ann", ctx=KeyingContext(issued.printed_at))
        when = (utc_now() - timedelta(minutes=3)).replace(second=0, microsecond=0)
        session.enter("observations", 0, "obs_time", when.isoformat())
        for field_id, value in KEYED.items():
            session.enter("observations", 0, field_id, value)
    finally:
        conn.close()

    second = tmp_path / "second.pdf"
    assert main([*argv, "--patient", "DH100001", "--forms", "news2", "--out", str(second)]) == 0
    page = pymupdf.open(second)[0]
    text = page.get_text()
    words = _words(page)
    header = "P " + when.astimezone(UK).strftime("%d-%b")
    [rect] = page.search_for(header)
    column = [w for w in words if rect.x0 - 2 <= (w[0] + w[2]) / 2 <= rect.x1 + 2]
    in_column = {w[4] for w in column}
    assert "10≠" in in_column  # the computed total, flagged
    assert "5" not in in_column  # never the handwritten total alone
    assert "paper total differed" in text and "paper 5" in text and "see discrepancy" in text

    # Plotted on Scale 1: SpO2 93 in the Scale 1 "92–93" row, not Scale 2's "≥93 on air".
    [spo2] = [w for w in column if w[4] == "93"]
    [band] = [w for w in words if w[4] == "92–93" and w[0] < rect.x0]
    assert abs(_centre_y(spo2) - _centre_y(band)) < 2
    # "Scale used": 1 in the keyed column; the EPR columns keep the EPR's 2.
    [scale_label] = page.search_for("Scale used")
    row_y = (scale_label.y0 + scale_label.y1) / 2
    scales = sorted((w[0], w[4]) for w in words
                    if abs(_centre_y(w) - row_y) < 2 and w[0] > scale_label.x1 + 20)
    keyed_scale = [s for x, s in scales if rect.x0 - 2 <= x <= rect.x1 + 2]
    assert keyed_scale == ["1"]
    assert {s for x, s in scales if x < rect.x0 - 2} == {"2"}

    handover = tmp_path / "handover.pdf"
    assert main([*argv, "--ward", ward_code, "--forms", "handover", "--no-cover",
                 "--out", str(handover)]) == 0
    handover_text = " ".join(
        " ".join(p.get_text() for p in pymupdf.open(handover)).split())
    assert f"P 10 at {when.astimezone(UK):%H:%M %d-%b}" in handover_text
    assert f"P 5 at {when.astimezone(UK):%H:%M %d-%b}" not in handover_text


def test_a_paper_total_that_cannot_be_checked_prints_flagged(
        demo_data_dir: Path, tmp_path: Path) -> None:
    """Temperature illegible: the handwritten 6 cannot be checked, so it prints as "6?"
    with its footnote (hiding it could hide a deterioration), never as a plain total."""
    argv = ["--data-dir", str(demo_data_dir), "print"]
    with CacheStore.open(demo_data_dir, KEY) as store:
        patient = store.find_patient("DH100001")
    assert main([*argv, "--patient", "DH100001", "--forms", "news2",
                 "--out", str(tmp_path / "first.pdf")]) == 0
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        issued = Register(conn, pc_code="T1").list(form_id="news2", patient_id=patient.id)[-1]
        session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                                issued, clerk="Ann", ctx=KeyingContext(issued.printed_at))
        when = (utc_now() - timedelta(minutes=2)).replace(second=0, microsecond=0)
        session.enter("observations", 0, "obs_time", when.isoformat())
        for field_id, value in KEYED.items():
            if field_id not in ("temp", "news2_total"):
                session.enter("observations", 0, field_id, value)
        session.enter("observations", 0, "news2_total", "6")
    finally:
        conn.close()
    second = tmp_path / "second.pdf"
    assert main([*argv, "--patient", "DH100001", "--forms", "news2", "--out", str(second)]) == 0
    page = pymupdf.open(second)[0]
    [rect] = page.search_for("P " + when.astimezone(UK).strftime("%d-%b"))
    column = {w[4] for w in _words(page) if rect.x0 - 2 <= (w[0] + w[2]) / 2 <= rect.x1 + 2}
    assert "6?" in column and "6" not in column
    assert "? = total as written on paper, not checked" in " ".join(page.get_text().split())
