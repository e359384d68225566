"""Import a whole-hospital extract and search it (issue 3 targets; issue 15 memory).

    .venv/bin/python benchmarks/bench_import.py [--inpatients 1500] [--appointments 30000]

Generates 1,500 inpatients with 72 h of observations and active prescriptions plus 30,000
outpatient appointments (the demo generator, FHIR Bulk Data NDJSON, written by a child
process so this one measures only the import), imports it as ``paperfallback cache import``
does (``CacheStore.import_extract``: streamed into the cache a batch at a time) into a
temporary data folder, and prints the import time, patient-search p95 by name prefix /
NHS number / hospital number (200 queries each) and the peak memory (ru_maxrss) after the
import. Targets: import <= 20 s, p95 <= 20 ms, <= 400 MB. ``--in-memory`` imports the old
way instead (read_extract into a Snapshot, then replace_snapshot) for comparison.

    .venv/bin/python benchmarks/bench_import.py --growth 1,10,30 [--inpatients 500]

runs the import at each multiple of the size (inpatients and appointments), each in its
own process, and prints a growth table of import time and peak memory (issue 15: the
peak must not grow with the extract). ``--targets`` runs the absolute targets instead:
15,000 and 50,000 inpatients (with 30,000 and 100,000 appointments), peak <= 400 MB each.
These take minutes and gigabytes of disk: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from paperfallback.cache.store import CacheStore
from paperfallback.domain.codec import from_json
from paperfallback.domain.records import Patient

SEARCH_LIMIT = 50  # what the app's search box shows
NOW = datetime(2026, 1, 14, 9, 30, tzinfo=UTC)
TARGETS = ((15_000, 30_000), (50_000, 100_000))  # (inpatients, appointments)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _generate(extract: Path, inpatients: int, appointments: int) -> None:
    """The demo extract, written by a child process (its memory is not the import's)."""
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from datetime import datetime; from pathlib import Path; "
         "from paperfallback.cache.demo import write_demo_extract; "
         "write_demo_extract(Path(sys.argv[1]), seed=1, now=datetime.fromisoformat(sys.argv[2]),"
         " inpatients=int(sys.argv[3]), appointments=int(sys.argv[4]), observation_hours=72)",
         str(extract), NOW.isoformat(), str(inpatients), str(appointments)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inpatients", type=int, default=1500)
    parser.add_argument("--appointments", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--growth", metavar="F,F", help="growth table at these multiples")
    parser.add_argument("--targets", action="store_true",
                        help="15,000 and 50,000 inpatients (minutes, gigabytes of disk)")
    parser.add_argument("--in-memory", action="store_true",
                        help="the old way: read_extract (a Snapshot), then replace_snapshot")
    args = parser.parse_args()
    if args.growth or args.targets:
        sizes = ([(i, a, f"{i // 1000}k") for i, a in TARGETS] if args.targets else
                 [(args.inpatients * int(f), args.appointments * int(f), f"{f}x")
                  for f in args.growth.split(",")])
        return growth_table(sizes, args.in_memory)
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        extract, data = Path(tmp) / "extract", Path(tmp) / "data"
        data.mkdir()
        started = time.perf_counter()
        _generate(extract, args.inpatients, args.appointments)
        generated = time.perf_counter() - started
        size_mb = sum(f.stat().st_size for f in extract.iterdir()) / 1e6
        store = CacheStore.open(data, "bench-key-not-secret")
        started, cpu = time.perf_counter(), time.process_time()
        if args.in_memory:
            from paperfallback.cache.importers import read_extract

            result = store.replace_snapshot(read_extract([extract]), force=True)
        else:
            result = store.import_extract([extract], force=True)
        import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
        import_peak = _peak_mb()
        counts = result.counts
        rng = random.Random(5)
        rowids = rng.sample(range(1, counts["patients"] + 1),
                            min(args.queries, counts["patients"]))
        sample = [  # a random sample without loading every patient (that is not the import's)
            from_json(Patient, json.loads(store._conn.execute(
                "SELECT data FROM patients WHERE rowid = ?", (r,)).fetchone()[0]))
            for r in rowids]
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
    how = "read_extract + replace_snapshot (in memory)" if args.in_memory else "streamed"
    print(f"extract: {counts['patients']} patients, {counts['stays']} inpatients, "
          f"{counts['observations']} observations, {counts['prescriptions']} prescriptions, "
          f"{counts['appointments']} appointments, {counts['theatre_cases']} theatre cases "
          f"({size_mb:.0f} MB NDJSON, generated in {generated:.1f} s)")
    print(f"import: {import_s:.1f} s ({how})   target <= 20 s")
    print(f"import CPU time: {import_cpu:.1f} s (wall minus CPU = waiting for the other core)")
    for label, (p95, median) in results.items():
        print(f"search by {label:<15}: p95 {p95:6.1f} ms (median {median:.1f} ms)   "
              "target <= 20 ms")
    print(f"(searches return the first {SEARCH_LIMIT} matches, as the app's search box shows; "
          f"every match decoded, as `paperfallback patients --search` does: name prefix p95 "
          f"{_p95(full_name_search):.1f} ms)")
    print(f"peak memory (ru_maxrss): {import_peak:.0f} MB after the import, {_peak_mb():.0f} MB "
          "after the searches   target <= 400 MB")
    return 0


def growth_table(sizes: list[tuple[int, int, str]], in_memory: bool) -> int:
    """Import time and peak memory at each size, one process each."""
    for inpatients, appointments, label in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--inpatients", str(inpatients),
             "--appointments", str(appointments), "--queries", "20",
             *(["--in-memory"] if in_memory else [])],
            capture_output=True, text=True, check=True)
        lines = done.stdout.splitlines()
        extract = next(line for line in lines if line.startswith("extract:"))
        wall = next(line for line in lines if line.startswith("import:")).split()[1]
        peak = next(line for line in lines if line.startswith("peak memory")).split()[3]
        print(f"{label:>5} {inpatients:>7} inpatients {extract.split(',')[2].split()[0]:>10} "
              f"observations {appointments:>7} appointments   import {wall:>6} s   "
              f"peak {peak:>6} MB", flush=True)
    print("target: peak <= 400 MB at every size (it must not grow with the extract)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
