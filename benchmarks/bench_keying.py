"""Key a whole NEWS2 chart (8 time columns x 16 fields) in the keying screen, driven by
QTest key clicks as a clerk would type it.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_keying.py

Prints the time taken and the keystrokes used against the characters of the values plus
one per field (the floor for typed keying: every value typed, one Enter per field).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PAPERFALLBACK_KEY", "0" * 64)

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from paperfallback.cache.staleness import UK
from paperfallback.cli.context import AppContext
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

FIELDS = ("obs_time", "resp_rate", "spo2", "spo2_scale", "oxygen", "o2_device", "o2_flow",
          "sbp", "dbp", "pulse", "acvpu", "temp", "news2_total", "monitoring_frequency",
          "escalation", "initials")


def column_values(printed: datetime, column: int) -> dict[str, str]:
    when = (printed + timedelta(hours=1 + 2 * column)).astimezone(UK)
    on_oxygen = column % 3 == 2
    return {
        "obs_time": when.strftime("%H%M"), "resp_rate": str(14 + column // 2), "spo2": "95",
        "spo2_scale": "1", "oxygen": "o" if on_oxygen else "a",
        "o2_device": "NC" if on_oxygen else "", "o2_flow": "2" if on_oxygen else "",
        "sbp": str(118 + column), "dbp": "76", "pulse": str(80 + column), "acvpu": "a",
        "temp": "37.2", "news2_total": "3" if on_oxygen else "1",
        "monitoring_frequency": "4h", "escalation": "n", "initials": "SW",
    }


def main() -> None:
    from paperfallback.ui.keying import KeyingWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["PAPERFALLBACK_DATA_DIR"] = tmp
        printed = datetime.now(UTC) - timedelta(hours=20)
        conn = WorkStore.open(folder, os.environ["PAPERFALLBACK_KEY"])
        register = Register(conn, pc_code="B1")
        issued = IssuedForm(instance_id=register.instance_id(), form_id="news2",
                            form_version="1.0", scope="patient", page_count=1,
                            printed_at=printed, pc_id="bench", patient_id="p1",
                            patient_name="JONES, Ffion", ward_code="AN", blank_columns=8)
        register.record(issued)
        conn.close()
        ctx = AppContext(data_dir_option=tmp)
        window = KeyingWindow(ctx)
        window.show()
        window.activateWindow()
        app.processEvents()
        keystrokes = 0
        characters = 0
        fields = 0

        def type_then_enter(text: str) -> None:
            nonlocal keystrokes
            widget = QApplication.focusWidget()
            if text:
                QTest.keyClicks(widget, text)
            QTest.keyClick(widget, Qt.Key.Key_Return)
            keystrokes += len(text) + 1

        started = time.perf_counter()
        window.clerk_edit.setFocus()
        type_then_enter("Sam Williams")
        type_then_enter(issued.instance_id)
        keyed_from = time.perf_counter()
        for column in range(8):
            values = column_values(printed, column)
            for field_id in FIELDS:
                expected = window.field("observations", column, field_id)
                assert QApplication.focusWidget() is expected, (column, field_id)
                type_then_enter(values[field_id])
                characters += len(values[field_id])
                fields += 1
        elapsed = time.perf_counter() - keyed_from
        total = time.perf_counter() - started
        store = EntriesStore(WorkStore.open(folder, os.environ["PAPERFALLBACK_KEY"]))
        saved = len(store.entries(issued.instance_id))
        flags = len(store.discrepancies(issued.instance_id))
        store.close()
        window.close()
        window.deleteLater()
        app.processEvents()
        del window
        ctx.close()
    chart_keys = keystrokes - len("Sam Williams") - len(issued.instance_id) - 2
    print(f"fields: {fields} (8 columns x {len(FIELDS)}), values saved: {saved}, "
          f"NEWS2 flags: {flags}")
    print(f"keystrokes for the chart: {chart_keys}; characters of the values + one per "
          f"field: {characters + fields}; ratio {chart_keys / (characters + fields):.2f}")
    print(f"time keying the chart (QTest, no think time): {elapsed:.2f} s "
          f"({1000 * elapsed / fields:.0f} ms per field); with clerk + ID: {total:.2f} s")


if __name__ == "__main__":
    main()
