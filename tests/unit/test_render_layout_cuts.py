"""One absurd name or note must not hang a pack (issue 12, item 10): a 10,000-character
family name took over 120 s for one patient and 200,000 characters hung a ward handover.
Names and free text are cut for layout at a fixed length; the cache keeps the full value."""

from __future__ import annotations

import dataclasses
import io
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymupdf

from paperfallback.cache.store import CacheStore
from paperfallback.formspec import load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.render.draw import MAX_LAYOUT_CHARS, layout_cut, wrap
from paperfallback.render.fonts import REGULAR, register_fonts
from paperfallback.render.prefill import NAME_MAX_CHARS
from paperfallback.settings import Settings

HUGE = 200_000


def test_layout_cut_keeps_short_text_and_marks_a_cut() -> None:
    assert layout_cut("Prys") == "Prys"
    cut = layout_cut("x" * HUGE)
    assert len(cut) == MAX_LAYOUT_CHARS and cut.endswith("…")
    assert len(layout_cut("x" * 500, 100)) == 100


def test_wrap_of_one_endless_word_is_bounded() -> None:
    register_fonts()
    lines = wrap("x" * HUGE, REGULAR, 7, 100)
    assert sum(len(line) for line in lines) <= MAX_LAYOUT_CHARS


def test_a_200000_character_name_and_notes_render_a_ward_pack_with_bounded_text(
        data_dir: Path, make_sample_snapshot: Callable[[], Any], sample_as_of: datetime
) -> None:
    snap = make_sample_snapshot()
    words = " ".join(["Lorem"] * (HUGE // 6))
    p3 = dataclasses.replace(snap.patients[2], family="X" * HUGE, given="Y" * HUGE)
    alerts = (*snap.alerts, dataclasses.replace(snap.alerts[0], id="f9", patient_id="p3",
                                                text=words))
    rx = dataclasses.replace(snap.prescriptions[0], id="rx9", patient_id="p3",
                             drug="Z" * HUGE, instructions=words)
    snap = dataclasses.replace(snap, patients=(*snap.patients[:2], p3), alerts=alerts,
                               prescriptions=(*snap.prescriptions, rx))
    buffer = io.BytesIO()
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        store.replace_snapshot(snap)
        render_pack(PackRequest(ward="CED", forms=("handover", "news2", "mar")), store,
                    load_catalogue(), Settings(pc_code="K7"), out=buffer,
                    allocate_ids=MemoryAllocator("K7"), now=sample_as_of + timedelta(minutes=20))
        kept = store.patient_record("p3")
    assert kept.patient.family == "X" * HUGE  # the cache keeps the full value
    with pymupdf.open(stream=buffer.getvalue(), filetype="pdf") as doc:
        text = "".join(page.get_text() for page in doc)
        pages = doc.page_count
    assert "XXXX" in text and "ZZZZ" in text and "Lorem" in text
    longest = {ch: max(len(m) for m in re.findall(f"{ch}+", text.replace("\n", "")))
               for ch in "XYZ"}
    assert longest["X"] <= NAME_MAX_CHARS and longest["Y"] <= NAME_MAX_CHARS
    assert longest["Z"] <= MAX_LAYOUT_CHARS
    assert text.count("Lorem") <= pages * MAX_LAYOUT_CHARS // 6
