"""What a print command pays before drawing (issue #15): per-hospital data decoded once
per snapshot, only the chosen command's module imported, forms parsed by libyaml.

Behaviour, not timings: the figures are in benchmarks/bench_print_ratio.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import COMMAND_MODULES, command_modules
from paperfallback.domain.records import Patient, Sex, Snapshot, Stay, Ward

KEY = "a-test-key"
SPO2_MAP_QUERY = "FROM meta WHERE key = 'spo2_scale'"


def _snapshot() -> Snapshot:
    """Six inpatients of ward W7; p2 on SpO2 scale 2."""
    patients = tuple(
        Patient(id=f"p{i}", nhs_number=None, hospital_number=f"RM{1000 + i}", family="Smith",
                given=f"Siân {i}", birth_date=date(1950 + i, 3, 1), sex=Sex.FEMALE)
        for i in range(6))
    stays = tuple(Stay(id=f"e{i}", patient_id=f"p{i}", ward_code="W7", bed=f"Bed {i + 1}")
                  for i in range(6))
    return Snapshot(data_as_of=datetime(2026, 1, 24, 9, 30, tzinfo=UTC), as_of_source="option",
                    patients=patients, wards=(Ward("W7", "Dewi Sant"),), stays=stays,
                    spo2_scale={"p2": 2})


def test_ward_records_never_decode_the_hospitals_spo2_scales(tmp_path: Path) -> None:
    """The scale map covers every patient of the hospital: decoding it per record made a
    ward print grow with the hospital's size. Each record reads its own indexed row."""
    with CacheStore.open(tmp_path, KEY) as store:
        store.replace_snapshot(_snapshot())
        queries: list[str] = []
        store._conn.set_trace_callback(queries.append)
        records = store.ward_records("W7")
        assert [r.spo2_scale for r in records if r.patient.id == "p2"] == [2]
        assert {r.spo2_scale for r in records if r.patient.id != "p2"} == {None}
        assert len(records) == 6
        assert not [q for q in queries if SPO2_MAP_QUERY in q]


def test_a_cache_written_before_the_rows_decodes_its_map_once(tmp_path: Path) -> None:
    """A cache imported by an older version has only the map: still right, decoded once."""
    with CacheStore.open(tmp_path, KEY) as store:
        store.replace_snapshot(_snapshot())
        store._conn.execute("DELETE FROM meta WHERE key LIKE 'spo2_scale%' "
                            "AND key != 'spo2_scale'")
    with CacheStore.open(tmp_path, KEY) as store:
        queries: list[str] = []
        store._conn.set_trace_callback(queries.append)
        records = store.ward_records("W7")
        assert [r.spo2_scale for r in records if r.patient.id == "p2"] == [2]
        assert {r.spo2_scale for r in records if r.patient.id != "p2"} == {None}
        assert sum(SPO2_MAP_QUERY in q for q in queries) == 1


def test_a_new_snapshot_from_another_process_brings_its_spo2_scales(tmp_path: Path) -> None:
    """The app keeps its cache open while a refresh (another connection) imports: a
    changed SpO2 scale must reach the next chart printed, never the old one."""
    with CacheStore.open(tmp_path, KEY) as app:
        app.replace_snapshot(_snapshot())
        assert app.patient_record("p2").spo2_scale == 2
        assert app.patient_record("p1").spo2_scale is None
        with CacheStore.open(tmp_path, KEY) as refresh:
            refresh.replace_snapshot(
                dataclasses.replace(_snapshot(), spo2_scale={"p1": 2}), force=True)
        assert app.patient_record("p2").spo2_scale is None
        assert app.patient_record("p1").spo2_scale == 2
        app.replace_snapshot(dataclasses.replace(_snapshot(), spo2_scale={"p3": 2}), force=True)
        assert app.patient_record("p1").spo2_scale is None
        assert app.patient_record("p3").spo2_scale == 2


