"""The app's problem page names the true cause of a storage fault (issue #12): a damaged
cache file is "damaged", never "the key is wrong", so IT does not chase a key that is
fine; a wrong key is still named as such. Blank forms stay available in both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pf_ui_helpers import tiny_snapshot, write_cache

from paperfallback.cache.staleness import utc_now
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


def _flip_page_one(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(100)
        data = handle.read(16)
        handle.seek(100)
        handle.write(bytes(b ^ 0xFF for b in data))


def test_a_damaged_cache_is_named_damaged_not_a_wrong_key(
        demo_data_dir: Path, make_window: Any) -> None:
    WorkStore.open(demo_data_dir, KEY).close()  # the work store proves the key
    _flip_page_one(demo_data_dir / "cache.db")
    window = make_window(demo_data_dir)
    assert window.pages.currentWidget() is window.problem_page
    text = window.problem_text.text()
    assert "damaged" in text and "key is wrong" not in text
    assert "rebuilds it" in text and "blank forms" in text
    assert window.print_blank_button.isEnabled()


def test_a_wrong_key_is_named_as_the_key(data_dir: Path, make_window: Any) -> None:
    write_cache(data_dir, "the-right-key", tiny_snapshot(utc_now()))
    window = make_window(data_dir)  # opened with the test key: wrong
    text = window.problem_text.text()
    assert "key is wrong" in text and "damaged" not in text.split("<small>")[0]
    assert window.print_blank_button.isEnabled()
