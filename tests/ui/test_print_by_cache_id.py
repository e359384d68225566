"""The app prints a selected patient by cache id, even one the EPR sent with neither an
NHS number nor a hospital number (the CLI's --patient needs one of them; the app does not)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
from pf_ui_helpers import tiny_snapshot, write_cache

from paperfallback.cache.staleness import utc_now
from paperfallback.register import Register
from paperfallback.render.prefill import NHS_NOT_RECORDED
from paperfallback.settings import Settings
from paperfallback.ui.print_dialog import PrintDialog

KEY = "test-key-not-secret"


def test_patient_without_any_number_prints_from_the_dialog(
        data_dir: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    snapshot = tiny_snapshot(utc_now() - timedelta(minutes=10))
    patients = tuple(dataclasses.replace(p, nhs_number=None, hospital_number=None)
                     if p.id == "p3" else p for p in snapshot.patients)
    write_cache(data_dir, KEY, dataclasses.replace(snapshot, patients=patients))
    window = make_window(data_dir)
    window.select_patients(["p3"])
    assert window.selected_patient_ids() == ["p3"]
    window.open_print_ward_pack(prefer_selected=True)
    dialog = window.open_dialog
    assert isinstance(dialog, PrintDialog) and dialog.selected_radio.isChecked()
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    prompts.save_to = str(tmp_path / "p3.pdf")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.saved_to is not None,
                    timeout=30_000)
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(prompts.save_to).pages)
    assert NHS_NOT_RECORDED in text and "JONES" in text
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        issued = register.list()
    assert [(i.form_id, i.patient_id, i.nhs_number, i.hospital_number) for i in issued] == [
        ("news2", "p3", None, None)]
