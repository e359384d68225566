#!/usr/bin/env python3
"""``paperfallback print --ward`` against a hand-tuned page writer, paired in one run (issue 15).

    .venv/bin/python benchmarks/bench_print_ratio.py [--runs 5]

Builds the demo hospital twice (one data folder with a passphrase key, one with a raw
256-bit hex key), then for each key runs, alternately and each as a fresh process,
``paperfallback print --ward W3 --forms handover,news2,mar,fluid-balance`` (145 pages) and
``benchmarks/reference_page_writer.py`` writing the same number of pages. Alternating
pairs keeps a busy shared machine fair to both sides.

Figures printed per key: median wall seconds of each side, the median of the per-pair
ratios (reference seconds / command seconds = the command's pages per second as a share of
the reference's) and the command's peak memory. Target: ratio >= 0.67 (two thirds).
The median CPU-time ratio (user + system seconds of each child) is printed beside it: on a
machine shared with other work it moves far less than wall time. (With a passphrase key
the command also spends CPU deriving the key on a second core while it imports, so its
CPU-time ratio there is lower than its wall-time ratio.)
Both sides run with bytecode caching on (PYTHONDONTWRITEBYTECODE unset), as installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = "handover,news2,mar,fluid-balance"
WARD = "W3"  # the demo's full 28-bed ward (paperfallback.cache.demo.FULL_WARD_CODE)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    wall, _cpu, stdout = _timed(cmd, env)
    return wall, stdout


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and the output of a run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, done.stdout


def _children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def measure(label: str, key: str, runs: int, tmp: Path) -> tuple[float, float, float]:
    env = {**os.environ, "PAPERFALLBACK_KEY": key, "QT_QPA_PLATFORM": "offscreen"}
    # Compiled bytecode, as an installed app has it (the warm-up runs write it): without
    # it every run recompiles the package's modules, a cost no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    data = tmp / label
    data.mkdir()
    base = [sys.executable, "-m", "paperfallback", "--data-dir", str(data)]
    _run([*base, "demo", "--seed", "7"], env)
    out = tmp / f"{label}.pdf"
    cmd = [*base, "print", "--ward", WARD, "--forms", FORMS, "--out", str(out), "--json"]
    _, stdout = _run(cmd, env)  # warm the file cache; learn the page count
    import json

    pages = int(json.loads(stdout)["pages"])
    ref = [sys.executable, str(ROOT / "benchmarks" / "reference_page_writer.py"),
           "--pages", str(pages), "--out", str(tmp / "ref.pdf")]
    _run(ref, env)
    ratios, cpu_ratios, cmd_walls, ref_walls = [], [], [], []
    for _ in range(runs):
        ref_wall, ref_cpu, _ = _timed(ref, env)
        cmd_wall, cmd_cpu, _ = _timed(cmd, env)
        ref_walls.append(ref_wall)
        cmd_walls.append(cmd_wall)
        ratios.append(ref_wall / cmd_wall)
        cpu_ratios.append(ref_cpu / cmd_cpu)
    cmd_s, ref_s, ratio, cpu_ratio = (statistics.median(v) for v in (
        cmd_walls, ref_walls, ratios, cpu_ratios))
    print(f"{label:<16} {pages:>5} pages   print {cmd_s:5.2f} s ({pages / cmd_s:5.0f} pages/s)"
          f"   reference {ref_s:5.2f} s ({pages / ref_s:5.0f} pages/s)"
          f"   ratio {ratio:4.2f} (1/{1 / ratio:.1f}x)   CPU-time ratio {cpu_ratio:4.2f}")
    return cmd_s, ref_s, ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="pairs per key (default 5)")
    args = parser.parse_args()
    print(f"paperfallback print --ward {WARD} --forms {FORMS} vs reference_page_writer.py; "
          f"{args.runs} alternating pairs per key, medians")
    with tempfile.TemporaryDirectory(prefix="pf-bench-ratio-") as tmp:
        passphrase = measure("passphrase key", "bench passphrase, not secret", args.runs,
                             Path(tmp))
        raw = measure("raw key", secrets.token_hex(32), args.runs, Path(tmp))
    print(f"paired ratio (reference s / print s): passphrase {passphrase[2]:.2f}, "
          f"raw {raw[2]:.2f}   target >= 0.67")
    print(f"peak memory of a child process (ru_maxrss): {_children_peak_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
