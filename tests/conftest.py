"""Shared fixtures: every test runs on its own data folder with a test key.

The demo hospital is built once per session (through the real importer) and copied
into each test's data folder that asks for it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TEST_KEY = "test-key-not-secret"


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test touches the user's real data folder or keyring."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PAPERFALLBACK_DATA_DIR", str(data))
    monkeypatch.setenv("PAPERFALLBACK_KEY", TEST_KEY)
    yield


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the demo hospital cache, built once per session."""
    from paperfallback.cli.main import main

    folder = tmp_path_factory.mktemp("demo-template")
    old = os.environ.get("PAPERFALLBACK_KEY")
    os.environ["PAPERFALLBACK_KEY"] = TEST_KEY
    try:
        assert main(["--data-dir", str(folder), "demo", "--seed", "7"]) == 0
    finally:
        if old is None:
            os.environ.pop("PAPERFALLBACK_KEY", None)
        else:
            os.environ["PAPERFALLBACK_KEY"] = old
    return folder


@pytest.fixture
def demo_data_dir(demo_template: Path, data_dir: Path) -> Path:
    """This test's data folder, holding a private copy of the demo cache."""
    for item in demo_template.iterdir():
        if item.is_file() and item.name.startswith("cache.db"):
            shutil.copy2(item, data_dir / item.name)
    return data_dir
