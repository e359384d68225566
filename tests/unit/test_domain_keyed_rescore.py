"""Keyed NEWS2 columns are rescored from their parameters before any page shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from paperfallback.domain.keyed import (
    is_unchecked_total,
    keyed_id,
    keyed_spo2_scale,
    paper_total,
    rescore_keyed,
)
from paperfallback.domain.records import Observation, ObservationKind

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
K = ObservationKind
# RCP NEWS2 chart 1: RR 25 -> 3, SBP 101 -> 1, pulse 118 -> 2, alert 0, 39.1 -> 2, air 0;
# SpO2 93 on air scores 2 on Scale 1 and 0 on Scale 2.
PARAMS = {K.RESP_RATE: 25.0, K.SPO2: 93.0, K.SBP: 101.0, K.PULSE: 118.0, K.TEMP: 39.1}


def _column(scale: int | None, total: float | None, *, drop: ObservationKind | None = None
            ) -> list[Observation]:
    obs = [Observation(keyed_id("F1", "observations", 0, k.value, scale), "p1", k, AT, value=v)
           for k, v in PARAMS.items() if k is not drop]
    obs += [Observation(keyed_id("F1", "observations", 0, k.value, scale), "p1", k, AT, text=t)
            for k, t in ((K.OXYGEN, "A"), (K.ACVPU, "A"))]
    if total is not None:
        obs.append(Observation(keyed_id("F1", "observations", 0, "news2_total", scale), "p1",
                               K.NEWS2_TOTAL, AT, value=total))
    return obs


def _total(observations: list[Observation]) -> Observation | None:
    return next((o for o in observations if o.kind is K.NEWS2_TOTAL), None)


def test_a_differing_paper_total_is_replaced_by_the_computed_and_flagged() -> None:
    total = _total(rescore_keyed(_column(1, 5), default_scale=2))
    assert total is not None and total.value == 10 and paper_total(total) == "5"


def test_the_keyed_scale_wins_over_the_epr_scale_and_the_epr_scale_is_the_default() -> None:
    assert keyed_spo2_scale(_column(1, None)[0]) == 1
    on_keyed = _total(rescore_keyed(_column(1, None), default_scale=2))
    on_epr = _total(rescore_keyed(_column(None, 8), default_scale=2))
    assert on_keyed is not None and on_keyed.value == 10 and paper_total(on_keyed) is None
    assert on_epr is not None and on_epr.value == 8 and paper_total(on_epr) is None


def test_an_incomplete_column_marks_the_handwritten_total_unchecked() -> None:
    rescored = rescore_keyed(_column(1, 5, drop=K.TEMP), default_scale=None)
    total = _total(rescored)
    assert total is not None and total.value == 5 and is_unchecked_total(total)
    assert paper_total(total) is None
    assert len(rescored) == len(PARAMS) + 2  # the parameters themselves still show
    assert _total(rescore_keyed(_column(1, None, drop=K.TEMP), default_scale=None)) is None
