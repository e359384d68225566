"""Import a keying workbook of 5,000 NEWS2 rows (625 charts x 8 time columns).

    .venv/bin/python benchmarks/bench_workbook_import.py [--rows 5000]

Target (issue 6): 5,000 rows in at most 10 s on the 2-core build machine. Prints the
time to build the workbook, to import it, and to import it again (idempotent: nothing
changes the second time; issue 15: at most 25 % of the first import, the unchanged rows
being skipped by their recorded hash), and after one cell was changed (its form's rows
are read and checked again, the others skipped).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from paperfallback.formspec import load_catalogue
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import import_workbook
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "0" * 64


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    rows = parser.parse_args().rows
    catalogue = load_catalogue()
    form = catalogue.get("news2")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conn = WorkStore.open(folder, KEY)
        register = Register(conn, pc_code="B1")
        printed = datetime.now(UTC) - timedelta(hours=20)
        issued = [
            IssuedForm(instance_id=register.instance_id(), form_id="news2", form_version="1.0",
                       scope="patient", page_count=1, printed_at=printed, pc_id="bench",
                       patient_id=f"p{i}", patient_name=f"PATIENT, Number {i}",
                       ward_code="AN", blank_columns=8)
            for i in range((rows + 7) // 8)
        ]
        register.record(issued)
        path = folder / "batch.xlsx"
        started = time.perf_counter()
        build_workbook(form, issued, path)
        built = time.perf_counter() - started
        wb = load_workbook(path)
        ws = wb["news2"]
        header = [c.value for c in ws[1]]
        for row in range(3, 3 + rows):
            column = (row - 3) % 8
            when = printed + timedelta(hours=1 + 2 * column)
            values = {"obs_time": when.strftime("%d/%m/%Y %H:%M"), "resp_rate": 18,
                      "spo2": 96, "spo2_scale": "1", "oxygen": "A", "sbp": 124, "dbp": 78,
                      "pulse": 72, "acvpu": "A", "temp": 36.8, "news2_total": 0,
                      "initials": "AB"}
            for field_id, value in values.items():
                ws.cell(row=row, column=header.index(field_id) + 1, value=value)
        wb.save(path)
        store = EntriesStore(conn)
        timings = []
        for run in range(3):
            if run == 2:  # one cell changed, as a clerk fixing a row and saving
                wb = load_workbook(path)
                wb["news2"].cell(row=3 + rows // 2, column=header.index("pulse") + 1,
                                 value=75)
                wb.save(path)
            started = time.perf_counter()
            result = import_workbook(path, catalogue=catalogue, lookup=register.get,
                                     store=store, clerk="Bench")
            timings.append((time.perf_counter() - started, result))
        conn.close()
    (first, r1), (second, r2), (third, r3) = timings
    print(f"rows: {rows}  fields per row: 12")
    print(f"build workbook: {built:.2f} s")
    print(f"import: {first:.2f} s ({rows / first:.0f} rows/s), rows imported "
          f"{r1.rows_imported}, problems {len(r1.problems)}, fields saved {r1.fields_changed}")
    print(f"import again: {second:.2f} s = {second / first:.0%} of the first "
          f"(target <= 25 %: {'PASS' if second <= 0.25 * first else 'FAIL'}), rows unchanged "
          f"{r2.rows_unchanged}, fields changed {r2.fields_changed} (idempotent)")
    print(f"one cell changed and saved: {third:.2f} s = {third / first:.0%} of the first, "
          f"rows unchanged {r3.rows_unchanged}, fields changed {r3.fields_changed}")
    print(f"target <= 10 s: {'PASS' if first <= 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
