#!/usr/bin/env python3
"""Scan-back speed: 500 scanned pages at 200 dpi identified and stored (issue #16).

    .venv/bin/python benchmarks/bench_scans.py [--pages 500] [--dpi 200]

Prints the demo's 28-bed ward pack until there are enough pages, makes each page a
realistic scan (written on, rotated ±3°, scaled ±2 %, noise, JPEG artefacts; see
tests/e2e/scan_synth.py), writes them as one multi-page PDF as a scan-to-folder does, then
times ``import_scans`` on it: pages per second, the share of the time spent decoding QR
codes, rasterising the PDF and encoding/storing the images, and the peak memory.
Target: 500 pages in <= 60 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    key = secrets.token_hex(32)
    os.environ["PAPERFALLBACK_KEY"] = key
    from scan_synth import as_scanned, rasterise, save_pdf, scribble

    import paperfallback.scan.identify as identify_module
    import paperfallback.scan.intake as intake
    import paperfallback.scan.store as store_module
    from paperfallback.cache.demo import FULL_WARD_CODE
    from paperfallback.register import Register
    from paperfallback.scan.store import ScanStore
    from paperfallback.settings import Settings

    with tempfile.TemporaryDirectory(prefix="pf-bench-scans-") as name:
        tmp = Path(name)
        data = tmp / "data"
        data.mkdir()
        pf = [sys.executable, "-m", "paperfallback", "--data-dir", str(data)]
        subprocess.run([*pf, "demo", "--seed", "7"], check=True, capture_output=True, cwd=ROOT)
        rng = random.Random(500)
        images = []
        copy = 0
        print("making scans ...", flush=True)
        while len(images) < args.pages:
            copy += 1
            pack = tmp / f"pack-{copy}.pdf"
            subprocess.run([*pf, "print", "--ward", FULL_WARD_CODE, "--forms",
                            "handover,news2,mar,fluid-balance", "--out", str(pack)],
                           check=True, capture_output=True, cwd=ROOT)
            for page in rasterise(pack, args.dpi):
                images.append(as_scanned(scribble(page, rng), rng))
                if len(images) == args.pages:
                    break
        scan = save_pdf(images, tmp / "scan.pdf", args.dpi)
        del images
        size_mb = scan.stat().st_size / 1e6

        spent = {"decode": 0.0, "store": 0.0}

        def timed(fn, bucket):  # type: ignore[no-untyped-def]
            def wrapper(*a, **k):  # type: ignore[no-untyped-def]
                start = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    spent[bucket] += time.perf_counter() - start
            return wrapper

        intake.identify = timed(identify_module.identify, "decode")
        intake.encode_image = timed(store_module.encode_image, "store")
        ScanStore.add = timed(ScanStore.add, "store")  # type: ignore[method-assign]

        with Register.open(data, key, Settings.load(data)) as register:
            store = ScanStore(register.work)
            start = time.perf_counter()
            report = intake.import_scans([scan], register, store)
            wall = time.perf_counter() - start
        n = len(report.pages)
        rest = wall - spent["decode"] - spent["store"]
        print(f"{n} pages at {args.dpi} dpi in one {size_mb:.0f} MB PDF: {wall:.1f} s, "
              f"{n / wall:.1f} pages/s; target <= 60 s for 500 "
              f"{'MET' if wall * 500 / n <= 60 else 'NOT MET'}")
        print(f"  identified {report.count('identified')}, duplicate {report.count('duplicate')}, "
              f"unreadable {report.count('unreadable')}, "
              f"not in register {report.count('not-in-register')}")
        print(f"  QR decoding {spent['decode']:.1f} s ({spent['decode'] / wall:.0%}), "
              f"JPEG encode + encrypted store {spent['store']:.1f} s "
              f"({spent['store'] / wall:.0%}), PDF rasterising and the rest {rest:.1f} s "
              f"({rest / wall:.0%})")
        print(f"  peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
              f" (includes making the scans); load average {os.getloadavg()[0]:.2f} on "
              f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
