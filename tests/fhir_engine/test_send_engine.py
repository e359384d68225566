"""``export --to`` against a real FHIR transaction engine (Medplum, validating; see
server.mjs) behind the test SMART token endpoint: every resource created and valid, a second
send creates nothing, a rejected resource is recorded with the server's reason, and no
valid bearer token, no entry."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir_engine_server import READER, FhirEngine, Smart, engine_for

from paperfallback.cache.encrypted_db import Connection
from paperfallback.cli.main import main
from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.model import ExportedForm, PatientRef
from paperfallback.export.samples import keyed_form, keyed_row, random_form
from paperfallback.export.send import (
    SendOptions,
    SendRefused,
    entries_to_send,
    send_pending,
)
from paperfallback.export.send_http import NoAuth, SafeTransport
from paperfallback.export.send_state import NewEntry, SendLog
from paperfallback.fhirclient import StaticBearerAuth
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

SYSTEMS = SiteSystems.for_site("DEMO")
KEY = "test-key-not-secret"


def _forms() -> list[ExportedForm]:
    """A ward's return: NEWS2 charts, MARs, fluid balance, notes and a downtime patient."""
    rng = random.Random(14)
    forms = [random_form(n, rng) for n in (1, 2, 11, 16, 18)]
    registration = keyed_form("downtime-registration", "DT14-0001", [
        keyed_row("identity", 0, {"dt_family": "Llŷr", "dt_given": "Gwenllïan",
                                  "dt_birth_date": "1961-03-02", "dt_sex": "F"}),
        keyed_row("arrival", 0, {"dt_arrived": "2026-11-20T10:15", "dt_triage": "2"}),
    ], patient=PatientRef(downtime_number="DT-7Q2K-0004"))
    return [registration, *forms]


