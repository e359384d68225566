#!/usr/bin/env python3
"""Printed-pack speed and size, on the synthetic demo hospital.

    .venv/bin/python benchmarks/bench_render.py [--runs 3]

Figures printed:
1. the whole command ``paperfallback print --ward <the demo's full 28-bed ward> --forms
   handover,news2,mar,fluid-balance --out pack.pdf`` (a fresh process each run: start-up,
   cache, register, render, save), wall time; target <= 2 s;
2. dense chart pages: a NEWS2-only pack of the same ward rendered in-process (fonts and
   forms already loaded), pages per second; target >= 150;
3. bytes per page of the ward pack; target <= 20 KB.

The cache key is a raw 256-bit hex key, as production keys are (no key derivation).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfallback.cache.store import CacheStore
    from paperfallback.domain.records import Ward

ROOT = Path(__file__).resolve().parent.parent
FORMS = "handover,news2,mar,fluid-balance"


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfallback", "--data-dir", str(data), *args],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )


def full_ward(store: CacheStore) -> tuple[Ward, int]:
    """The demo's first ward: 28 beds, every one occupied (paperfallback.cache.demo)."""
    from paperfallback.cache.demo import FULL_WARD_BEDS, FULL_WARD_CODE

    ward = store.resolve_ward(FULL_WARD_CODE)
    beds = len(store.patients(ward_code=ward.code))
    if beds != FULL_WARD_BEDS:
        raise SystemExit(f"the demo's first ward has {beds} patients, not {FULL_WARD_BEDS}")
    return ward, beds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["PAPERFALLBACK_KEY"] = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        _cli(data, "demo", "--seed", "7")

        from paperfallback.cache.store import CacheStore
        from paperfallback.formspec import load_catalogue
        from paperfallback.register import MemoryAllocator
        from paperfallback.render import PackRequest, render_pack
        from paperfallback.settings import Settings

        key = os.environ["PAPERFALLBACK_KEY"]
        with CacheStore.open(data, key) as store:
            ward, beds = full_ward(store)
        out = Path(tmp) / "pack.pdf"
        walls = []
        for _ in range(args.runs):
            start = time.perf_counter()
            _cli(data, "print", "--ward", ward.code, "--forms", FORMS, "--out", str(out))
            walls.append(time.perf_counter() - start)
        import pymupdf

        pages = pymupdf.open(out).page_count
        size = out.stat().st_size
        print(f"ward {ward.code} ({beds} patients), forms {FORMS}: {pages} pages")
        print(f"1. whole command: median {statistics.median(walls):.2f} s "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)}); target <= 2 s")

        catalogue = load_catalogue()
        settings = Settings()
        with CacheStore.open(data, key) as store:
            request = PackRequest(ward=ward.code, forms=("news2",), cover_sheet=False)
            render_pack(request, store, catalogue, settings, out=io.BytesIO(),
                        allocate_ids=MemoryAllocator())  # warm: fonts, artwork caches
            rates = []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = render_pack(request, store, catalogue, settings, out=io.BytesIO(),
                                     allocate_ids=MemoryAllocator())
                rates.append(result.page_count / (time.perf_counter() - start))
        print(f"2. dense NEWS2 chart pages: {result.page_count} pages, median "
              f"{statistics.median(rates):.0f} pages/s; target >= 150")
        print(f"3. size: {size / pages / 1024:.1f} KB per page ({size / 1024:.0f} KB for "
              f"{pages} pages); target <= 20 KB")
        print(f"   (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
