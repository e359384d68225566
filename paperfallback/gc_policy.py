"""When the cyclic garbage collector runs: not in the middle of a batch that makes only
acyclic objects, and never over the objects every command imports.

The collector is triggered by allocation counts. An export or a ward pack makes hundreds
of thousands of small dicts, tuples and strings and (nearly) no reference cycles, so the
collector's passes find nothing and cost more than the work they interrupt (measured: an
export of 2,000 forms 1.6 s CPU with it, 0.7 s without; ``paperfallback print --ward W3``
0.51 s with it, 0.47 s paused; issue #15). The cycles a batch does leave are collected
when it ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # batches running now (the app renders and exports on worker threads)
_enabled_before = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the batch inside; it runs again once the last
    batch running in the process ends (a counter, so batches on two threads do not
    switch it back on under each other)."""
    global _depth, _enabled_before
    with _lock:
        if _depth == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _enabled_before:
                gc.enable()


def settle_imports() -> None:
    """Move everything made so far (modules, classes, the parsed catalogue) out of the
    collector's sight: a command's imports are never garbage, yet every full pass would
    scan them again. Call once, after a command has imported what it uses."""
    gc.freeze()
