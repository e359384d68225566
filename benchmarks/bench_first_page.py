#!/usr/bin/env python3
"""Time until the first part of a ward pack is ready for the printer (issue 15: <= 0.3 s).

    .venv/bin/python benchmarks/bench_first_page.py [--runs 5]

Builds the demo hospital (a passphrase key, as bench_print_ratio.py), then:

- the whole command, a fresh process each run: ``paperfallback print --ward W3 --forms
  handover,news2,mar,fluid-balance --parts`` names each part file on stdout as soon as it
  is written; the time from starting the process to the first name, and to the end;
- in a running app (cache open, forms and fonts loaded, as after the first print of the
  day): ``render_pack(..., parts=...)`` from the call to the first part handed over, and to
  the last; and the same pack as one PDF, for comparison;
- the app's own Print (``ui/pack_print.draw_and_print_job``, what Print… runs once the
  nurse has chosen the printer): from the start of the job to the first part accepted by
  the CUPS queue (``lp`` returned its job id), and to the last. Needs a CUPS queue
  (``--queue``, default the CI's cups-pdf queue PaperFallbackPDF, .ci/setup-system);
  skipped without one.

The first part is the cover sheet and the handover list; the printer works on it while
the rest is drawn.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = "handover,news2,mar,fluid-balance"
KEY = "bench passphrase, not secret"


def command(data: Path, out: Path) -> tuple[float, float, int]:
    env = {**os.environ, "PAPERFALLBACK_KEY": KEY}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfallback", "--data-dir", str(data), "print", "--ward",
         "W3", "--forms", FORMS, "--out", str(out), "--parts"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    first_at = time.perf_counter() - start
    rest = proc.stdout.read()
    if proc.wait() != 0 or not first.strip().endswith(".pdf"):
        raise SystemExit("print --parts failed")
    parts = 1 + sum(line.endswith(".pdf") for line in rest.splitlines())
    return first_at, time.perf_counter() - start, parts


def in_app(data: Path, runs: int) -> tuple[list[float], list[float], list[float]]:
    os.environ["PAPERFALLBACK_KEY"] = KEY
    from paperfallback.cache.store import CacheStore
    from paperfallback.derived_cache import use_data_folder
    from paperfallback.formspec import site_catalogue
    from paperfallback.register import MemoryAllocator
    from paperfallback.render import PackRequest, render_pack
    from paperfallback.settings import Settings

    use_data_folder(data)
    catalogue = site_catalogue([], data)
    settings = Settings(pc_code="BN")
    request = PackRequest(ward="W3", forms=tuple(FORMS.split(",")))
    firsts, lasts, wholes = [], [], []
    with CacheStore.open(data, KEY) as store:
        for run in range(runs + 1):  # the first warms up, as the app's first print does
            marks: list[float] = []

            def ready(_pdf: bytes, _pages: int, marks: list[float] = marks) -> None:
                marks.append(time.perf_counter())

            start = time.perf_counter()
            render_pack(request, store, catalogue, settings, out=io.BytesIO(),
                        allocate_ids=MemoryAllocator(pc_code="BN"), parts=ready)
            end = time.perf_counter()
            render_pack(request, store, catalogue, settings, out=io.BytesIO(),
                        allocate_ids=MemoryAllocator(pc_code="BN"))
            whole = time.perf_counter() - end
            if run:
                firsts.append(marks[0] - start)
                lasts.append(end - start)
                wholes.append(whole)
    return firsts, lasts, wholes


def app_print(data: Path, runs: int, queue: str) -> tuple[list[float], list[float], int]:
    """The app's Print… of the same pack to a CUPS queue: seconds to the first part
    accepted by the queue and to the last, per run (the first run warms up)."""
    os.environ["PAPERFALLBACK_KEY"] = KEY
    import paperfallback.ui.printing as printing
    from paperfallback.formspec import site_catalogue
    from paperfallback.settings import Settings
    from paperfallback.ui.background import TaskControl
    from paperfallback.ui.pack_jobs import PackChoice, RenderPlace
    from paperfallback.ui.pack_print import PrintRun, draw_and_print_job
    from paperfallback.ui.printing import PrinterChoice

    marks: list[float] = []
    run_lp = printing.run_lp

    def timed_lp(command: list[str], pdf: bytes) -> subprocess.CompletedProcess[bytes]:
        result = run_lp(command, pdf)
        marks.append(time.perf_counter())
        return result

    printing.run_lp = timed_lp  # type: ignore[assignment]
    settings = Settings.load(data)
    place = RenderPlace(data_dir=data, key=KEY, key_source="bench", settings=settings,
                        catalogue=site_catalogue([], data))
    choice = PackChoice(kind="ward", title="Bench W3 pack", ward_code="W3",
                        form_ids=tuple(FORMS.split(",")))
    firsts, lasts, jobs = [], [], 0
    for run in range(runs + 1):
        marks.clear()
        record = PrintRun(queue)
        start = time.perf_counter()
        draw_and_print_job(choice, place, PrinterChoice(name=queue), record)(
            TaskControl(lambda *_a: None))
        if record.outcome is None:
            raise SystemExit(f"the print to {queue} failed: {record.failure}")
        if run:
            firsts.append(marks[0] - start)
            lasts.append(marks[-1] - start)
            jobs = len(record.outcome.job_ids)
    return firsts, lasts, jobs


def _queue_ready(queue: str) -> bool:
    import shutil

    if not shutil.which("lp") or not shutil.which("lpstat"):
        return False
    result = subprocess.run(["lpstat", "-p", queue], capture_output=True, text=True,
                            check=False)
    return result.returncode == 0 and "disabled" not in result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queue", default="PaperFallbackPDF",
                        help="CUPS queue for the app's own print (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-bench-first-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "PAPERFALLBACK_KEY": KEY}
        subprocess.run([sys.executable, "-m", "paperfallback", "--data-dir", str(data), "demo",
                        "--seed", "7"], check=True, capture_output=True, env=env, cwd=ROOT)
        command(data, Path(tmp) / "warm.pdf")  # caches and bytecode, as an installed PC
        runs = [command(data, Path(tmp) / f"w3-{i}.pdf") for i in range(args.runs)]
        firsts, lasts, wholes = in_app(data, args.runs)
        printed = app_print(data, args.runs, args.queue) if _queue_ready(args.queue) else None
    first = statistics.median(r[0] for r in runs)
    print(f"ward W3 ({FORMS}), {runs[0][2]} parts, {args.runs} runs, medians:")
    print(f"  whole command (fresh process): first part ready {first:.3f} s, "
          f"last {statistics.median(r[1] for r in runs):.3f} s")
    app_first = statistics.median(firsts)
    print(f"  in the running app: first part ready {app_first:.3f} s, last "
          f"{statistics.median(lasts):.3f} s (one PDF: {statistics.median(wholes):.3f} s)")
    if printed is None:
        print(f"  inside the app: skipped (no CUPS queue {args.queue} accepting jobs)")
    else:
        print(f"  inside the app: first part sent to the queue after "
              f"{statistics.median(printed[0]):.3f} s, the last after "
              f"{statistics.median(printed[1]):.3f} s ({printed[2]} lp jobs, Print… to "
              f"{args.queue})")
    print(f"target <= 0.3 s to the first part: in the app "
          f"{'PASS' if app_first <= 0.3 else 'FAIL'}, whole command "
          f"{'PASS' if first <= 0.3 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
