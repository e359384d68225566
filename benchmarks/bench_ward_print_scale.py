#!/usr/bin/env python3
"""A ward of 28 printed from a small and a very large hospital's cache (issue 15, goal 2).

    .venv/bin/python benchmarks/bench_ward_print_scale.py [--sizes 1500,50000] [--runs 5]

For each size, builds a cache holding the demo hospital (seed 7: ward W3 has 28 beds, all
occupied, with 24-72 h of observations and prescriptions) plus filler inpatients on other
wards up to that many inpatients, every filler with an SpO2 scale recorded (the
hospital-wide data a ward print must not pay for). Then prints ward W3 (handover, NEWS2,
MAR, fluid balance) two ways: rendered in-process (median of ``--runs``) and as the whole
``paperfallback print`` command (fresh processes, alternating between the sizes,
median of ``--runs``).

Target: the same time (within 10 %) whatever the hospital's size.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = ("handover", "news2", "mar", "fluid-balance")
WARD = "W3"


def _filled(snapshot, inpatients: int):  # type: ignore[no-untyped-def]
    from paperfallback.domain.records import Patient, Sex, Stay, Ward

    extra = max(0, inpatients - len(snapshot.stays))
    patients, stays, wards = [], [], []
    for i in range(extra):
        ward = f"F{i // 28:04d}"
        if i % 28 == 0:
            wards.append(Ward(ward, f"Filler ward {i // 28}"))
        patients.append(Patient(id=f"fill-{i}", nhs_number=None, hospital_number=f"F{i:07d}",
                                family=f"Filler{i % 997}", given="Test",
                                birth_date=date(1940 + i % 60, 1 + i % 12, 1), sex=Sex.FEMALE))
        stays.append(Stay(id=f"fill-stay-{i}", patient_id=f"fill-{i}", ward_code=ward,
                          bed=f"Bed {i % 28 + 1}"))
    scales = dict(snapshot.spo2_scale)
    scales.update({p.id: 1 + i % 2 for i, p in enumerate(patients)})
    return dataclasses.replace(
        snapshot, patients=snapshot.patients + tuple(patients),
        stays=snapshot.stays + tuple(stays), wards=snapshot.wards + tuple(wards),
        spo2_scale=scales)


def build(size: int, tmp: Path, key: str) -> Path:
    from paperfallback.cache.demo import write_demo_extract
    from paperfallback.cache.importers import read_extract
    from paperfallback.cache.store import CacheStore

    data = tmp / f"data-{size}"
    data.mkdir()
    snapshot = _filled(read_extract([write_demo_extract(tmp / f"extract-{size}", seed=7)]),
                       size)
    with CacheStore.open(data, key) as store:
        store.replace_snapshot(snapshot, force=True)
    return data


def render_seconds(data: Path, runs: int, key: str) -> tuple[float, int]:
    """Median seconds to render the ward pack in-process from an open cache."""
    from paperfallback.cache.store import CacheStore
    from paperfallback.formspec import load_catalogue
    from paperfallback.register import MemoryAllocator
    from paperfallback.render import PackRequest, render_pack
    from paperfallback.settings import Settings

    catalogue, settings = load_catalogue(), Settings()
    request = PackRequest(ward=WARD, forms=FORMS, cover_sheet=False)
    walls = []
    with CacheStore.open(data, key) as store:
        for run in range(runs + 1):
            start = time.perf_counter()
            result = render_pack(request, store, catalogue, settings, out=io.BytesIO(),
                                 allocate_ids=MemoryAllocator())
            if run:  # the first run warms fonts and artwork
                walls.append(time.perf_counter() - start)
    return statistics.median(walls), result.page_count


def command_seconds(folders: list[Path], runs: int, key: str, tmp: Path) -> list[float]:
    """Median seconds of the whole print command per folder, runs alternating between
    the folders so a busy machine weighs on each alike."""
    env = {**os.environ, "PAPERFALLBACK_KEY": key}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as an installed app has
    walls: list[list[float]] = [[] for _ in folders]
    for run in range(runs + 1):
        for i, data in enumerate(folders):
            command = [sys.executable, "-m", "paperfallback", "--data-dir", str(data),
                       "print", "--ward", WARD, "--forms", ",".join(FORMS),
                       "--out", str(tmp / "pack.pdf")]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=env)
            if run:
                walls[i].append(time.perf_counter() - start)
    return [statistics.median(w) for w in walls]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1500,50000", help="inpatients, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = secrets.token_hex(32)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="pf-bench-scale-") as tmp:
        folders = [build(size, Path(tmp), key) for size in sizes]
        rendered = [render_seconds(data, args.runs, key) for data in folders]
        whole = command_seconds(folders, args.runs, key, Path(tmp))
    for size, (render_s, pages), command_s in zip(sizes, rendered, whole, strict=True):
        print(f"{size:>7} inpatients   ward {WARD}: {pages} pages   "
              f"rendered in-process {render_s:6.3f} s   whole command {command_s:6.3f} s")
    print(f"largest / smallest: in-process {rendered[-1][0] / rendered[0][0]:.2f}x, "
          f"whole command {whole[-1] / whole[0]:.2f}x   target 0.90-1.10x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
