"""Settings IT can push, and where the cache key comes from."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.settings import Settings, cache_key, data_dir


def test_defaults_when_no_file(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path)
    assert settings.stale_minutes == 60
    assert settings.forms_for_ward("W7") == ["handover", "news2", "mar", "fluid-balance"]


def test_pushed_file_is_read_and_unknown_keys_survive_a_save(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({
        "site_code": "RM3", "ward": "w7", "stale_minutes": 30,
        "ward_forms": {"W7": ["news2"]}, "future_key": {"x": 1},
    }))
    settings = Settings.load(tmp_path)
    assert settings.site_code == "RM3"
    assert settings.forms_for_ward("w7") == ["news2"]
    settings.save(tmp_path)
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["future_key"] == {"x": 1}
    assert saved["stale_minutes"] == 30


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "cannot read settings"),
        ("[1, 2]", "must be a JSON object"),
        ('{"stale_minutes": "sixty"}', "'stale_minutes' must be int"),
        ('{"stale_minutes": 0}', "must be positive"),
        ('{"max_patient_drop_share": 2}', "between 0 and 1"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "settings.json").write_text(content)
    with pytest.raises(InputError, match=reason) as info:
        Settings.load(tmp_path)
    assert "settings.json" in str(info.value)


def test_environment_key_wins(tmp_path: Path) -> None:
    assert cache_key(tmp_path) == ("test-key-not-secret", "PAPERFALLBACK_KEY")


def test_key_file_fallback_is_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERFALLBACK_KEY")
    monkeypatch.setattr("paperfallback.settings._keyring_get", lambda account: None)
    monkeypatch.setattr("paperfallback.settings._keyring_set", lambda account, key: False)
    key, source = cache_key(tmp_path)
    assert source.endswith("cache.key")
    assert len(key) == 64
    if os.name == "posix":
        mode = stat.S_IMODE((tmp_path / "cache.key").stat().st_mode)
        assert mode == 0o600
    assert cache_key(tmp_path) == (key, source)


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFALLBACK_DATA_DIR", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x"
    assert data_dir(tmp_path / "y") == tmp_path / "y"
