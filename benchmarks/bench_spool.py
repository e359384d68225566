#!/usr/bin/env python3
"""Time to spool the 28-bed ward pack through the CUPS PDF queue, and spool bytes per page.

    sudo .ci/setup-system            # once: cupsd + the PaperFallbackPDF queue
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_spool.py [--raster-pages 2]

Builds the demo hospital in a temporary folder, renders the pack of its full 28-bed ward
(every bed occupied: paperfallback.cache.demo.FULL_WARD_BEDS) with handover, news2, mar,
fluid-balance, sends it the way the app does (the PDF itself, ``lp`` on standard input),
and waits for CUPS to finish the job. For comparison it
also spools a few pages the rasterised way (page images at 300 dpi through QPrinter), which
is what a naive Qt print loop does.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PAPERFALLBACK_KEY", "bench-key")
QUEUE = "PaperFallbackPDF"
FORMS = ("handover", "news2", "mar", "fluid-balance")


def job_size_bytes(job_id: str, timeout_s: float = 300) -> tuple[int, float]:
    """Wait for a CUPS job to complete; return its spooled size and the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        done = subprocess.run(["lpstat", "-W", "completed", "-o", QUEUE],
                              capture_output=True, text=True, check=False).stdout
        for line in done.splitlines():
            parts = line.split()
            if parts and parts[0] == job_id:
                return int(parts[2]), time.perf_counter() - start
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not complete within {timeout_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raster-pages", type=int, default=2,
                        help="pages to spool as images for comparison (0: skip)")
    args = parser.parse_args()
    state = subprocess.run(["lpstat", "-p", QUEUE], capture_output=True, text=True, check=False)
    if state.returncode != 0:
        print(f"no CUPS queue {QUEUE}: run .ci/setup-system as root first", file=sys.stderr)
        return 1

    from PySide6.QtWidgets import QApplication

    from paperfallback.cache.demo import FULL_WARD_BEDS, FULL_WARD_CODE
    from paperfallback.cache.store import CacheStore
    from paperfallback.register import MemoryAllocator
    from paperfallback.settings import Settings
    from paperfallback.ui.background import TaskControl
    from paperfallback.ui.pack_jobs import PackChoice, RenderPlace, render_choice
    from paperfallback.ui.printing import PrinterChoice, _rasterise, send_pdf

    app = QApplication.instance() or QApplication(sys.argv[:1])
    key = os.environ["PAPERFALLBACK_KEY"]
    control = TaskControl(lambda _d, _t, _m: None)
    with tempfile.TemporaryDirectory(prefix="pf-spool-") as tmp:
        data = Path(tmp)
        subprocess.run([sys.executable, "-m", "paperfallback", "--data-dir", str(data), "demo"],
                       check=True, capture_output=True)
        with CacheStore.open(data, key) as store:
            ward = store.resolve_ward(FULL_WARD_CODE)
            beds = len(store.patients(ward_code=ward.code))
        if beds != FULL_WARD_BEDS:
            raise SystemExit(f"the demo's first ward has {beds} patients, not {FULL_WARD_BEDS}")
        place = RenderPlace(data, key, "PAPERFALLBACK_KEY", Settings())
        start = time.perf_counter()
        pack = render_choice(PackChoice(kind="ward", title=f"{ward.name} pack",
                                        ward_code=ward.code, form_ids=FORMS),
                             place, MemoryAllocator(), control)
        render_s = time.perf_counter() - start

        start = time.perf_counter()
        outcome = send_pdf(pack.pdf, pack.page_count, PrinterChoice(name=QUEUE), control,
                           title=f"bench {ward.code}")
        submit_s = time.perf_counter() - start
        spooled, wait_s = job_size_bytes(outcome.job_id)
        print(f"ward {ward.name} ({beds} patients), forms {','.join(FORMS)}: "
              f"{pack.page_count} pages, PDF {len(pack.pdf) / 1024:.0f} KB "
              f"({len(pack.pdf) / pack.page_count / 1024:.1f} KB/page), rendered in "
              f"{render_s:.2f} s")
        print(f"PDF path (lp):    submitted in {submit_s:.3f} s, job completed "
              f"{wait_s:.2f} s later (total {submit_s + wait_s:.2f} s); "
              f"spool {spooled / 1024:.0f} KB = {spooled / pack.page_count / 1024:.1f} "
              "KB/page")

        if args.raster_pages > 0:
            from pypdf import PdfReader, PdfWriter

            writer = PdfWriter()
            reader = PdfReader(io.BytesIO(pack.pdf))
            for page in reader.pages[1:1 + args.raster_pages]:
                writer.add_page(page)
            part = io.BytesIO()
            writer.write(part)
            before = _last_job_number()
            start = time.perf_counter()
            _rasterise(part.getvalue(), args.raster_pages,
                       PrinterChoice(name=QUEUE, resolution_dpi=300), control)
            raster_s = time.perf_counter() - start
            job = f"{QUEUE}-{_wait_new_job(before)}"
            raster_bytes, raster_wait = job_size_bytes(job)
            per_page = raster_bytes / args.raster_pages
            print(f"raster path:      {args.raster_pages} pages as 300 dpi images: painted in "
                  f"{raster_s:.2f} s, job completed {raster_wait:.2f} s later; spool "
                  f"{per_page / 1024 / 1024:.2f} MB/page "
                  f"(x{per_page / (spooled / pack.page_count):.0f} the PDF path)")
    del app
    return 0


def _last_job_number() -> int:
    text = subprocess.run(["lpstat", "-W", "all", "-o", QUEUE], capture_output=True, text=True,
                          check=False).stdout
    numbers = [int(m.group(1)) for m in re.finditer(rf"{QUEUE}-(\d+)", text)]
    return max(numbers, default=0)


def _wait_new_job(before: int, timeout_s: float = 60) -> int:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        latest = _last_job_number()
        if latest > before:
            return latest
        time.sleep(0.05)
    raise SystemExit("the rasterised job never reached CUPS")


if __name__ == "__main__":
    raise SystemExit(main())
