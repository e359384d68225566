"""Errors raised below the CLI name no command-line flags (#11.7): the app shows them to
nurses and clerks, who have no ``--date`` or ``--force`` to give. The CLI adds its flag
names to usage errors itself (argparse, or its own wrapping of a core error)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import paperfallback

PACKAGE = Path(paperfallback.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _raise_sites() -> list[tuple[str, int, str]]:
    """(module, line, text) of every string literal inside a ``raise`` below the CLI."""
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                sites += [(str(relative), node.lineno, text) for text in _strings(node.exc)]
    return sites


def test_the_scan_sees_raise_sites() -> None:
    assert len(_raise_sites()) > 100  # the walk finds the package's messages


def test_no_flag_names_in_errors_below_the_cli() -> None:
    offenders = [f"{module}:{line}: {text!r}" for module, line, text in _raise_sites()
                 if FLAG.search(text)]
    assert offenders == []
