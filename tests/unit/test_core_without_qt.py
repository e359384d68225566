"""The core must work on a machine without Qt (DESIGN.md: the boundary is guarded twice:
import-linter statically, and this test at run time with PySide6 made unimportable)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_BLOCK_QT = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6"):
                raise ImportError(f"{name} is blocked: the core must not need Qt")
            return None

    sys.meta_path.insert(0, NoQt())
    """
)


def test_every_core_module_imports_without_qt() -> None:
    script = _BLOCK_QT + textwrap.dedent(
        """
        import pkgutil, importlib, paperfallback
        names = [m.name for m in pkgutil.walk_packages(paperfallback.__path__, "paperfallback.")
                 if not m.name.startswith(("paperfallback.ui", "paperfallback.__main__"))]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10
