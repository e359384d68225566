"""Long outages (issue 6): a column keyed from paper comes back on the next printed chart,
the next handover list and the ward screen, marked "P" with when it was keyed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pymupdf

from paperfallback.cache.staleness import UK, utc_now
from paperfallback.cache.store import CacheStore
from paperfallback.cache.ward_summary import ward_summaries
from paperfallback.cli.main import main
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.observations import KeyedObservations
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.register import Register
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
# RCP NEWS2 chart 1, scale 1 (keyed; the patient's EPR scale is 2): RR 24 -> 2, SpO2 93
# -> 2, air 0, SBP 101 -> 1, pulse 118 -> 2, alert 0, temperature 38.6 -> 1: total 8.
KEYED = {"resp_rate": "24", "spo2": "93", "spo2_scale": "1", "oxygen": "A", "sbp": "101",
         "dbp": "64", "pulse": "118", "acvpu": "A", "temp": "38.6", "news2_total": "8",
         "initials": "SW"}


def _text(path: Path) -> str:
    return "\n".join(page.get_text() for page in pymupdf.open(path))


def test_keyed_column_feeds_the_next_chart_handover_and_ward_list(
        demo_data_dir: Path, tmp_path: Path) -> None:
    with CacheStore.open(demo_data_dir, KEY) as store:
        ward = store.wards()[0]
        row = next(r for r in store.patients(ward_code=ward.code) if r.patient.nhs_number)
    patient = row.patient
    assert patient.nhs_number is not None
    first = tmp_path / "first.pdf"
    argv = ["--data-dir", str(demo_data_dir), "print"]
    assert main([*argv, "--patient", patient.nhs_number, "--forms", "news2",
                 "--out", str(first)]) == 0
    assert "keyed from paper" not in _text(first)

    # A clerk keys one column written on that chart, through the re-entry core.
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        register = Register(conn, pc_code="T1")
        issued = register.list(form_id="news2", patient_id=patient.id)[-1]
        session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                                issued, clerk="Ann", ctx=KeyingContext(issued.printed_at))
        when = (utc_now() - timedelta(minutes=3)).replace(second=0, microsecond=0)
        session.enter("observations", 0, "obs_time", when.isoformat())
        for field_id, value in KEYED.items():
            session.enter("observations", 0, field_id, value)
    finally:
        conn.close()

    second = tmp_path / "second.pdf"
    assert main([*argv, "--patient", patient.nhs_number, "--forms", "news2",
                 "--out", str(second)]) == 0
    chart = pymupdf.open(second)[0].get_text()
    assert "118" in chart and "38.6" in chart  # the keyed values, in their band rows
    assert "P " + when.astimezone(UK).strftime("%d-%b") in chart  # the column's marker
    assert "P = keyed from paper on" in chart and "not in the EPR snapshot" in chart

    handover = tmp_path / "handover.pdf"
    assert main([*argv, "--ward", ward.code, "--forms", "handover", "--no-cover",
                 "--out", str(handover)]) == 0
    text = " ".join(_text(handover).split())  # the cell wraps
    assert f"P 8 at {when.astimezone(UK):%H:%M %d-%b}" in text
    assert "P = keyed from paper on" in text

    # The ward screen's latest NEWS2 (the app passes the keyed observations in).
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        with CacheStore.open(demo_data_dir, KEY) as store:
            rows = ward_summaries(store, ward.code, keyed=KeyedObservations(conn))
    finally:
        conn.close()
    latest = next(r.news2 for r in rows if r.patient_id == patient.id)
    assert latest is not None and latest.total == 8 and latest.keyed_at is not None
    assert latest.at == when


def test_the_app_print_path_shows_keyed_values_too(demo_data_dir: Path) -> None:
    """The app's render job (paperfallback.ui.pack_jobs) passes the same keyed source."""
    from paperfallback.ui.background import TaskControl
    from paperfallback.ui.pack_jobs import PackChoice, RenderPlace, render_job

    with CacheStore.open(demo_data_dir, KEY) as store:
        ward = store.wards()[0]
        patient = store.patients(ward_code=ward.code)[1].patient
    place = RenderPlace(demo_data_dir, KEY, "test", Settings.load(demo_data_dir))
    choice = PackChoice(kind="patients", title="t", ward_code=ward.code,
                        patient_ids=(patient.id,), form_ids=("news2",))
    control = TaskControl(lambda _d, _t, _m: None)
    pack = render_job(choice, place)(control)
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        register = Register(conn, pc_code="T1")
        register.record(pack.issued)
        issued = pack.issued[0]
        session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                                issued, clerk="Ann", ctx=KeyingContext(issued.printed_at))
        when = (utc_now() - timedelta(minutes=1)).replace(second=0, microsecond=0)
        session.enter("observations", 0, "obs_time", when.isoformat())
        session.enter("observations", 0, "pulse", "131")
    finally:
        conn.close()
    again = render_job(choice, place, count_only=True)(control)
    page = pymupdf.open(stream=again.pdf, filetype="pdf")[0].get_text()
    assert "131" in page and "P = keyed from paper on" in page

