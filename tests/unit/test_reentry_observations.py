"""Long outages: observations keyed from paper come back for the next pack, marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperfallback.domain.records import ObservationKind
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import EntryPass, EntryState
from paperfallback.reentry.observations import is_keyed_from_paper, keyed_observations
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.register import IssuedForm
from paperfallback.workstore import WorkStore

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_keyed_observations_for_the_next_chart(data_dir: Path) -> None:
    conn = WorkStore.open(data_dir, "k")
    issued = IssuedForm(instance_id="T1-00001-X", form_id="news2", form_version="1.0",
                        scope="patient", page_count=1, printed_at=NOW - timedelta(hours=6),
                        pc_id="pc", patient_id="p1")
    session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                            issued, clerk="Ann", ctx=KeyingContext(issued.printed_at, NOW))
    for index, (when, pulse) in enumerate((("0700", "88"), ("1100", "92"))):
        for field_id, value in (("obs_time", when), ("pulse", pulse), ("acvpu", "c"),
                                ("temp", "?"), ("initials", "SW")):
            session.enter("observations", index, field_id, value)
    session.enter("observations", 2, "pulse", "70")  # no time keyed: not shown
    observations = keyed_observations(conn, "p1")
    assert [(o.kind, o.effective.hour, o.value, o.text) for o in observations] == [
        (ObservationKind.ACVPU, 7, None, "C"), (ObservationKind.PULSE, 7, 88.0, ""),
        (ObservationKind.ACVPU, 11, None, "C"), (ObservationKind.PULSE, 11, 92.0, ""),
    ]
    assert all(is_keyed_from_paper(o) and o.source_time is not None for o in observations)
    assert observations[1].unit == "/min"
    assert keyed_observations(conn, "p2") == []
    # A value resolved from the paper wins over the first keying.
    EntriesStore(conn).save(session.address("observations", 0, "pulse"), EntryPass.RESOLVED,
                            "86", EntryState.VALUE, clerk="Cai", form_id="news2")
    assert keyed_observations(conn, "p1")[1].value == 86.0
