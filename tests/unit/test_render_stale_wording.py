"""The STALE DATA line printed on every page, including when the PC clock is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperfallback.cache.staleness import Freshness
from paperfallback.render.furniture import stale_text

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_old_cache_states_its_age_and_the_limit() -> None:
    text = stale_text(Freshness(NOW - timedelta(hours=3, minutes=5), NOW, 60), 60)
    assert text.startswith("STALE DATA: the cache is 3 hours 5 min old (limit 60 minutes).")


def test_future_data_as_of_says_the_age_is_unknown() -> None:
    text = stale_text(Freshness(NOW + timedelta(days=200), NOW, 60), 60)
    assert text.startswith("STALE DATA:")
    assert "in the future" in text and "check the PC clock" in text
    assert "old (" not in text
