"""Cache fact rows are parsed with orjson (issue #15: a ward pack reads thousands); rows
orjson refuses but the cache may hold (NaN written by json.dumps, huge integers) still
read exactly as before, never as an error on a ward print."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from paperfallback.cache.store_rows import _dumps, _load
from paperfallback.domain.records import Observation, ObservationKind, Ward


def _observation(value: float) -> Observation:
    return Observation(id="o1", patient_id="p1", kind=ObservationKind.PULSE, value=value,
                       effective=datetime(2026, 11, 30, 8, 0, tzinfo=UTC))


def test_a_row_reads_back_the_fact_it_was_written_from() -> None:
    fact = _observation(72.0)
    assert _load(Observation, _dumps(fact)) == fact
    ward = Ward(code="W3", name="Ward Ŵy Łódź")
    assert _load(Ward, _dumps(ward)) == ward


def test_a_row_orjson_refuses_is_read_as_before() -> None:
    text = _dumps(_observation(float("nan")))
    assert "NaN" in text  # what json.dumps writes for a NaN value
    loaded = _load(Observation, text)
    assert loaded.value is not None and math.isnan(loaded.value)
    big = json.dumps({"code": "W3", "name": "Big", "beds": 2**70})
    assert _load(Ward, big).code == "W3"
