"""No module dispatches on a form id: behaviour comes from what forms/*.yaml declare.

A grep over the package's Python string literals for every bundled form id. The few
that remain are data, each allowed below with the reason; anything else (``form_id ==
"news2"``, a builder table keyed by form id) fails this test, naming file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from paperfallback.formspec import load_catalogue

PACKAGE = Path(__file__).resolve().parents[2] / "paperfallback"
FORM_IDS = frozenset(load_catalogue().ids())

# (file relative to paperfallback/, string) -> why it is not a dispatch.
ALLOWED: dict[tuple[str, str], str] = {
    ("settings.py", "handover"): "default of the IT setting default_forms (data)",
    ("settings.py", "news2"): "default of the IT setting default_forms (data)",
    ("settings.py", "mar"): "default of the IT setting default_forms (data)",
    ("settings.py", "fluid-balance"): "default of the IT setting default_forms (data)",
    ("reentry/validation.py", "mar"): "the month March in a table of month names",
}
# Whole modules of synthetic data: the demo hospital and the export samples it builds on.
DEMO = ("cache/demo.py", "cache/demo_clinical.py", "export/samples.py")


def _form_id_literals(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in DEMO:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in FORM_IDS and (rel, node.value) not in ALLOWED:
                found.append((rel, node.lineno, node.value))
    return found


def test_no_form_id_string_in_the_package_outside_the_demo() -> None:
    assert {"news2", "mar", "fluid-balance", "downtime-registration"} <= FORM_IDS
    assert _form_id_literals() == []


def test_the_grep_finds_a_dispatch_when_there_is_one(tmp_path: Path) -> None:
    """The check itself works: a planted ``form_id == "news2"`` is found."""
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "tabular.py").write_text(
        'def f(form_id: str) -> bool:\n    return form_id == "news2"\n', encoding="utf-8")
    assert _form_id_literals(tmp_path) == [("export/tabular.py", 2, "news2")]
