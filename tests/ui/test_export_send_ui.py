"""The Export for re-import dialog shows what the EPR accepted and rejected, and the data
manager can retry the rejected entries (issue 14 item 6; the sending core is tested in
tests/unit/test_export_send.py and against a real engine in tests/fhir_engine/)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from PySide6.QtCore import Qt

from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.samples import random_news2_form
from paperfallback.export.send import entries_to_send
from paperfallback.export.send_http import HttpAnswer
from paperfallback.export.send_state import Answer, SendLog
from paperfallback.settings import Settings
from paperfallback.ui.after_outage import ExportDialog
from paperfallback.workstore import WorkStore

EPR = "https://epr.example.nhs.uk/fhir"


class AcceptingEpr:
    def __init__(self, *_args: Any) -> None:
        self.posts = 0

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        entries = orjson.loads(body)["entry"]
        return HttpAnswer(200, orjson.dumps({"resourceType": "Bundle",
                                             "type": "transaction-response", "entry": [
            {"response": {"status": "201", "location": f"Observation/{n}"}}
            for n in range(len(entries))]}))


def _sent_with_one_rejected(data_dir: Path) -> int:
    form = random_news2_form(3, random.Random(3), columns=1)
    plan = plan_fhir_export([form], SiteSystems.for_site("DEMO"), {}, all_entries=False,
                            pc_id="PC1", exported_at=datetime.now(UTC))
    conn = WorkStore.open(data_dir, "test-key-not-secret")
    try:
        log = SendLog(conn)
        log.queue(EPR, entries_to_send(plan, {form.instance_id: "news2"}))
        queued = log.pending(EPR)
        log.record([Answer(q.seq, "accepted", "201", f"Observation/{q.seq}")
                    for q in queued[1:]]
                   + [Answer(queued[0].seq, "rejected", "422", "", "Unknown patient")])
    finally:
        conn.close()
    return len(queued)


def test_export_dialog_shows_sent_counts_and_retries_the_rejected(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    total = _sent_with_one_rejected(tiny_cache)
    settings = Settings.load(tiny_cache)
    settings.export_to_url = EPR
    window = make_window(tiny_cache, settings=settings)
    monkeypatch.setattr("paperfallback.export.send_run.SafeTransport", AcceptingEpr)
    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, ExportDialog)
    text = dialog.sending_label.text()
    assert (f"Sent to the EPR: {total} entries; accepted {total - 1}, rejected 1, "
            "still to send 0.") in text
    assert "news2: sent" in text and "Unknown patient" in text
    assert dialog.retry_button.isEnabled()
    dialog.retry_button.click()
    qtbot.waitUntil(lambda: bool(dialog.result_lines) or bool(prompts.kinds("error")),
                    timeout=30_000)
    assert not prompts.kinds("error")
    assert "accepted 1, rejected 0; still to send 0" in dialog.status_label.text()
    assert f"accepted {total}, rejected 0, still to send 0." in dialog.sending_label.text()


def test_without_an_epr_url_the_send_buttons_say_what_it_takes(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.open_dialog
    assert dialog.sending_label.text() == "Nothing sent to the EPR yet."
    assert not dialog.retry_button.isEnabled()
    assert "export_to_url" in dialog.retry_button.toolTip()
