"""The ward setting and ``--ward``: one matching rule, and an unmatched ward is an error
that names what was asked and what the cache has, never a silent first ward (#12.9)."""

from __future__ import annotations

import pytest

from paperfallback.cache.wards import UnknownWard, home_ward, match_ward
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Ward

WARDS = (Ward("W7", "Ward 7 — Aneurin Bevan"), Ward("W8", "Ward 8 — Dewi Sant"),
         Ward("ITU", "Intensive Care"))


@pytest.mark.parametrize("text", ["W7", "w7", " w7 ", "Ward 7 — Aneurin Bevan",
                                  "WARD 7 — ANEURIN BEVAN", "Ward 7 — Aneurin Bevan (W7)"])
def test_exact_code_name_or_shown_label_any_case(text: str) -> None:
    assert match_ward(text, WARDS) == WARDS[0]


def test_accents_are_ignored_in_names() -> None:
    wards = (Ward("YB", "Ysbyty Bodelwyddan — Glyndŵr"),)
    assert match_ward("ysbyty bodelwyddan — glyndwr", wards) == wards[0]


@pytest.mark.parametrize("text", ["Ward 7", "Ward", "W", "Aneurin Bevan", "Ward 7 (W8)"])
def test_no_prefix_or_part_guessing(text: str) -> None:
    with pytest.raises(UnknownWard) as caught:
        match_ward(text, WARDS)
    message = str(caught.value)
    assert repr(text) in message  # what was asked
    for ward in WARDS:  # and what the cache has
        assert f"{ward.name} ({ward.code})" in message
    assert "--" not in message  # no command-line flag in a message the app shows
    assert isinstance(caught.value, InputError)


def test_a_unique_start_is_suggested_not_used() -> None:
    with pytest.raises(UnknownWard, match=r"did you mean 'Ward 7 — Aneurin Bevan \(W7\)'"):
        match_ward("Ward 7", WARDS)
    with pytest.raises(UnknownWard) as caught:
        match_ward("Ward", WARDS)  # two wards start so: no suggestion
    assert "did you mean" not in str(caught.value)


def test_an_empty_cache_says_so() -> None:
    with pytest.raises(UnknownWard, match="no wards"):
        match_ward("W7", ())


def test_home_ward_empty_setting_means_all_wards() -> None:
    assert home_ward("", WARDS) is None
    assert home_ward("   ", WARDS) is None
    assert home_ward("itu", WARDS) == WARDS[2]


def test_home_ward_unmatched_is_an_error_naming_the_setting() -> None:
    with pytest.raises(UnknownWard) as caught:
        home_ward("Ward 7", WARDS)
    assert caught.value.wanted == "Ward 7"
    assert caught.value.known == WARDS
    assert "ward setting" in str(caught.value)
    assert "settings.json" in str(caught.value)
