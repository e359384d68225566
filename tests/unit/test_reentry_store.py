"""The entries store: each field committed as it is left, audited, idempotent; and a
process killed mid-form loses nothing it had saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress, InstanceStatus
from paperfallback.reentry.store import EntriesStore

KEY = "test-key-not-secret"


def _addr(field_id: str, index: int = 0) -> FieldAddress:
    return FieldAddress("T1-00001-X", "observations", index, field_id)


def test_save_is_audited_and_idempotent(data_dir: Path) -> None:
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.save(_addr("pulse"), EntryPass.FIRST, "88", EntryState.VALUE,
                          clerk="Ann Ŵyn", form_id="news2")
        assert not store.save(_addr("pulse"), EntryPass.FIRST, "88", EntryState.VALUE,
                              clerk="Ann Ŵyn", form_id="news2")
        assert store.save(_addr("pulse"), EntryPass.FIRST, "89", EntryState.VALUE,
                          clerk="Bob", form_id="news2")
        assert store.save(_addr("temp"), EntryPass.FIRST, None, EntryState.ILLEGIBLE,
                          clerk="Bob", form_id="news2")
        entry = store.entry(_addr("pulse"), EntryPass.FIRST)
        assert entry is not None and entry.value == "89" and entry.keyed_by == "Bob"
        audit = store.audit("T1-00001-X")
        assert [(a.old_value, a.new_value, a.changed_by) for a in audit[:2]] == [
            (None, "88", "Ann Ŵyn"), ("88", "89", "Bob")]
        assert audit[2].new_state is EntryState.ILLEGIBLE
        record = store.instance("T1-00001-X")
        assert record is not None and record.status is InstanceStatus.DRAFT
        assert record.first_clerk == "Ann Ŵyn"


def test_passes_are_kept_apart(data_dir: Path) -> None:
    with EntriesStore.open(data_dir, KEY) as store:
        store.save(_addr("pulse"), EntryPass.FIRST, "88", EntryState.VALUE, clerk="A",
                   form_id="news2")
        store.save(_addr("pulse"), EntryPass.SECOND, "83", EntryState.VALUE, clerk="B",
                   form_id="news2")
        assert [e.value for e in store.entries("T1-00001-X", EntryPass.FIRST)] == ["88"]
        assert [e.value for e in store.entries("T1-00001-X", EntryPass.SECOND)] == ["83"]


def test_clear_keeps_the_old_value_in_the_audit(data_dir: Path) -> None:
    with EntriesStore.open(data_dir, KEY) as store:
        store.save(_addr("pulse"), EntryPass.FIRST, "88", EntryState.VALUE, clerk="A",
                   form_id="news2")
        assert store.clear(_addr("pulse"), EntryPass.FIRST, clerk="A")
        assert store.entry(_addr("pulse"), EntryPass.FIRST) is None
        last = store.audit("T1-00001-X")[-1]
        assert (last.old_value, last.new_state) == ("88", None)


def test_wrong_form_type_for_an_instance_is_refused(data_dir: Path) -> None:
    import pytest

    from paperfallback.domain.errors import InputError

    with EntriesStore.open(data_dir, KEY) as store:
        store.save(_addr("pulse"), EntryPass.FIRST, "88", EntryState.VALUE, clerk="A",
                   form_id="news2")
        with pytest.raises(InputError, match="news2"):
            store.save(_addr("dose"), EntryPass.FIRST, "1", EntryState.VALUE, clerk="A",
                       form_id="mar")


KEYER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
    from paperfallback.reentry.store import EntriesStore
    store = EntriesStore.open(Path(sys.argv[1]), sys.argv[2])
    for i, (field, value) in enumerate([("resp_rate", "18"), ("spo2", "96"), ("pulse", "72")]):
        store.save(FieldAddress("T1-00001-X", "observations", 0, field), EntryPass.FIRST,
                   value, EntryState.VALUE, clerk="Crash Test", form_id="news2")
    print("saved", flush=True)
    time.sleep(60)
""")


def test_values_survive_the_process_being_killed(data_dir: Path) -> None:
    """SIGKILL mid-session (no clean shutdown): every field saved before is there."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KEYER, str(data_dir), KEY],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "saved"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.05)
    with EntriesStore.open(data_dir, KEY) as store:
        values = {e.address.field_id: e.value for e in store.entries("T1-00001-X")}
    assert values == {"resp_rate": "18", "spo2": "96", "pulse": "72"}
