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

    .venv/bin/python benchmarks/bench_import.py --tables 500 [--growth 1,10,30]

A CSV extract instead (``wards.csv``, ``patients.csv``, ``stays.csv`` and
``observations.csv``: N inpatients with 100 observations each, written a row at a time),
imported the same way: prints the import time and the peak memory; with ``--growth``, one
process per multiple (issue 15: CSV/xlsx tables must not be held whole either).
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


def _write_tables(folder: Path, inpatients: int) -> int:
    """A CSV extract written a row at a time (nothing held): returns the observations."""
    import csv

    folder.mkdir(parents=True)
    rng = random.Random(3)
    kinds = ("resp_rate", "spo2", "sbp", "pulse", "temp")
    with (folder / "wards.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["code", "name"])
        out.writerows([f"W{w}", f"Ward {w}"] for w in range(40))
    count = 0
    with (folder / "patients.csv").open("w", newline="") as pf, \
            (folder / "stays.csv").open("w", newline="") as sf, \
            (folder / "observations.csv").open("w", newline="") as of:
        patients, stays, observations = csv.writer(pf), csv.writer(sf), csv.writer(of)
        patients.writerow(["id", "nhs_number", "hospital_number", "family", "given",
                           "birth_date", "sex"])
        stays.writerow(["id", "patient_id", "ward_code", "bed", "admitted_at"])
        observations.writerow(["id", "patient_id", "kind", "effective", "value", "unit"])
        for n in range(inpatients):
            pid = f"p{n}"
            patients.writerow([pid, "", f"H{n:07d}", f"FAMILY{n % 997}", "Given",
                               "1950-01-01", "female"])
            stays.writerow([f"s{n}", pid, f"W{n % 40}", str(n % 28 + 1),
                            "2026-01-12T08:00:00+00:00"])
            for k in range(100):
                when = datetime.fromtimestamp(NOW.timestamp() - 2600 * (k + 1), UTC)
                observations.writerow([f"o{n}-{k}", pid, kinds[k % 5], when.isoformat(),
                                       str(rng.randrange(12, 100)), ""])
                count += 1
    return count


def bench_tables(inpatients: int) -> int:
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        extract, data = Path(tmp) / "tables", Path(tmp) / "data"
        data.mkdir()
        observations = _write_tables(extract, inpatients)
        size_mb = sum(f.stat().st_size for f in extract.iterdir()) / 1e6
        store = CacheStore.open(data, "bench-key-not-secret")
        started = time.perf_counter()
        result = store.import_extract([extract], force=True, now=NOW)
        took = time.perf_counter() - started
        store.close()
    print(f"CSV extract: {inpatients} inpatients, {observations} observations "
          f"({size_mb:.0f} MB); stored {result.counts['observations']} observations")
    print(f"import: {took:.1f} s")
    print(f"peak memory (ru_maxrss): {_peak_mb():.0f} MB")
    return 0


def tables_growth(inpatients: int, growth: str) -> int:
    for factor in (int(f) for f in growth.split(",")):
        done = subprocess.run([sys.executable, __file__, "--tables", str(inpatients * factor)],
                              capture_output=True, text=True, check=True)
        lines = done.stdout.splitlines()
        took = next(line for line in lines if line.startswith("import:")).split()[1]
        peak = next(line for line in lines if line.startswith("peak memory")).split()[-2]
        print(f"{factor:>4}x {inpatients * factor:>6} inpatients {inpatients * factor * 100:>9} "
              f"observations (CSV)   import {took:>6} s   peak {peak:>6} MB", flush=True)
    print("target: the peak does not grow with the tables")
    return 0


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
    parser.add_argument("--tables", type=int, default=0, metavar="N",
                        help="a CSV extract of N inpatients (100 observations each) instead")
    args = parser.parse_args()
    if args.tables:
        return tables_growth(args.tables, args.growth) if args.growth else bench_tables(
            args.tables)
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
