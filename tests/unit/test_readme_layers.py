"""The README's layer table says what the import-linter contract enforces, in its order."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c["type"] == "layers")
    return [{m.strip().removeprefix("paperfallback.") for m in re.split(r"[:|]", layer)}
            for layer in contract["layers"]]


def _readme_rows() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `paperfallback/([a-z_]+)(?:/|\.py)` \|", text, re.M)
    return [(int(layer), name) for layer, name in rows]


def test_readme_layer_table_matches_the_import_linter_contract() -> None:
    layers = _contract_layers()
    rows = _readme_rows()
    assert rows, "the README has no layer table"
    listed: dict[int, set[str]] = {}
    for layer, name in rows:
        listed.setdefault(layer, set()).add(name)
    assert [listed[n] for n in sorted(listed)] == layers
    assert [layer for layer, _name in rows] == sorted(layer for layer, _name in rows)
