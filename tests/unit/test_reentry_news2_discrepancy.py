"""A handwritten NEWS2 total that differs from the keyed parameters is flagged, never
overwritten; a keying slip corrected closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import DiscrepancyKind, EntryPass
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.register import IssuedForm

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NEWS2 = load_catalogue().get("news2")
COLUMN = {"obs_time": "0700", "resp_rate": "22", "spo2": "95", "oxygen": "A", "sbp": "120",
          "pulse": "95", "acvpu": "C", "temp": "38.2"}  # scores 2+1+0+0+1+3+1 = 8


def _session(data_dir: Path, *, scale: int = 1, entry_pass: EntryPass = EntryPass.FIRST,
             clerk: str = "Ann") -> KeyingSession:
    issued = IssuedForm(instance_id="T1-00001-X", form_id="news2", form_version="1.0",
                        scope="patient", page_count=1, printed_at=NOW - timedelta(hours=6),
                        pc_id="pc", patient_id="p1", spo2_scale=scale)
    return KeyingSession(EntriesStore.open(data_dir, "k"), form_layout(NEWS2), issued,
                         clerk=clerk, entry_pass=entry_pass,
                         ctx=KeyingContext(printed_at=issued.printed_at, now=NOW))


def _key(session: KeyingSession, values: dict[str, str], index: int = 0) -> str:
    notice = ""
    for field_id, value in values.items():
        notice = session.enter("observations", index, field_id, value).notice
    return notice


def test_differing_total_is_flagged_and_both_values_kept(data_dir: Path) -> None:
    session = _session(data_dir)
    notice = _key(session, {**COLUMN, "news2_total": "5"})
    assert "written as 5" in notice and "score 8" in notice
    (found,) = session.store.discrepancies()
    assert found.kind is DiscrepancyKind.NEWS2_TOTAL
    assert found.detail["handwritten"] == "5" and found.detail["computed"] == "8"
    values = {a.field_id: e.value for a, e in session.values().items()}
    assert values["news2_total"] == "5" and values["acvpu"] == "C"


def test_agreeing_total_raises_nothing_and_a_corrected_slip_closes(data_dir: Path) -> None:
    session = _session(data_dir)
    _key(session, {**COLUMN, "acvpu": "A", "news2_total": "8"})  # keying slip: A for C
    assert len(session.store.discrepancies()) == 1
    session.enter("observations", 0, "acvpu", "C")
    assert session.store.discrepancies() == []
    closed = session.store.discrepancies(open_only=False)
    assert closed[0].note.startswith("keyed values now agree")


def test_scale_2_on_oxygen_uses_its_own_bands(data_dir: Path) -> None:
    session = _session(data_dir, scale=2)
    # Scale 2 on O2: SpO2 97 scores 3, oxygen 2; the rest normal = 5.
    _key(session, {"obs_time": "0700", "resp_rate": "16", "spo2": "97", "oxygen": "O2",
                   "sbp": "120", "pulse": "70", "acvpu": "A", "temp": "37.0",
                   "news2_total": "5"})
    assert session.store.discrepancies() == []
    result = session.column_score("observations", 0)
    assert result is not None and result.computed is not None
    assert result.computed.total == 5 and result.scale == 2


def test_illegible_parameter_means_no_score_and_no_flag(data_dir: Path) -> None:
    session = _session(data_dir)
    _key(session, {**COLUMN, "pulse": "?", "news2_total": "1"})
    assert session.store.discrepancies() == []
    result = session.column_score("observations", 0)
    assert result is not None and result.computed is None and "pulse" in result.missing


def test_blind_second_pass_raises_no_news2_flag(data_dir: Path) -> None:
    session = _session(data_dir, entry_pass=EntryPass.SECOND, clerk="Bob")
    _key(session, {**COLUMN, "news2_total": "5"})
    assert session.store.discrepancies() == []
