"""An export reads the forms it exports, not the whole register (issue 15, goal 3): each
issued form carries its page layout (a few KB as stored), and a ward PC prints many
more forms than are ever keyed, so the register is read a chunk of exported forms at a
time."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperfallback.export.from_entries import iter_forms
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
from paperfallback.reentry.store import EntriesStore, FieldWrite
from paperfallback.reentry.workflow import finish_pass
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
LAYOUT = "x" * 25_000  # a recorded page layout, as the renderer keeps in ``extra``


def _peak(folder: Path, printed: int) -> int:
    """Peak traced memory reading the 3 keyed forms back among ``printed`` issued ones."""
    folder.mkdir()
    work = WorkStore.open(folder, KEY)
    try:
        register, store = Register(work, pc_code="R1"), EntriesStore(work)
        when = datetime.now(UTC) - timedelta(hours=6)
        issued = [IssuedForm(instance_id=register.instance_id(), form_id="news2",
                             form_version="1.0", scope="patient", page_count=1, printed_at=when,
                             pc_id="R1-PC", patient_id=f"p{n}", nhs_number="9990000018",
                             patient_name=f"PATIENT, Number {n}", ward_code="AN",
                             blank_columns=8, extra={"scan_layout": LAYOUT})
                  for n in range(printed)]
        register.record(issued)
        for form in issued[:3]:
            store.save_many([FieldWrite(FieldAddress(form.instance_id, "observations", 0, f),
                                        v, EntryState.VALUE)
                             for f, v in {"obs_time": (when + timedelta(hours=1)).isoformat(),
                                          "resp_rate": "18", "pulse": "80"}.items()],
                            EntryPass.FIRST, clerk="Ann", form_id="news2")
            finish_pass(store, form.instance_id, EntryPass.FIRST, double_entry=False, by="Ann")
        catalogue = load_catalogue()
        problems: list[str] = []
        tracemalloc.start()
        read = list(iter_forms(store, register, catalogue, None, site_code="T",
                               problems=problems))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(read) == 3 and not problems
        return top
    finally:
        work.close()


def test_reading_the_keyed_forms_does_not_grow_with_the_forms_printed(tmp_path: Path) -> None:
    small, large = _peak(tmp_path / "a", 20), _peak(tmp_path / "b", 200)
    assert large < small * 1.5, (small, large)  # before: every issued form decoded (x10)
