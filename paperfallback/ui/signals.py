"""Every Qt signal the app emits from Python goes through :func:`emit`.

Why: PySide6 6.12.0 (the only release that ships QtPdf as the separate ``PySide6-Pdf`` wheel
the design card names) drops one reference to ``True`` on each ``SignalInstance.emit`` called
from Python, connected or not; signals Qt emits itself are not affected. ``True`` starts with a
few thousand references, so after a few thousand emits (a clerk's Enter presses, the progress
of a few print jobs) the interpreter aborts ("Fatal Python error: bool_dealloc") and the app
vanishes with the window open. A probe at import measures what one emit loses on the
installed binding, and :func:`emit` gives exactly that back: nothing when the binding is
sound (other releases), one reference when it is the broken one. Hazard UI-QT-1.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

_PROBE_EMITS = 64


class _Probe(QObject):
    fired = Signal(object)


def _measure_lost_references() -> int:
    """References to ``True`` one Python ``emit`` loses on this PySide6 (0 when sound)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.fired.emit(None)
    lost = before - sys.getrefcount(True)
    if lost == _PROBE_EMITS:
        _give_back(lost)  # the probe's own losses
        return 1
    return 0


def _give_back(count: int) -> None:
    for _ in range(count):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


LOST_PER_EMIT = _measure_lost_references()


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, without the reference the broken binding drops."""
    signal.emit(*args)
    if LOST_PER_EMIT:
        _give_back(LOST_PER_EMIT)


def emitter(signal: Any) -> Any:
    """A callable that emits ``signal`` (for code that takes a callback, e.g. progress)."""
    def fire(*args: Any) -> None:
        emit(signal, *args)
    return fire
