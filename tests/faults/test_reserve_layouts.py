"""Blank copies printed while the work store cannot be opened (a wrong key, here for
real) keep their printed layout in the reserve of IDs, so once they are entered in the
register keying offers every row the paper has (hazard LAYOUT-3's residual), and a full
reserve drops layouts before it would refuse to number a blank form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pf_fault_helpers import KEY, Run

from paperfallback.formspec import load_catalogue
from paperfallback.reentry.keying_service import KeyingService
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import Register
from paperfallback.register.reservation import (
    FILE_BYTES,
    RESERVATION_FILE,
    Reservation,
    load,
    save,
)
from paperfallback.scan.omr import scan_layout
from paperfallback.workstore import WorkStore


def _reserve(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / RESERVATION_FILE).read_bytes())
    return data


def test_blank_copies_from_the_reserve_offer_every_printed_row(
        demo_data_dir: Path, run: Run, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    assert run("print", "--ward", "W3", "--forms", "news2", "--out",
               str(tmp_path / "ward.pdf"))[0] == 0  # work.db and a reserve of IDs exist
    monkeypatch.setenv("PAPERFALLBACK_KEY", "wrong")
    code, out, err = run("print", "--blank", "mar", "--count", "3", "--json",
                         "--out", str(tmp_path / "blank.pdf"))
    assert code == 0 and "reserve" in err
    ids = [f["instance_id"] for f in json.loads(out)["forms"]]
    reserve = _reserve(demo_data_dir)
    pending = [p for p in reserve["pending"] if p["instance_id"] in ids]  # type: ignore[union-attr]
    assert len(pending) == 3
    assert len({p["layout"] for p in pending}) == 1  # three copies, one layout kept
    assert len(reserve["layouts"]) == 1  # type: ignore[arg-type]

    monkeypatch.setenv("PAPERFALLBACK_KEY", KEY)
    assert run("register", "list", "--json")[0] == 0  # the register takes them in
    assert _reserve(demo_data_dir)["layouts"] == {}
    conn = WorkStore.open(demo_data_dir, KEY)
    try:
        service = KeyingService(EntriesStore(conn), Register(conn, pc_code="T1"),
                                load_catalogue())
        issued = service.register.get(ids[0])
        assert issued is not None and issued.patient_id is None
        recorded = (scan_layout(issued.extra) or {})["fields"]
        opened = service.open(ids[0], "Ann")
        tables = [s for s in opened.layout.sections if s.kind == "table"]
        regular = next(s for s in tables if s.id == "regular")
        rows = {e["row"] for e in recorded if e["section"] == "regular"}
        assert regular.count == len(rows) == 20  # the form's minimum is 8
    finally:
        conn.close()


def test_a_full_reserve_drops_layouts_before_refusing_a_blank_form(tmp_path: Path) -> None:
    reservation = Reservation("T1", 1, 201, 1, 201)
    reservation.layouts = {f"d{n}": "z1:" + "A" * 9_000 for n in range(8)}  # 72 KB
    reservation.pending = [{"instance_id": f"T1-{n:05d}-X", "form_id": "mar", "layout": "d0"}
                           for n in range(20)]
    written = save(tmp_path, reservation)
    assert written.stat().st_size == FILE_BYTES
    kept = load(tmp_path, "T1")
    assert kept is not None and kept.layouts == {}
    assert len(kept.pending) == 20 and all("layout" not in p for p in kept.pending)
