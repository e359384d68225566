"""The app's all-patients list shows a deceased patient as DECEASED, never with an age
(issue 13, item 4; the real Synthea sample, tests/fixtures/synthea-bulk-10)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from paperfallback.cache.importers import read_extract
from paperfallback.cache.store import CacheStore
from paperfallback.ui.patient_model import Column

SAMPLE = Path(__file__).parents[1] / "fixtures" / "synthea-bulk-10"


def test_all_patients_shows_deceased_instead_of_an_age(data_dir: Path, make_window: Any) -> None:
    files = [SAMPLE / f"{kind}.000.ndjson" for kind in ("Patient", "MedicationRequest")]
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        store.replace_snapshot(read_extract(files))
    window = make_window(data_dir)
    window.ward_combo.setCurrentIndex(window.ward_combo.findText("All patients"))
    model = window.model
    rows = {model.index(r, Column.NAME).data(): (model.index(r, Column.WARD).data(),
                                                 model.index(r, Column.AGE).data())
            for r in range(model.rowCount())}
    assert len(rows) == 13
    assert rows["MEDHURST46, Sumiko254 Larue605"] == ("DECEASED", "")
    assert sum(1 for ward, _ in rows.values() if ward == "DECEASED") == 3
    tip = model.index(
        next(r for r in range(model.rowCount())
             if model.index(r, Column.NAME).data().startswith("MEDHURST")), Column.NAME,
    ).data(Qt.ItemDataRole.ToolTipRole)
    assert "DECEASED 10-May-1989" in tip
    if os.environ.get("PF_SCREENSHOT"):
        window.grab().save(os.environ["PF_SCREENSHOT"])