def test_a_command_imports_only_its_own_module() -> None:
    assert command_modules(["--data-dir", "x", "--debug", "print", "--ward", "W3"]) == (
        "paperfallback.cli.print_cmd",)
    assert command_modules(["self-test"]) == ("paperfallback.cli.selftest_cmd",)
    assert command_modules(["--data-dir=x", "entries", "status"]) == (
        "paperfallback.cli.entries_cmd",)
    for app in ([], ["--debug"], ["--data-dir", "x"]):  # no command starts the app
        assert command_modules(app) == ("paperfallback.cli.gui_cmd",)
    for help_or_unknown in (["--help"], ["-h", "print"], ["--debug", "-h"], ["no-such"]):
        assert command_modules(help_or_unknown) == COMMAND_MODULES
    code = (
        "import sys\n"
        "from paperfallback.cli.main import main\n"
        "try:\n"
        "    main(['print', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('paperfallback'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", "import json\n" + code],
                          capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout.splitlines()[-1])
    commands = [m for m in loaded if m.endswith("_cmd")]
    assert commands == ["paperfallback.cli.print_cmd"]
    assert not [m for m in loaded if m.startswith(("paperfallback.export",
                                                   "paperfallback.ui"))]


def test_every_command_is_found_by_its_own_name() -> None:
    """A module whose command name does not follow ``x_cmd`` -> ``x`` would silently fall
    back to importing everything: each command must resolve to exactly its module."""
    import argparse
    import importlib

    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).add_parser(sub)
        (command,) = sub.choices
        assert command_modules([command]) == (name,)


def test_forms_are_parsed_by_libyaml() -> None:
    from paperfallback.formspec import catalogue

    if yaml.__with_libyaml__:
        assert catalogue._safe_loader() is yaml.CSafeLoader
    assert issubclass(catalogue._safe_loader(), yaml.SafeLoader) or (
        catalogue._safe_loader() is getattr(yaml, "CSafeLoader", None))


def test_a_print_before_any_keying_does_not_read_the_whole_register(tmp_path: Path) -> None:
    """Each print of an outage adds its forms to the register; a print that finds nothing
    keyed must not decode every issued form (the cost grew with every pack printed)."""
    from paperfallback.reentry.observations import KeyedObservations
    from paperfallback.register import IssuedForm, Register
    from paperfallback.settings import Settings

    printed = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with Register.open(tmp_path, KEY, Settings(pc_code="K7")) as register:
        register.record([IssuedForm(
            instance_id=register.instance_id(), form_id="news2", form_version="1.0",
            scope="patient", page_count=2, printed_at=printed, pc_id="PC-1",
            patient_id=f"p{i}", spo2_scale=2) for i in range(50)])
        queries: list[str] = []
        register.work.connection.set_trace_callback(queries.append)
        assert KeyedObservations(register.work)("p1") == []
        assert not [q for q in queries if "issued_forms" in q]


def test_rows_left_by_an_older_version_rewriting_the_cache_are_not_used(
        tmp_path: Path) -> None:
    """A PC downgraded for a while: the older version rewrites the snapshot and the map
    but not the per-patient rows. Those rows belong to the earlier snapshot (their marker
    holds its import time), so the map is read, never the stale rows."""
    with CacheStore.open(tmp_path, KEY) as store:
        store.replace_snapshot(_snapshot())
        assert store.patient_record("p2").spo2_scale == 2
        store._conn.execute("UPDATE meta SET value = '{\"p1\": 2}' WHERE key = 'spo2_scale'")
        store._conn.execute("UPDATE snapshot SET imported_at = '2030-01-01T00:00:00+00:00'")
    with CacheStore.open(tmp_path, KEY) as store:
        assert store.patient_record("p1").spo2_scale == 2
        assert store.patient_record("p2").spo2_scale is None


def test_a_record_reads_its_scale_through_the_index(tmp_path: Path) -> None:
    from paperfallback.cache import store as store_module

    with CacheStore.open(tmp_path, KEY) as store:
        store.replace_snapshot(_snapshot())
        plan = store._conn.execute(
            "EXPLAIN QUERY PLAN SELECT " + store_module._SPO2_COLUMNS
            + " FROM patients WHERE id = ?", ("spo2_scale:", "spo2_scale_rows", "p2"),
        ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "SCAN meta" not in details and "SCAN m" not in details, details
