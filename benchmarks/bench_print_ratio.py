#!/usr/bin/env python3
"""The whole ``print --ward`` command against a hand-tuned page writer, as a paired ratio.

    .venv/bin/python benchmarks/bench_print_ratio.py [--pairs 5]

For each key kind (a raw 256-bit hex key as production uses, and a passphrase, which costs
a key derivation per store opened), builds the demo hospital, then runs in alternation, in
fresh processes, ``paperfallback print --ward <the demo's 28-bed ward> --forms
handover,news2,mar,fluid-balance --out pack.pdf`` and ``benchmarks/reference_page_writer.py``
writing the same number of pages. Pairing the runs cancels most of the noise of a shared
machine. Prints each side's pages per second and the median ratio
(PaperFallback pages/s ÷ reference pages/s). Target (issue #15): ratio >= 0.67.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = "handover,news2,mar,fluid-balance"
TARGET = 2 / 3


def _run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
    return time.perf_counter() - start


def _pages(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def measure(kind: str, key: str, pairs: int, tmp: Path) -> float:
    env = dict(os.environ, PAPERFALLBACK_KEY=key)
    data = tmp / f"data-{kind}"
    data.mkdir()
    pf = [sys.executable, "-m", "paperfallback", "--data-dir", str(data)]
    subprocess.run([*pf, "demo", "--seed", "7"], check=True, cwd=ROOT, env=env,
                   capture_output=True)
    sys.path.insert(0, str(ROOT))
    from paperfallback.cache.demo import FULL_WARD_CODE

    pack, ref = tmp / f"pack-{kind}.pdf", tmp / f"ref-{kind}.pdf"
    print_cmd = [*pf, "print", "--ward", FULL_WARD_CODE, "--forms", FORMS, "--out", str(pack)]
    _run(print_cmd, env)  # warm the page cache and the bytecode
    pages = _pages(pack)
    ref_cmd = [sys.executable, str(ROOT / "benchmarks" / "reference_page_writer.py"),
               "--pages", str(pages), "--out", str(ref)]
    _run(ref_cmd, env)
    ratios, ours, theirs = [], [], []
    for _ in range(pairs):
        a = _run(print_cmd, env)
        b = _run(ref_cmd, env)
        ours.append(pages / a)
        theirs.append(pages / b)
        ratios.append((pages / a) / (pages / b))
    ratio = statistics.median(ratios)
    print(f"{kind} key: {pages} pages; paperfallback print median {statistics.median(ours):.0f} "
          f"pages/s ({pages / statistics.median(ours):.2f} s), reference median "
          f"{statistics.median(theirs):.0f} pages/s ({pages / statistics.median(theirs):.2f} s); "
          f"paired ratio median {ratio:.2f} (runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"target >= {TARGET:.2f} {'MET' if ratio >= TARGET else 'NOT MET'}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-bench-ratio-") as name:
        tmp = Path(name)
        measure("raw", secrets.token_hex(32), args.pairs, tmp)
        measure("passphrase", "correct horse battery staple", args.pairs, tmp)
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
