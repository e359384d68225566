"""Import a whole-hospital extract and search it (issue 3 targets).

    .venv/bin/python benchmarks/bench_import.py [--inpatients 1500] [--appointments 30000]

Generates 1,500 inpatients with 72 h of observations and active prescriptions plus 30,000
outpatient appointments (the demo generator, FHIR Bulk Data NDJSON), imports it through
read_extract + CacheStore.replace_snapshot into a temporary data folder, and prints the
import time, patient-search p95 by name prefix / NHS number / hospital number (200 queries
each) and the peak memory (ru_maxrss). Targets: import <= 20 s, p95 <= 20 ms, <= 400 MB.

    .venv/bin/python benchmarks/bench_import.py --growth 1,10,30 [--inpatients 1500]

runs the import at each multiple of the size (inpatients and appointments), each in its
own process, and prints a growth table of import time and peak memory (issue 15: the
peak must not grow with the extract; target <= 400 MB at 15,000 and 50,000 inpatients).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from paperfallback.cache.demo import write_demo_extract
from paperfallback.cache.importers import read_extract
from paperfallback.cache.store import CacheStore

SEARCH_LIMIT = 50  # what the app's search box shows

def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inpatients", type=int, default=1500)
    parser.add_argument("--appointments", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--growth", metavar="F,F", help="growth table at these multiples")
    args = parser.parse_args()
    if args.growth:
        return growth_table([int(f) for f in args.growth.split(",")], args)
    now = datetime(2026, 1, 14, 9, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        extract, data = Path(tmp) / "extract", Path(tmp) / "data"
        data.mkdir()
        started = time.perf_counter()
        write_demo_extract(extract, seed=1, now=now, inpatients=args.inpatients,
                           appointments=args.appointments, observation_hours=72)
        generated = time.perf_counter() - started
        size_mb = sum(f.stat().st_size for f in extract.iterdir()) / 1e6
        started, cpu = time.perf_counter(), time.process_time()
        snapshot = read_extract([extract])
        read_s, read_cpu = time.perf_counter() - started, time.process_time() - cpu
        store = CacheStore.open(data, "bench-key-not-secret")
        started, cpu = time.perf_counter(), time.process_time()
        store.replace_snapshot(snapshot, force=True)
        store_s, store_cpu = time.perf_counter() - started, time.process_time() - cpu
        counts = snapshot.counts()
        patients = list(snapshot.patients)
        del snapshot
        rng = random.Random(5)
        sample = rng.sample(patients, min(args.queries, len(patients)))
        queries = {
            "name prefix": [p.family[:4] for p in sample],
            "NHS number": [p.nhs_number or "9990000026" for p in sample],
            "hospital number": [p.hospital_number or "" for p in sample],
        }
        results = {}
        for label, texts in queries.items():
            timings = []
            for text in texts:
                t0 = time.perf_counter()
                store.patients(search=text, limit=SEARCH_LIMIT)
                timings.append(time.perf_counter() - t0)
            results[label] = (_p95(timings), statistics.median(timings) * 1000)
        full_name_search = []
        for text in queries["name prefix"][:50]:
            t0 = time.perf_counter()
            store.patients(search=text)
            full_name_search.append(time.perf_counter() - t0)
        store.close()
    print(f"extract: {counts['patients']} patients, {counts['stays']} inpatients, "
          f"{counts['observations']} observations, {counts['prescriptions']} prescriptions, "
          f"{counts['appointments']} appointments, {counts['theatre_cases']} theatre cases "
          f"({size_mb:.0f} MB NDJSON, generated in {generated:.1f} s)")
    print(f"import: {read_s + store_s:.1f} s (read_extract {read_s:.1f} s + "
          f"replace_snapshot {store_s:.1f} s)   target <= 20 s")
    print(f"import CPU time: {read_cpu + store_cpu:.1f} s (read_extract {read_cpu:.1f} s + "
          f"replace_snapshot {store_cpu:.1f} s; wall minus CPU = waiting for the other core)")
    for label, (p95, median) in results.items():
        print(f"search by {label:<15}: p95 {p95:6.1f} ms (median {median:.1f} ms)   "
              "target <= 20 ms")
    print(f"(searches return the first {SEARCH_LIMIT} matches, as the app's search box shows; "
          f"every match decoded, as `paperfallback patients --search` does: name prefix p95 "
          f"{_p95(full_name_search):.1f} ms)")
    print(f"peak memory (ru_maxrss): {_peak_mb():.0f} MB   target <= 400 MB")
    return 0


def growth_table(factors: list[int], args: argparse.Namespace) -> int:
    """Import time and peak memory at each multiple of the size, one process each."""
    rows = []
    for factor in factors:
        inpatients, appointments = args.inpatients * factor, args.appointments * factor
        done = subprocess.run(
            [sys.executable, __file__, "--inpatients", str(inpatients),
             "--appointments", str(appointments), "--queries", "20"],
            capture_output=True, text=True, check=True)
        lines = done.stdout.splitlines()
        extract = next(line for line in lines if line.startswith("extract:"))
        wall = next(line for line in lines if line.startswith("import:")).split()[1]
        peak = next(line for line in lines if line.startswith("peak memory")).split()[3]
        rows.append((factor, inpatients, extract.split(",")[2].split()[0], wall, peak))
        print(f"{factor:>4}x {inpatients:>7} inpatients {rows[-1][2]:>10} observations   "
              f"import {wall:>6} s   peak {peak:>6} MB", flush=True)
    print("target: peak <= 400 MB at every size (it must not grow with the extract)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
