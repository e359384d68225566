"""Without node (or before npm ci), the engine tests skip and say what is missing."""

from __future__ import annotations

from pathlib import Path

import fhir_engine_server
import pytest


def test_without_node_the_engine_tests_skip_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir_engine_server.shutil, "which", lambda _name: None)
    reason = fhir_engine_server.unavailable_reason()
    assert reason is not None and "node is not installed" in reason


def test_without_node_modules_they_say_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(fhir_engine_server.shutil, "which", lambda _name: "/usr/bin/node")
    monkeypatch.setattr(fhir_engine_server, "HERE", tmp_path)
    reason = fhir_engine_server.unavailable_reason()
    assert reason is not None and "npm ci" in reason and "scripts/dev.py test" in reason
