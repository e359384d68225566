"""NEWS2 scoring at every band boundary (RCP NEWS2 2017, chart 1), both SpO2 scales,
air / oxygen and ACVPU (new confusion scores 3)."""

from __future__ import annotations

import math

import pytest

from paperfallback.domain.news2 import (
    BANDS,
    ClinicalRisk,
    News2Observation,
    band_score,
    score,
)

NORMAL = {"resp_rate": 16, "spo2": 97, "oxygen": "A", "sbp": 120, "pulse": 70, "acvpu": "A",
          "temp": 37.0, "spo2_scale": 1}
# The value step as recorded: integers, temperature to 0.1 degC.
STEP = {"resp_rate": 1, "sbp": 1, "pulse": 1, "temp": 0.1}

# The RCP chart-1 table written out by hand (not from BANDS), edge by edge.
EXPECTED_EDGES = {
    "resp_rate": [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)],
    "sbp": [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
    "pulse": [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2),
              (130, 2), (131, 3)],
    "temp": [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1),
             (39.1, 2)],
}


def _edges() -> list[tuple[str, float, int]]:
    cases = []
    for parameter, edges in EXPECTED_EDGES.items():
        cases += [(parameter, value, expected) for value, expected in edges]
    return cases


@pytest.mark.parametrize(("parameter", "value", "expected"), _edges())
def test_every_band_edge_scores_as_rcp_chart_1(parameter: str, value: float, expected: int) -> None:
    obs = News2Observation(**{**NORMAL, parameter: value})  # type: ignore[arg-type]
    assert score(obs).components[parameter] == expected


@pytest.mark.parametrize("parameter", list(STEP))
def test_every_band_in_bands_table_is_scored_at_both_ends(parameter: str) -> None:
    for band in BANDS[parameter]:
        for value in (band.low, band.high):
            if math.isinf(value):
                continue
            assert band_score(parameter, value) == band.score, (parameter, value)


SCALE1 = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SCALE2_AIR = [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (100, 0)]
SCALE2_O2 = [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 1), (94, 1),
             (95, 2), (96, 2), (97, 3), (100, 3)]


@pytest.mark.parametrize(("spo2", "expected"), SCALE1)
@pytest.mark.parametrize("oxygen", ["A", "O2"])
def test_spo2_scale_1_edges_on_air_and_oxygen(spo2: int, expected: int, oxygen: str) -> None:
    result = score(News2Observation(**{**NORMAL, "spo2": spo2, "oxygen": oxygen}))  # type: ignore[arg-type]
    assert result.components["spo2"] == expected
    assert result.components["oxygen"] == (2 if oxygen == "O2" else 0)


@pytest.mark.parametrize(("spo2", "expected"), SCALE2_AIR)
def test_spo2_scale_2_on_air_edges(spo2: int, expected: int) -> None:
    obs = News2Observation(**{**NORMAL, "spo2": spo2, "oxygen": "A", "spo2_scale": 2})  # type: ignore[arg-type]
    assert score(obs).components["spo2"] == expected


@pytest.mark.parametrize(("spo2", "expected"), SCALE2_O2)
def test_spo2_scale_2_on_oxygen_edges(spo2: int, expected: int) -> None:
    obs = News2Observation(**{**NORMAL, "spo2": spo2, "oxygen": "O2", "spo2_scale": 2})  # type: ignore[arg-type]
    assert score(obs).components["spo2"] == expected


@pytest.mark.parametrize(("acvpu", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_acvpu_new_confusion_scores_three(acvpu: str, expected: int) -> None:
    result = score(News2Observation(**{**NORMAL, "acvpu": acvpu}))  # type: ignore[arg-type]
    assert result.components["acvpu"] == expected
    assert result.risk is (ClinicalRisk.LOW_MEDIUM if expected else ClinicalRisk.LOW)


def test_totals_and_risk_bands() -> None:
    assert score(News2Observation(**NORMAL)).total == 0  # type: ignore[arg-type]
    medium = score(News2Observation(**{**NORMAL, "resp_rate": 22, "pulse": 115, "temp": 38.5}))  # type: ignore[arg-type]
    assert (medium.total, medium.risk) == (5, ClinicalRisk.MEDIUM)
    high = score(News2Observation(**{**NORMAL, "resp_rate": 26, "spo2": 90, "oxygen": "O2"}))  # type: ignore[arg-type]
    assert (high.total, high.risk) == (8, ClinicalRisk.HIGH)


def test_bad_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="air or oxygen"):
        score(News2Observation(**{**NORMAL, "oxygen": "X"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="consciousness"):
        score(News2Observation(**{**NORMAL, "acvpu": "Z"}))  # type: ignore[arg-type]
