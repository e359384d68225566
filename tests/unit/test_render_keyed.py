"""Keyed-from-paper observations beside the cache's: merge rule, the chart's P marker and
footnote, and packs asked for by cache patient id."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.domain.keyed import (
    KEYED_PREFIX,
    is_keyed_from_paper,
    keyed_times,
    merge_observations,
)
from paperfallback.domain.records import Observation, ObservationKind
from paperfallback.formspec import load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.render.prefill import keyed_note
from paperfallback.settings import Settings

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
K = ObservationKind


def _keyed(kind: ObservationKind, at: datetime, value: float, keyed_at: datetime,
           n: str = "1") -> Observation:
    return Observation(f"{KEYED_PREFIX}T1-{n}:{kind.value}", "p1", kind, at, value=value,
                       source_time=keyed_at)


def test_merge_keeps_time_order_and_drops_what_the_extract_already_holds() -> None:
    cached = [Observation("c1", "p1", K.PULSE, T0 + timedelta(seconds=40), value=80)]
    keyed = [
        _keyed(K.PULSE, T0, 81, T0 + timedelta(hours=5)),  # same minute as the EPR's: dropped
        _keyed(K.PULSE, T0 + timedelta(hours=4), 90, T0 + timedelta(hours=5)),
        _keyed(K.PULSE, T0 + timedelta(hours=4), 95, T0 + timedelta(hours=6), n="2"),
        _keyed(K.TEMP, T0 + timedelta(hours=2), 37.9, T0 + timedelta(hours=5)),
    ]
    merged = merge_observations(cached, keyed)
    assert [(o.kind, o.value, is_keyed_from_paper(o)) for o in merged] == [
        (K.PULSE, 80, False), (K.TEMP, 37.9, True), (K.PULSE, 95, True)]  # last keyed wins
    assert keyed_times(merged) == [T0 + timedelta(hours=5), T0 + timedelta(hours=6)]


def test_keyed_note_names_when_the_paper_was_keyed() -> None:
    assert keyed_note([]) == ""
    assert keyed_note([T0]) == "P = keyed from paper on 05-Jan 06:00; not in the EPR snapshot."
    assert "between 05-Jan 06:00 and 05-Jan 09:30" in keyed_note(
        [T0 + timedelta(hours=3, minutes=30), T0])


def test_request_takes_cache_ids_and_still_wants_one_kind() -> None:
    assert PackRequest(cache_patient_ids=("p1",)).kind() == "patients"
    with pytest.raises(InputError):
        PackRequest(ward="W1", cache_patient_ids=("p1",)).kind()


def test_chart_by_cache_id_marks_keyed_columns(sample_data_dir: Path,
                                               sample_as_of: datetime) -> None:
    key = os.environ["PAPERFALLBACK_KEY"]
    with CacheStore.open(sample_data_dir, key) as store:
        patient = store.patients()[0].patient
        now = sample_as_of + timedelta(hours=3)
        taken = sample_as_of + timedelta(hours=2)
        keyed = {patient.id: [_keyed(K.PULSE, taken, 131, now - timedelta(minutes=5)),
                              _keyed(K.RESP_RATE, taken, 27, now - timedelta(minutes=5))]}
        out = io.BytesIO()
        result = render_pack(PackRequest(cache_patient_ids=(patient.id,), forms=("news2",)),
                             store, load_catalogue(), Settings(), out=out,
                             allocate_ids=MemoryAllocator(), now=now,
                             keyed=lambda pid: keyed.get(pid, []))
    text = pymupdf.open(stream=out.getvalue(), filetype="pdf")[0].get_text()
    assert result.issued[0].patient_id == patient.id
    assert "131" in text and "27" in text
    assert "P = keyed from paper on 05-Jan 11:25; not in the EPR snapshot." in text
    assert result.issued[0].prefilled_times[-1] == taken.isoformat()
