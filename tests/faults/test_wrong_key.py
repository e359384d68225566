"""Fault 1: a wrong or lost key (another Windows user, a lost Credential Manager entry, a
mistyped PAPERFALLBACK_KEY). Blank forms print with no key; nothing is created or changed
under the wrong key; the message and monitoring say "wrong key"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pf_fault_helpers import KEY, Run, digest, status_json


@pytest.fixture
def used_folder(demo_data_dir: Path, run: Run, tmp_path: Path) -> Path:
    """A demo folder that has printed (so it has work.db and a reserve of blank IDs)."""
    assert run("print", "--ward", "W3", "--forms", "news2", "--out",
               str(tmp_path / "ward.pdf"))[0] == 0
    assert (demo_data_dir / "work.db").exists()
    return demo_data_dir


def test_wrong_key_blank_forms_print_and_nothing_changes(
        used_folder: Path, run: Run, blank_prints: object, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    before = {name: digest(used_folder / name) for name in ("cache.db", "work.db")}
    monkeypatch.setenv("PAPERFALLBACK_KEY", "wrong")
    note = blank_prints()  # type: ignore[operator]
    assert "reserve" in note and "key" in note
    code, _out, err = run("print", "--ward", "W3", "--out", str(tmp_path / "w.pdf"))
    assert code == 1 and "key is wrong" in err and "blank forms still print" in err
    code, _out, err = run("entries", "status")
    assert code == 1 and "key is wrong" in err
    data = status_json(run)
    assert data["fault"] == "wrong-key" and "key is wrong" in str(data["fault_message"])
    assert data["needs_attention"] is True
    assert {name: digest(used_folder / name) for name in before} == before
    # The right key again: the blank forms printed meanwhile are in the register.
    monkeypatch.setenv("PAPERFALLBACK_KEY", KEY)
    assert run("register", "list", "--json")[0] == 0
    code, out, _err = run("register", "list", "--json")
    blanks = [f for f in json.loads(out) if f["patient_id"] is None and f["form_id"] == "news2"]
    assert len(blanks) == 2


def test_a_wrong_key_never_creates_work_db(demo_data_dir: Path, run: Run,
                                           blank_prints: object,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFALLBACK_KEY", "wrong")
    code, _out, err = run("entries", "status")
    assert code == 1 and "was not created" in err
    assert not (demo_data_dir / "work.db").exists()
    blank_prints()  # type: ignore[operator]
    assert not (demo_data_dir / "work.db").exists()
    # The right key still opens everything, and blank forms still print.
    monkeypatch.setenv("PAPERFALLBACK_KEY", KEY)
    assert run("entries", "status")[0] == 0
    blank_prints()  # type: ignore[operator]


def test_a_lost_key_is_not_replaced_by_a_new_one(demo_data_dir: Path, run: Run,
                                                 blank_prints: object,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERFALLBACK_KEY")
    note = blank_prints()  # type: ignore[operator]
    assert "no key" in note
    assert not (demo_data_dir / "cache.key").exists()
    assert not (demo_data_dir / "work.db").exists()
    data = status_json(run)
    assert data["fault"] == "wrong-key" and "no key" in str(data["fault_message"])


def test_the_apps_blank_forms_print_with_a_wrong_key(used_folder: Path, run: Run) -> None:
    """The GUI's path (print dialog -> render job -> record after printing), without a
    window: the same reserve as the command line."""
    from paperfallback.settings import Settings
    from paperfallback.ui.background import TaskControl
    from paperfallback.ui.pack_jobs import PackChoice, RenderPlace, record_issued, render_job

    place = RenderPlace(data_dir=used_folder, key="wrong", key_source="PAPERFALLBACK_KEY",
                        settings=Settings.load(used_folder))
    choice = PackChoice(kind="blank", title="Blank forms", form_ids=("news2",), blank_count=3)
    pack = render_job(choice, place)(TaskControl(lambda *_a: None))
    assert len(pack.issued) == 3 and pack.page_count >= 3
    assert "reserve" in pack.note  # the print dialog shows it with the pages, as the CLI does
    assert record_issued(place, pack) == 3  # kept in the reserve for the register
    _code, out, _err = run("register", "list", "--json")
    listed = {f["instance_id"] for f in json.loads(out)}
    assert {i.instance_id for i in pack.issued} <= listed
