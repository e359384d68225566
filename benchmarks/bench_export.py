"""Export 10,000 keyed forms as a FHIR transaction Bundle (issue 7: at most 10 s).

    .venv/bin/python benchmarks/bench_export.py [--forms 10000] [--tabular] [--store 1000]

The forms are a ward mix (paperfallback.export.samples.random_form): half NEWS2 charts
with three columns keyed, a quarter MARs (four regular medicines over two days and a PRN
dose), fluid balance charts with eight hours keyed, and continuation notes. Times, on an
encrypted work store in a temporary folder:

- build + select (incremental state) + write ``bundle.json`` + mark as exported;
- the same into a folder (bundle.json + NDJSON per resource type);
- a second export with nothing new (the empty Bundle), and ``--all``;
- with ``--tabular``: CSV and xlsx of the same forms;
- with ``--store N``: reading N keyed NEWS2 charts back from the entries store and
  register (paperfallback.export.from_entries), the part of ``paperfallback export``
  before the export proper.

    .venv/bin/python benchmarks/bench_export.py --growth 1,10,30 [--forms 1000] [--tabular]

runs the export at each multiple of ``--forms``, each in its own process, and prints a
growth table of peak memory (ru_maxrss; the whole run: first export, the second with
nothing new, ``--all`` into a folder, and with ``--tabular`` CSV and xlsx) and the first
export's time (issue 15: at most 300 MB for 50,000 forms, not growing with them).
``--targets`` runs 50,000 forms. The forms are made as the export reads them (a
generator, as ``paperfallback export`` reads them from the work store), so the first
export's time includes making them (about 0.7 s per 10,000).

    .venv/bin/python benchmarks/bench_export.py --send [--forms 1000] [--growth 1,10,30]

``export --to URL`` instead: the forms planned, queued in the send log and sent as
transaction Bundles of 100 entries to an EPR stand-in in the same process that accepts
every entry (``send_run.send_forms``, as ``paperfallback export --to`` runs it after
reading the forms); then a second send with nothing new. Prints the time and the peak
memory (issue 15: the peak must not grow with the forms).

    .venv/bin/python benchmarks/bench_export.py --scans 20 [--growth 1,10,30]

Scanned paper filed as DocumentReferences: N returned forms nobody keyed, two pages each
(a 150 dpi A4 greyscale JPEG of about 0.5 MB, the same bytes for every page so that making
them costs no memory), exported as ``paperfallback export --format fhir --out DIR`` does
(``pipeline.run_export``), then sent to the stand-in (``send_run.run_send``). Prints the
times and the peak memory (issue 15: it must not grow with the scanned pages).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.model import ExportedForm
from paperfallback.export.pipeline import export_forms
from paperfallback.export.samples import random_form
from paperfallback.export.send import SendOptions
from paperfallback.export.send_http import HttpAnswer, NoAuth
from paperfallback.export.state import ExportState
from paperfallback.gc_policy import gc_paused
from paperfallback.workstore import WorkStore

KEY = "0" * 64
SYSTEMS = SiteSystems.for_site("BENCH")


def _timed(label: str, action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    cpu = time.process_time()
    result = action()
    wall = time.perf_counter() - started
    print(f"  {label:<46} {wall:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    return result, wall


def _size(paths: list[Path]) -> str:
    return f"{sum(p.stat().st_size for p in paths) / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forms", type=int, default=10_000)
    parser.add_argument("--tabular", action="store_true", help="also CSV and xlsx")
    parser.add_argument("--store", type=int, default=0, metavar="N",
                        help="also read N keyed NEWS2 charts back from the entries store")
    parser.add_argument("--printed", type=int, default=0, metavar="M",
                        help="with --store: M more forms printed (each with a 3 KB page "
                             "layout, as the renderer records) and never keyed")
    parser.add_argument("--growth", metavar="F,F", help="growth table at these multiples")
    parser.add_argument("--targets", action="store_true",
                        help="the absolute target: 50,000 forms (minutes; with --tabular, "
                             "CSV and xlsx too)")
    parser.add_argument("--send", action="store_true",
                        help="export --to an in-process EPR stand-in instead of files")
    parser.add_argument("--scans", type=int, default=0, metavar="N",
                        help="N scanned forms (two pages each) filed as DocumentReferences")
    args = parser.parse_args()
    if args.scans and args.growth:
        for factor in (int(f) for f in args.growth.split(",")):
            done = subprocess.run([sys.executable, __file__, "--scans",
                                   str(args.scans * factor)],
                                  capture_output=True, text=True, check=True)
            lines = done.stdout.splitlines()
            times = [line.split()[-6] for line in lines if " s wall " in line]
            peak = next(line for line in lines if line.startswith("peak memory")).split()[2]
            first = next(line for line in lines if "peak memory so far" in line).split()[-2]
            print(f"{factor:>4}x {args.scans * factor:>6} scanned forms   export "
                  f"{times[0]:>6} s peak {first:>5} MB   then export --to {times[1]:>6} s "
                  f"peak {peak:>6} MB", flush=True)
        print("target: the peak does not grow with the scanned pages")
        return
    if args.scans:
        _bench_scans(args.scans)
        return
    if args.send and not (args.growth or args.targets):
        _bench_send(args.forms)
        return
    if args.growth or args.targets:
        factors = [50_000 // args.forms] if args.targets else [
            int(f) for f in args.growth.split(",")]
        growth_table(factors, args.forms, args.tabular, send=args.send)
        return
    def forms() -> Iterator[ExportedForm]:
        """The same forms each time, made as the export reads them: an export must not
        need them all in memory (issue 15), and neither does the benchmark."""
        rng = random.Random(7)
        return (random_form(n, rng) for n in range(args.forms))

    started = time.perf_counter()
    rows = values = 0
    for form in forms():
        rows += len(form.rows)
        values += sum(len(r.values) for r in form.rows)
    print(f"{args.forms} keyed forms made in {time.perf_counter() - started:.1f} s "
          f"({rows} rows, {values} values; made again, as read, for each export below)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        state = ExportState(WorkStore.open(folder, KEY))

        def run(out: Path, *, all_entries: bool = False, fmt: str = "fhir"):  # type: ignore[no-untyped-def]
            return export_forms(forms(), fmt=fmt, out=out, state=state,  # type: ignore[arg-type]
                                systems=SYSTEMS, pc_id="BENCH-PC", all_entries=all_entries)

        print("FHIR:")
        summary, wall = _timed("first export -> bundle.json", lambda: run(folder / "a.json"))
        total = sum(summary.counts.values())
        print(f"    {total} resources ({', '.join(f'{k} {v}' for k, v in summary.counts.items())})"
              f", {_size(summary.written)}, {total / wall:,.0f} resources/s, "
              f"{args.forms / wall:,.0f} forms/s")
        target = "MET" if wall <= 10 else "MISSED"
        print(f"    target: {args.forms} forms in <= 10 s: {target} ({wall:.2f} s)")
        summary, _ = _timed("second export, nothing new (empty Bundle)",
                            lambda: run(folder / "b.json"))
        assert summary.is_empty
        summary, _ = _timed("--all into a folder (bundle.json + NDJSON)",
                            lambda: run(folder / "all", all_entries=True))
        print(f"    {len(summary.written)} files, {_size(summary.written)}")
        if args.tabular:
            print("Spreadsheets:")
            summary, _ = _timed("CSV (one file per form type)",
                                lambda: run(folder / "csv", fmt="csv"))
            print(f"    {sum(summary.counts.values())} rows, {_size(summary.written)}")
            summary, _ = _timed("xlsx (one sheet per form type)",
                                lambda: run(folder / "x.xlsx", fmt="xlsx"))
            print(f"    {sum(summary.counts.values())} rows, {_size(summary.written)}")
        state.close()
        if args.store:
            _bench_store(folder, args.store, args.printed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")


class _AcceptingEpr:
    """An EPR stand-in in this process: every entry of every Bundle accepted."""

    def __init__(self) -> None:
        self.posts = 0

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        self.posts += 1
        entries = orjson.loads(body)["entry"]
        return HttpAnswer(200, orjson.dumps({
            "resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": "201 Created",
                                    "location": f"{e['resource']['resourceType']}/{n}"}}
                      for n, e in enumerate(entries)]}))


def _bench_send(count: int) -> None:
    """``export --to`` of ``count`` forms made as read, to the stand-in, then again."""
    from paperfallback.export.send_run import send_forms

    def forms() -> Iterator[ExportedForm]:
        rng = random.Random(7)
        return (random_form(n, rng) for n in range(count))

    with tempfile.TemporaryDirectory() as tmp:
        work = WorkStore.open(Path(tmp), KEY)
        epr = _AcceptingEpr()

        def send():  # type: ignore[no-untyped-def]
            with gc_paused():  # as paperfallback export --to does
                return send_forms(work, forms(), "https://epr.example.nhs.uk/fhir",
                                  systems=SYSTEMS, pc_id="BENCH-PC", auth=NoAuth,
                                  transport=epr, options=SendOptions(sleep=lambda _s: None))

        print(f"export --to, {count} forms made as read:")
        summary, _ = _timed("first export (plan, queue, send)", send)
        result = summary.result
        assert result is not None and not summary.stopped, summary.lines()
        print(f"    {result.accepted} entries accepted in {epr.posts} Bundles, "
              f"{summary.pending_after} pending")
        summary, _ = _timed("second send, nothing new", send)
        assert summary.result is not None and summary.result.accepted == 0
        work.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")


def _scan_jpeg() -> bytes:
    """One scanned A4 page at 150 dpi: paper noise, so the JPEG is as big as a real one."""
    import io

    from PIL import Image

    rng = random.Random(5)
    noise = bytes(rng.randrange(200, 256) for _ in range(1240 * 1754))
    out = io.BytesIO()
    Image.frombytes("L", (1240, 1754), noise).save(out, format="JPEG", quality=75)
    return out.getvalue()


def _bench_scans(count: int) -> None:
    """``count`` returned, unkeyed two-page forms exported and sent as DocumentReferences."""
    from paperfallback.export.pipeline import run_export
    from paperfallback.export.samples import synthetic_nhs_number
    from paperfallback.export.send_run import run_send
    from paperfallback.register import IssuedForm, Register
    from paperfallback.scan.store import ScanStore
    from paperfallback.settings import Settings

    page = _scan_jpeg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        work = WorkStore.open(folder, KEY)
        register, scans = Register(work, pc_code="B1"), ScanStore(work)
        printed = datetime.now(UTC) - timedelta(hours=20)
        for n in range(count):
            issued = IssuedForm(instance_id=register.instance_id(), form_id="news2",
                                form_version="1.0", scope="patient", page_count=2,
                                printed_at=printed, pc_id="bench", patient_id=f"p{n}",
                                nhs_number=synthetic_nhs_number(n),
                                patient_name=f"PATIENT, Number {n}", ward_code="AN")
            register.record(issued)
            for number in (1, 2):
                scans.add(form_id=issued.instance_id, page=number, status="identified",
                          source="bench.pdf", source_index=2 * n + number - 1, payload="",
                          image=page)
        work.close()
        print(f"{count} scanned forms, {2 * count} pages of {len(page) / 1e6:.2f} MB "
              f"({2 * count * len(page) / 1e6:.0f} MB of images)")
        settings = Settings()
        summary, _ = _timed("FHIR export into a folder", lambda: run_export(
            folder, settings, KEY, "bench", "fhir", folder / "out"))
        assert summary.counts.get("DocumentReference") == count, summary.lines()
        print(f"    {_size(summary.written)}; peak memory so far "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        sent, _ = _timed("export --to the stand-in", lambda: run_send(
            folder, settings, KEY, "bench", "https://epr.example.nhs.uk/fhir", auth=NoAuth(),
            transport=_AcceptingEpr(), options=SendOptions(sleep=lambda _s: None)))
        assert sent.result is not None and sent.result.accepted == count, sent.lines()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")


def _bench_store(folder: Path, count: int, printed: int = 0) -> None:
    """Key ``count`` NEWS2 charts (3 columns) into a real entries store, then read them;
    ``printed`` more forms in the register, never keyed (the export must not read them)."""
    from paperfallback.export.from_entries import read_forms
    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
    from paperfallback.reentry.store import EntriesStore, FieldWrite
    from paperfallback.reentry.workflow import finish_pass
    from paperfallback.register import IssuedForm, Register

    conn = WorkStore.open(folder, KEY)
    register = Register(conn, pc_code="B1")
    store = EntriesStore(conn)
    printed_at = datetime.now(UTC) - timedelta(hours=20)
    started = time.perf_counter()
    issued = [
        IssuedForm(instance_id=register.instance_id(), form_id="news2", form_version="1.0",
                   scope="patient", page_count=1, printed_at=printed_at, pc_id="bench",
                   patient_id=f"p{i}", nhs_number="9990000018",
                   patient_name=f"PATIENT, Number {i}", ward_code="AN", blank_columns=8)
        for i in range(count)
    ]
    register.record(issued)
    for start in range(0, printed, 1000):
        register.record([
            IssuedForm(instance_id=register.instance_id(), form_id="mar", form_version="1.1",
                       scope="patient", page_count=2, printed_at=printed_at, pc_id="bench",
                       patient_id=f"q{n}", nhs_number="9990000018",
                       patient_name=f"PATIENT, Other {n}", ward_code="AN",
                       extra={"scan_layout": "x" * 3_000})
            for n in range(start, min(printed, start + 1000))])
    if printed:
        print(f"Register: {printed} more forms printed and never keyed (3 KB layout each)")
    values = {"resp_rate": "18", "spo2": "96", "spo2_scale": "1", "oxygen": "A", "sbp": "124",
              "dbp": "78", "pulse": "80", "acvpu": "A", "temp": "37.0", "initials": "AB"}
    for form in issued:
        writes = []
        for column in range(3):
            when = (printed_at + timedelta(hours=1 + 4 * column)).isoformat()
            for field_id, text in {**values, "obs_time": when}.items():
                writes.append(FieldWrite(FieldAddress(form.instance_id, "observations", column,
                                                      field_id), text, EntryState.VALUE))
        store.save_many(writes, EntryPass.FIRST, clerk="Bench", form_id="news2")
        finish_pass(store, form.instance_id, EntryPass.FIRST, double_entry=False, by="Bench")
    print(f"Entries store: {count} NEWS2 charts keyed in {time.perf_counter() - started:.1f} s "
          "(set-up, not timed below)")
    catalogue = load_catalogue()
    def read():  # type: ignore[no-untyped-def]
        with gc_paused():  # as paperfallback export does
            return read_forms(store, register, catalogue, None, site_code="BENCH")

    result, wall = _timed(f"read {count} keyed forms back (from_entries)", read)
    assert len(result.forms) == count, result.problems[:3]
    print(f"    {count / wall:,.0f} forms/s; 10,000 forms would take about "
          f"{10_000 * wall / count:.1f} s")
    conn.close()


def growth_table(factors: list[int], forms: int, tabular: bool, *, send: bool = False) -> None:
    """Peak memory and first-export time at each multiple of ``forms``, one process each."""
    what = "export --to" if send else "first FHIR export"
    for factor in factors:
        done = subprocess.run(
            [sys.executable, __file__, "--forms", str(forms * factor),
             *(["--tabular"] if tabular else []), *(["--send"] if send else [])],
            capture_output=True, text=True, check=True)
        lines = done.stdout.splitlines()
        first = next(line for line in lines if "first export" in line).split()[-6]
        peak = next(line for line in lines if line.startswith("peak memory")).split()[2]
        print(f"{factor:>4}x {forms * factor:>7} forms   {what} {first:>7} s   "
              f"peak {peak:>6} MB", flush=True)
    print("target: peak <= 300 MB for 50,000 forms (it must not grow with the forms)")


if __name__ == "__main__":
    main()
