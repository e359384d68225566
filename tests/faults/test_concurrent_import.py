"""Fault 6: two ``entries import`` of one workbook at once, and an import while another
process holds the work store's write lock. No traceback (it was ``OperationalError:
cannot rollback``), no duplicate, and a clear "busy ... try again" when the wait runs out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pf_fault_helpers import KEY, Run


def _workbook(tmp_path: Path, run: Run, record_issued: Callable[..., list[Any]]) -> Path:
    printed = datetime.now(UTC) - timedelta(hours=4)
    record_issued("news2", 3, patient_id="p1", patient_name="ÖZTÜRK, Emre",
                  nhs_number="9990000026", ward_code="AN", printed_at=printed)
    out = tmp_path / "batch.xlsx"
    assert run("entries", "workbook", "--form", "news2", "--ward", "an", "--out", str(out))[0] == 0
    wb = load_workbook(out)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%d/%m/%Y %H:%M")
    column = {"obs_time": when, "resp_rate": 18, "spo2": 96, "oxygen": "A", "sbp": 120,
              "pulse": 80, "acvpu": "A", "temp": 37.0, "news2_total": 0, "initials": "EÖ"}
    for row in range(3, ws.max_row + 1, 8):
        for field_id, value in column.items():
            ws.cell(row=row, column=header.index(field_id) + 1, value=value)
    wb.save(out)
    return out


def _import(data_dir: Path, workbook: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PAPERFALLBACK_DATA_DIR=str(data_dir), PAPERFALLBACK_KEY=KEY)
    return subprocess.Popen(
        [sys.executable, "-m", "paperfallback", "entries", "import", str(workbook),
         "--clerk", "Siân"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _keyed_count(run: Run) -> int:
    code, out, _err = run("entries", "status", "--json")
    assert code == 0
    return sum(1 for i in json.loads(out)["instances"] if i["status"] != "printed")


def test_two_imports_of_one_workbook_at_once(
        data_dir: Path, tmp_path: Path, run: Run,
        record_issued: Callable[..., list[Any]]) -> None:
    workbook = _workbook(tmp_path, run, record_issued)
    first, second = _import(data_dir, workbook), _import(data_dir, workbook)
    results = [(p.wait(120), *p.communicate()) for p in (first, second)]
    for code, out, err in results:
        assert "Traceback" not in err and "OperationalError" not in err, err
        assert code == 0 or ("busy" in err and "try again" in err), (code, out, err)
    assert any(code == 0 for code, _out, _err in results)
    assert _keyed_count(run) == 3  # one record per form, whichever import saved it


HOLDER = textwrap.dedent("""
    import sys, time
    import sqlcipher3
    conn = sqlcipher3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA key = '" + sys.argv[2] + "'")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO work_meta VALUES ('held', 'by a test')")
    print("held", flush=True)
    time.sleep(30)
""")


def test_an_import_meeting_a_held_lock_says_busy_and_saves_nothing(
        data_dir: Path, tmp_path: Path, run: Run, blank_prints: Callable[[], str],
        record_issued: Callable[..., list[Any]]) -> None:
    workbook = _workbook(tmp_path, run, record_issued)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir / "work.db"), KEY],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code, _out, err = run("entries", "import", str(workbook), "--clerk", "Siân")
        assert code == 1 and "busy" in err and "try again" in err
        assert time.monotonic() - started < 15
        blank_prints()  # numbered from the reserve while the register is busy
    finally:
        holder.kill()
        holder.wait()
    assert _keyed_count(run) == 0
    assert run("entries", "import", str(workbook), "--clerk", "Siân")[0] == 0
    assert _keyed_count(run) == 3