def _entries(forms: list[ExportedForm], **kw: Any) -> list[NewEntry]:
    plan = plan_fhir_export(forms, SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    assert not plan.problems
    return entries_to_send(plan, {f.instance_id: f.form_id for f in forms}, **kw)


@pytest.fixture
def conn(data_dir: Path) -> Iterator[Connection]:
    opened = WorkStore.open(data_dir, KEY)
    yield opened
    opened.close()


def _send(log: SendLog, engine: FhirEngine, auth: Any, chunk_size: int = 100) -> Any:
    return send_pending(log, engine.base_url, auth=auth,
                        transport=SafeTransport(30), source="test",
                        options=SendOptions(chunk_size=chunk_size, sleep=lambda _s: None))


def test_first_send_creates_every_resource_and_each_validates(
    fhir_engine: FhirEngine, conn: Connection, smart: Smart,
) -> None:
    entries = _entries(_forms())
    log = SendLog(conn)
    assert log.queue(fhir_engine.base_url, entries) == (len(entries), 0)
    result = _send(log, fhir_engine, smart.auth(fhir_engine.base_url))
    assert (result.accepted, result.rejected) == (len(entries), 0)
    stats = fhir_engine.stats()
    assert stats["creates"] == len(entries) == stats["resources"]
    assert set(stats["byType"]) >= {"Patient", "Encounter", "Observation",
                                    "MedicationAdministration", "QuestionnaireResponse",
                                    "Provenance"}
    checked = fhir_engine.admin("validate-all")  # validateResource on everything stored
    assert checked == {"checked": len(entries), "problems": []}
    rows = log.entries(fhir_engine.base_url)
    assert {r.state for r in rows} == {"accepted"}
    assert all(r.location.startswith(f"{r.resource_type}/") for r in rows)
    stored = {f"{r['resourceType']}/{r['id']}": r for r in fhir_engine.resources()}
    assert {r.location.split("/_history")[0] for r in rows} == set(stored)
    # urn:uuid references became the server's ids: Encounter -> the Patient it created
    encounter = next(r for r in stored.values() if r["resourceType"] == "Encounter")
    assert encounter["subject"]["reference"] in stored


def test_second_send_creates_nothing(fhir_engine: FhirEngine, conn: Connection,
                                     tmp_path: Path, smart: Smart) -> None:
    entries = _entries(_forms())
    log = SendLog(conn)
    log.queue(fhir_engine.base_url, entries)
    _send(log, fhir_engine, smart.auth(fhir_engine.base_url))
    before = fhir_engine.stats()
    # the same PC again: everything was accepted, so nothing is queued or sent
    assert log.queue(fhir_engine.base_url, _entries(_forms())) == (0, len(entries))
    again = _send(log, fhir_engine, smart.auth(fhir_engine.base_url))
    assert again.bundles == 0
    # a PC that lost its record (or another PC keyed the same paper) sends it all again:
    # every entry is conditional, so the engine answers with what it holds, creating nothing
    (tmp_path / "other").mkdir()
    other = WorkStore.open(tmp_path / "other", KEY)
    try:
        fresh = SendLog(other)
        fresh.queue(fhir_engine.base_url, _entries(_forms()))
        resent = _send(fresh, fhir_engine, smart.auth(fhir_engine.base_url))
        assert (resent.accepted, resent.rejected) == (len(entries), 0)
        assert {r.location for r in fresh.entries()} == {r.location for r in log.entries()}
    finally:
        other.close()
    after = fhir_engine.stats()
    assert after["creates"] == before["creates"] and after["resources"] == before["resources"]
    assert after["updates"] == before["updates"] == 0


def test_an_invalid_resource_comes_back_rejected_and_is_recorded(
    fhir_engine: FhirEngine, conn: Connection, smart: Smart,
) -> None:
    entries = _entries(_forms()[1:2])
    bad = next(e for e in entries if e.resource_type == "Observation"
               and "valueQuantity" in e.entry["resource"])
    broken = {**bad.entry, "resource": {**bad.entry["resource"], "valueQuantity": {
        **bad.entry["resource"]["valueQuantity"], "value": "ninety-six"}}}
    entries[entries.index(bad)] = replace(bad, entry=broken)
    log = SendLog(conn)
    log.queue(fhir_engine.base_url, entries)
    result = _send(log, fhir_engine, smart.auth(fhir_engine.base_url))
    assert result.rejected == 1 and result.accepted == len(entries) - 1
    (rejected,) = [r for r in log.entries() if r.state == "rejected"]
    assert rejected.full_url == bad.full_url
    assert rejected.outcome == ("Invalid JSON type: expected number, but got string "
                                "(at Observation.value[x].value)")  # the EPR's own words
    assert rejected.location == ""
    assert fhir_engine.stats()["resources"] == len(entries) - 1
    # retried as it is, the EPR says no again: still recorded as rejected, nothing created
    assert log.retry_rejected(fhir_engine.base_url) == 1
    assert _send(log, fhir_engine, smart.auth(fhir_engine.base_url)).rejected == 1
    assert fhir_engine.stats()["resources"] == len(entries) - 1


def test_the_engine_refuses_a_request_without_a_valid_bearer_token(
    fhir_engine: FhirEngine, conn: Connection, smart: Smart
) -> None:
    entries = _entries(_forms()[1:2])
    log = SendLog(conn)
    log.queue(fhir_engine.base_url, entries)
    base = fhir_engine.base_url
    refused = {
        "no token": (NoAuth(), "HTTP 401: no bearer token"),
        "a made-up token": (StaticBearerAuth(base, "made-up"), "HTTP 401: token not active"),
        "a read-only client": (smart.auth(base, client=READER, scope="system/*.read"),
                               "HTTP 403: token scope does not allow writing"),
        "an unregistered key": (smart.auth(base, client="stranger"), "no access token for"),
    }
    for what, (auth, message) in refused.items():
        with pytest.raises(SendRefused, match=message):
            _send(log, fhir_engine, auth)
        assert fhir_engine.stats()["resources"] == 0, what
    assert len(log.pending(base)) == len(entries)  # kept for the next run
    assert "unknown client 'stranger'" in smart.server.refusals[-1]
    # a token that expires (or is revoked) mid-send is renewed once, and the send goes on
    auth = smart.auth(base)
    auth.headers_for(base)
    smart.server.expire_all_tokens()
    assert _send(log, fhir_engine, auth).accepted == len(entries)


def test_conditional_references_resolve_to_the_patient_the_epr_holds(
    fhir_engine: FhirEngine, conn: Connection, smart: Smart,
) -> None:
    forms = _forms()
    entries = _entries(forms[:2], conditional_references=True)
    subjects = [e.entry["resource"]["subject"] for e in entries
                if e.resource_type == "Observation"]
    assert subjects and all(s["reference"].startswith("Patient?identifier=") for s in subjects)
    nhs = subjects[0]["identifier"]
    log = SendLog(conn)
    log.queue(fhir_engine.base_url, entries)
    # the EPR does not know the patient yet: each such entry is rejected, saying why
    result = _send(log, fhir_engine, smart.auth(fhir_engine.base_url))
    assert result.rejected == len(subjects)
    assert "matched 0 resources" in result.rejected_outcomes[result.rejected_entries[0].seq]
    # registered on the EPR (as a trust's PAS would): a retry now lands on that patient
    patient_log = SendLog(conn)
    patient_log.queue(fhir_engine.base_url, [NewEntry(
        "urn:uuid:00000000-0000-4000-8000-000000000001", "EPR/pas", "EPR", "", "Patient",
        "POST", "Patient", {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                            "resource": {"resourceType": "Patient", "identifier": [nhs]},
                            "request": {"method": "POST", "url": "Patient"}})])
    _send(patient_log, fhir_engine, smart.auth(fhir_engine.base_url))
    pas_id = next(r["id"] for r in fhir_engine.resources() if r["resourceType"] == "Patient"
                  and r["identifier"] == [nhs])
    log.retry_rejected(fhir_engine.base_url)
    assert _send(log, fhir_engine, smart.auth(fhir_engine.base_url)).rejected == 0
    observations = [r for r in fhir_engine.resources() if r["resourceType"] == "Observation"]
    assert {o["subject"]["reference"] for o in observations} == {f"Patient/{pas_id}"}


def test_export_to_cli_sends_dry_run_sends_nothing_and_status_counts(
    fhir_engine: FhirEngine, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], smart: Smart,
) -> None:
    forms = _forms()
    monkeypatch.setattr("paperfallback.export.pipeline.iter_keyed_forms",
                        lambda *_a, **_k: iter(forms))
    Settings(export_client_id="paperfallback-send", export_private_key=str(
        smart.writer.pem_path), export_key_id=smart.writer.kid).save(data_dir)
    total = len(_entries(forms))

    assert main(["export", "--to", fhir_engine.base_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Dry run: nothing was sent" in out and f"Would send {total} entries" in out
    assert f"Checked {total} resources against FHIR R4: all valid." in out
    assert fhir_engine.stats()["requests"] == 0

    assert main(["export", "--to", fhir_engine.base_url]) == 0
    out = capsys.readouterr().out
    assert f"accepted {total}, rejected 0; still to send 0" in out
    assert fhir_engine.stats()["resources"] == total

    assert main(["export", "--to", fhir_engine.base_url]) == 0
    assert "accepted 0, rejected 0; still to send 0" in capsys.readouterr().out
    assert fhir_engine.stats()["creates"] == total

    assert main(["entries", "status", "--json"]) == 0
    sending = json.loads(capsys.readouterr().out)["sending"]
    assert sending["total"] == {"sent": total, "accepted": total, "rejected": 0, "pending": 0}
    assert sending["by_form"]["news2"]["accepted"] > 0
    assert main(["entries", "status"]) == 0
    assert (f"Sent to the EPR: sent {total}, accepted {total}, rejected 0, pending 0"
            in capsys.readouterr().out)


@pytest.fixture(scope="module")
def atomic_engine(smart: Smart) -> Iterator[FhirEngine]:
    """Medplum with transactions on (all or nothing; its limit: 8 entries when a transaction
    has conditional creates)."""
    engine = engine_for(smart, transactions=True)
    try:
        yield engine
    finally:
        engine.stop()


def test_an_all_or_nothing_engine_refuses_big_units_and_takes_the_rest(
    atomic_engine: FhirEngine, conn: Connection, smart: Smart,
) -> None:
    atomic_engine.reset()
    entries = _entries(_forms())
    log = SendLog(conn)
    log.queue(atomic_engine.base_url, entries)
    result = _send(log, atomic_engine, smart.auth(atomic_engine.base_url), chunk_size=8)
    by_unit: dict[str, set[str]] = {}
    for q in log.entries():
        by_unit.setdefault(q.unit_key, set()).add(q.state)
    assert all(len(states) == 1 for states in by_unit.values())  # units stay whole
    sizes = {unit: sum(1 for e in entries if e.unit_key == unit) for unit in by_unit}
    assert {u for u, s in by_unit.items() if s == {"rejected"}} == {
        u for u, n in sizes.items() if n > 8}
    assert set(result.rejected_outcomes.values()) == {
        "Transaction requires strict isolation but has too many entries"}
    assert atomic_engine.stats()["resources"] == result.accepted > 0


def test_keyed_chart_sent_then_corrected_updates_the_epr_copy_in_place(
    fhir_engine: FhirEngine, data_dir: Path, record_issued: Any, smart: Smart,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole chain on the real stores: key a NEWS2 column, send, correct the SpO2,
    send again: the EPR's Observation is updated (status amended), nothing is duplicated."""
    from datetime import timedelta

    from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.reentry.workflow import finish_pass

    issued = record_issued("news2", patient_id="p1", patient_name="ÖZTÜRK, Emre",
                           nhs_number="9990000026", ward_code="W1")[0]
    when = (issued.printed_at - timedelta(hours=1)).isoformat()

    def key(values: dict[str, str]) -> None:
        conn = WorkStore.open(data_dir, KEY)
        try:
            store = EntriesStore(conn)
            for field_id, text in values.items():
                store.save(FieldAddress(issued.instance_id, "observations", 0, field_id),
                           EntryPass.FIRST, text, EntryState.VALUE, clerk="Siân",
                           form_id="news2")
            finish_pass(store, issued.instance_id, EntryPass.FIRST, double_entry=False,
                        by="Siân")
        finally:
            conn.close()

    key({"obs_time": when, "resp_rate": "18", "spo2": "95", "oxygen": "A", "sbp": "120",
         "dbp": "80", "pulse": "80", "acvpu": "A", "temp": "37.0"})
    Settings(export_client_id="paperfallback-send", export_private_key=str(
        smart.writer.pem_path), export_key_id=smart.writer.kid).save(data_dir)
    assert main(["export", "--to", fhir_engine.base_url]) == 0, capsys.readouterr()
    first = fhir_engine.stats()
    assert first["resources"] == first["creates"] > 5 and first["updates"] == 0
    assert fhir_engine.admin("validate-all")["problems"] == []

    key({"spo2": "91"})
    assert main(["export", "--to", fhir_engine.base_url]) == 0, capsys.readouterr()
    after = fhir_engine.stats()
    assert after["resources"] == first["resources"]  # corrected in place, not duplicated
    assert after["updates"] > 0
    spo2 = [r for r in fhir_engine.resources() if r["resourceType"] == "Observation"
            and r["identifier"][0]["value"] == f"{issued.instance_id}/spo2/1"]
    assert len(spo2) == 1
    assert spo2[0]["valueQuantity"]["value"] == 91 and spo2[0]["status"] == "amended"
    assert fhir_engine.admin("validate-all")["problems"] == []
