"""Hazard UI-QT-1: the app must not abort after a few thousand signals.

PySide6 6.12.0 drops a reference to ``True`` on every ``SignalInstance.emit`` called from
Python; the interpreter then aborts ("bool_dealloc") after a few thousand Enter presses on the
keying screen or pages of print progress. ``ui/signals.emit`` gives the reference back.
"""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from paperfallback.ui.signals import emit, emitter

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "paperfallback" / "ui"


class _Source(QObject):
    fired = Signal(object)
    plain = Signal()


def test_emitting_through_the_helper_keeps_references_to_true(qapp: object) -> None:
    source = _Source()
    received: list[object] = []
    source.fired.connect(received.append)
    fire = emitter(source.plain)
    emit(source.fired, -1)  # first use builds PySide's per-signal caches
    fire()
    received.clear()
    gc.collect()
    before = sys.getrefcount(True)
    for i in range(5_000):
        emit(source.fired, i)
        fire()
    gc.collect()
    # 10,000 emits: the broken binding alone would lose 10,000 references; allow a few
    # for objects the test run itself creates meanwhile.
    assert abs(sys.getrefcount(True) - before) <= 3
    assert received == list(range(5_000))


def test_an_app_process_emitting_many_signals_exits_cleanly(tmp_path: Path) -> None:
    """A real interpreter emits 30,000 signals (a long day of keying) and exits with 0,
    where a direct ``emit`` on the broken binding aborts with SIGABRT."""
    script = tmp_path / "many_signals.py"
    script.write_text(textwrap.dedent("""
        from PySide6.QtCore import QObject, Signal
        from PySide6.QtWidgets import QApplication
        from paperfallback.ui.signals import emit
        app = QApplication([])
        class Source(QObject):
            fired = Signal(object)
        source = Source()
        seen = []
        source.fired.connect(seen.append)
        for i in range(30_000):
            emit(source.fired, i)
        assert len(seen) == 30_000
        print("ok")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**_env(), "QT_QPA_PLATFORM": "offscreen",
                                                     "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_ui_emits_signals_only_through_the_helper() -> None:
    """No ``x.emit(...)`` call and no ``connect(x.emit)`` outside ui/signals.py: each would
    drop a reference again."""
    offenders = []
    for path in sorted(UI.glob("*.py")):
        if path.name == "signals.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "emit":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
