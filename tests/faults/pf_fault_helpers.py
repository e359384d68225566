"""Helpers the fault tests share (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

KEY = "test-key-not-secret"
Run = Callable[..., tuple[int, str, str]]


def status_json(run: Run) -> dict[str, object]:
    _code, out, _err = run("cache", "status", "--json")
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
