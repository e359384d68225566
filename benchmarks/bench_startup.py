#!/usr/bin/env python3
"""Start-up to a usable main window with the demo hospital cache (issue 15: <= 0.5 s).

    .venv/bin/python benchmarks/bench_startup.py [--runs 5]

Builds the demo cache once in a temporary folder, then starts a fresh Python process per
run that imports the app, opens the cache, builds the main window on the PC's ward, shows
it and processes events until the ward list is filled. ``--ward`` sets the PC's ward
(settings.json): W3 by default, a ward PC as docs/install.md sets it up; ``--ward ''``
opens on all patients (every cached patient is summarised: it grows with the hospital).
Prints the time from process start (interpreter start-up included, measured by the
parent) and inside the process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import time
t0 = time.perf_counter()
import sys
from paperfallback.cli.context import AppContext
from paperfallback.derived_cache import use_data_folder
ctx = AppContext(data_dir_option=sys.argv[1])
use_data_folder(ctx.data_dir)  # as the command line does for every command
ctx.derive_key_ahead()  # as `paperfallback gui` does, before Qt is imported
from paperfallback.ui.app import create_app
from paperfallback.ui.main_window import MainWindow
app = create_app()
window = MainWindow(ctx)
window.resize(1280, 800)
window.show()
while not (window.isVisible() and window.model.rowCount() > 0):
    app.processEvents()
app.processEvents()
window.grab()  # the first full paint
t1 = time.perf_counter()
print(f"{window.model.rowCount()} {t1 - t0:.4f}", flush=True)
window.close()
ctx.close()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ward", default="W3",
                        help="the PC's ward setting (default W3, the demo's full ward; "
                             "'' = all patients, which lists every cached patient)")
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PAPERFALLBACK_KEY=os.environ.get("PAPERFALLBACK_KEY", "bench-key"))
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        data = Path(tmp)
        subprocess.run([sys.executable, "-m", "paperfallback", "--data-dir", str(data), "demo"],
                       env=env, check=True, capture_output=True)
        (data / "settings.json").write_text(json.dumps({"ward": args.ward}), encoding="utf-8")
        walls, insides = [], []
        rows = 0
        for _ in range(args.runs):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", CHILD, str(data)], env=env,
                                    check=True, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            count, inside = result.stdout.split()
            rows = int(count)
            insides.append(float(inside))
    print(f"start-up to usable main window ({rows} patients on the PC's ward "
          f"{args.ward!r}), "
          f"{args.runs} runs:")
    print(f"  whole process (interpreter + imports + window): median "
          f"{statistics.median(walls):.3f} s, max {max(walls):.3f} s")
    inside = statistics.median(insides)
    print(f"  inside the process (imports + window):          median "
          f"{inside:.3f} s, max {max(insides):.3f} s  (target <= 0.5 s: "
          f"{'PASS' if inside <= 0.5 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
