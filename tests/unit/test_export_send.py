"""``export --to`` faults without a server: a scripted transport answers each POST as a
misbehaving EPR would (no answer, 503, Retry-After: 0, a whole Bundle refused, a crash
between send and record), and the work store must say exactly what the EPR holds."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.samples import keyed_row, random_form, random_mar_form
from paperfallback.export.send import (
    SendInterrupted,
    SendOptions,
    SendRefused,
    chunked,
    entries_to_send,
    send_pending,
    with_conditional_references,
)
from paperfallback.export.send_http import HttpAnswer, NetworkError
from paperfallback.export.send_state import NewEntry, SendLog, add_send_counts
from paperfallback.fhirclient import StaticBearerAuth
from paperfallback.workstore import WorkStore

SYSTEMS = SiteSystems.for_site("DEMO")
KEY = "test-key-not-secret"
TARGET = "https://epr.example.nhs.uk/fhir"
Reply = Callable[[dict[str, Any]], HttpAnswer]


def _entries(n_forms: int = 4) -> list[NewEntry]:
    rng = random.Random(5)
    forms = [random_form(n, rng) for n in range(n_forms)]
    plan = plan_fhir_export(forms, SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    return entries_to_send(plan, {f.instance_id: f.form_id for f in forms})


def accept_all(bundle: dict[str, Any]) -> HttpAnswer:
    replies = [{"response": {"status": "201 Created",
                             "location": f"{e['resource']['resourceType']}/{n}/_history/1"}}
               for n, e in enumerate(bundle["entry"])]
    return HttpAnswer(200, orjson.dumps({"resourceType": "Bundle",
                                         "type": "transaction-response", "entry": replies}))


def outcome(status: int, text: str) -> HttpAnswer:
    return HttpAnswer(status, orjson.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "details": {"text": text}}]}))


class ScriptedEpr:
    """Answers POSTs from a list of replies (a callable per POST), then accepts all."""

    def __init__(self, *script: Reply | NetworkError) -> None:
        self.script = list(script)
        self.bundles: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        bundle = orjson.loads(body)
        self.bundles.append(bundle)
        self.headers.append(headers)
        step = self.script.pop(0) if self.script else accept_all
        if isinstance(step, NetworkError):
            raise step
        return step(bundle)


@pytest.fixture
def log(data_dir: Path) -> Iterator[SendLog]:
    conn = WorkStore.open(data_dir, KEY)
    yield SendLog(conn)
    conn.close()


def _send(log: SendLog, epr: ScriptedEpr, waits: list[float] | None = None,
          **kw: Any) -> Any:
    waits = [] if waits is None else waits
    opts = SendOptions(sleep=waits.append, **kw)
    return send_pending(log, TARGET, auth=StaticBearerAuth(TARGET, "tok"), transport=epr,
                        source="test", options=opts)


def test_chunks_keep_units_whole_and_patients_first() -> None:
    entries = _entries(6)
    queued = [_as_queued(n, e) for n, e in enumerate(entries)]
    for groups in chunked(queued, 20):
        assert sum(len(g) for g in groups) <= 20 or len(groups) == 1
        for group in groups:
            assert len({q.unit_key for q in group}) == 1
            assert group[-1].resource_type == "Provenance"  # after what it points at
    units = {q.unit_key for q in queued}
    assert sum(len(groups) for groups in chunked(queued, 20)) == len(units)


def _as_queued(n: int, e: NewEntry) -> Any:
    from paperfallback.export.send_state import QueuedEntry

    return QueuedEntry(n, TARGET, e.full_url, e.unit_key, e.instance_id, e.form_id,
                       e.resource_type, e.entry, "pending")


def test_network_failures_and_5xx_are_retried_with_backoff_then_accepted(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)
    waits: list[float] = []
    epr = ScriptedEpr(NetworkError("connection reset"),
                      lambda _b: HttpAnswer(503, b"", {"Retry-After": "0"}),
                      lambda _b: outcome(500, "database busy"))
    result = _send(log, epr, waits, chunk_size=500, backoff_s=2.0)
    assert result.accepted == len(entries) and result.retries == 3
    assert waits == [2.0, 4.0, 8.0]  # Retry-After: 0 never makes it hammer the server
    assert {q.state for q in log.entries()} == {"accepted"}
    assert all(q.attempts == 4 for q in log.entries())
    assert epr.headers[0]["Authorization"] == "Bearer tok"


def test_after_the_last_try_the_run_stops_and_the_rest_stays_queued(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)
    failing = [lambda _b: outcome(502, "bad gateway")] * 4
    with pytest.raises(SendInterrupted, match=r"after 4 tries .*HTTP 502: bad gateway"):
        _send(log, ScriptedEpr(*failing), chunk_size=500)
    assert len(log.pending(TARGET)) == len(entries)
    assert _send(log, ScriptedEpr(), chunk_size=500).accepted == len(entries)  # resumed


def test_a_crash_after_the_epr_applied_a_chunk_resends_only_that_chunk(log: SendLog) -> None:
    """The answer to chunk 2 is lost (the PC died): chunk 1 stays accepted and is never sent
    again; chunk 2 is sent again (conditional entries: harmless on the EPR)."""
    entries = _entries(4)
    log.queue(TARGET, entries)
    epr = ScriptedEpr(accept_all, NetworkError("power cut"), NetworkError("power cut"),
                      NetworkError("power cut"), NetworkError("power cut"))
    with pytest.raises(SendInterrupted):
        _send(log, epr, chunk_size=40)
    first = {e["fullUrl"] for e in epr.bundles[0]["entry"]}
    accepted = {q.full_url for q in log.entries() if q.state == "accepted"}
    assert accepted == first
    again = ScriptedEpr()
    _send(log, again, chunk_size=40)
    resent = {e["fullUrl"] for b in again.bundles for e in b["entry"]}
    assert not resent & first
    assert resent | first == {e.full_url for e in entries}
    assert log.queue(TARGET, entries) == (0, len(entries))  # never queued again


def test_a_bundle_refused_whole_is_split_until_the_refused_unit_is_found(log: SendLog) -> None:
    """A real transaction is all or nothing: one bad unit must not hold back the ward."""
    entries = _entries(4)
    bad_unit = entries[0].unit_key
    log.queue(TARGET, entries)

    def atomic(bundle: dict[str, Any]) -> HttpAnswer:
        if any(e["fullUrl"] in bad_urls for e in bundle["entry"]):
            return outcome(400, "Constraint obs-6 not met (at Observation.dataAbsentReason)")
        return accept_all(bundle)

    bad_urls = {e.full_url for e in entries if e.unit_key == bad_unit}
    result = _send(log, ScriptedEpr(*[atomic] * 50), chunk_size=500)
    rejected = [q for q in log.entries() if q.state == "rejected"]
    assert {q.full_url for q in rejected} == bad_urls
    assert all("obs-6" in q.outcome for q in rejected)
    assert result.accepted == len(entries) - len(bad_urls)


def test_per_entry_errors_in_a_batch_style_answer_are_recorded_per_entry(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)

    def one_bad(bundle: dict[str, Any]) -> HttpAnswer:
        answer = orjson.loads(accept_all(bundle).body)
        answer["entry"][1] = {"response": {"status": "422", "outcome": orjson.loads(
            outcome(422, "Unknown code 'xyz'").body)}}
        return HttpAnswer(200, orjson.dumps(answer))

    result = _send(log, ScriptedEpr(one_bad), chunk_size=500)
    assert (result.accepted, result.rejected) == (len(entries) - 1, 1)
    (rejected,) = [q for q in log.entries() if q.state == "rejected"]
    assert rejected.outcome == "Unknown code 'xyz'"
    located = [q for q in log.entries() if q.state == "accepted"]
    assert all(q.location.endswith("/_history/1") for q in located)


def test_a_refused_token_stops_the_run_and_keeps_everything_queued(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)
    refuse = [lambda _b: outcome(401, "token expired")] * 2
    with pytest.raises(SendRefused, match="HTTP 401: token expired"):
        _send(log, ScriptedEpr(*refuse))
    assert len(log.pending(TARGET)) == len(entries)
    with pytest.raises(SendRefused, match="HTTP 403: scope"):
        _send(log, ScriptedEpr(lambda _b: outcome(403, "scope")))


def test_a_token_refused_once_is_renewed_and_the_send_goes_on(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)

    class Renewing(StaticBearerAuth):
        renewals = 0

        def invalidate(self) -> None:
            Renewing.renewals += 1

    result = send_pending(log, TARGET, auth=Renewing(TARGET, "tok"), source="test",
                          transport=ScriptedEpr(lambda _b: outcome(401, "token expired")),
                          options=SendOptions(sleep=lambda _s: None))
    assert result.accepted == len(entries) and Renewing.renewals == 1


def test_the_bearer_token_goes_only_to_the_epr_origin() -> None:
    auth = StaticBearerAuth(TARGET, "tok")
    assert auth.headers_for(TARGET + "/Observation") == {"Authorization": "Bearer tok"}
    assert auth.headers_for("https://elsewhere.example/fhir") == {}
    assert auth.headers_for("http://epr.example.nhs.uk/fhir") == {}  # not over plain http


def test_a_correction_supersedes_a_rejected_entry(log: SendLog) -> None:
    entries = _entries(1)
    log.queue(TARGET, entries)
    first = entries[0]
    _send(log, ScriptedEpr(lambda b: _reject_first(b)), chunk_size=500)
    corrected = NewEntry(first.full_url, first.unit_key, first.instance_id, first.form_id,
                         first.resource_type, "PUT", first.url,
                         {**first.entry, "request": {"method": "PUT", "url": "x"}})
    assert log.queue(TARGET, [corrected]) == (1, 0)
    states = [q.state for q in log.entries() if q.full_url == first.full_url]
    assert states == ["pending"]


def _reject_first(bundle: dict[str, Any]) -> HttpAnswer:
    answer = orjson.loads(accept_all(bundle).body)
    answer["entry"][0] = {"response": {"status": "400"}}
    return HttpAnswer(200, orjson.dumps(answer))


def test_conditional_references_keep_the_identifier() -> None:
    ref = {"type": "Patient", "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                             "value": "9990000018"}, "display": "X"}
    out = with_conditional_references({"resourceType": "Observation", "subject": ref,
                                       "performer": [{"display": "AB"}]})
    assert out["subject"] == {
        "reference": "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", **ref}
    assert out["performer"] == [{"display": "AB"}]


def test_status_json_counts_per_instance_form_and_total(log: SendLog) -> None:
    entries = _entries(2)
    log.queue(TARGET, entries)
    _send(log, ScriptedEpr(_reject_first), chunk_size=500)
    counts = log.counts_by_instance()
    status = {"instances": [{"instance_id": i, "form_id": f, "ward": "W1"} for i, f in counts],
              "by_ward_and_form": [{"ward": "W1", "form_id": f}
                                   for f in sorted({f for _, f in counts})]}
    add_send_counts(status, counts)
    total = status["sending"]["total"]
    assert total == {"sent": len(entries), "accepted": len(entries) - 1, "rejected": 1,
                     "pending": 0}
    assert sum(line["rejected"] for line in status["instances"]) == 1
    assert sum(g["accepted"] for g in status["by_ward_and_form"]) == len(entries) - 1


def test_mar_administrations_carry_a_dose_or_keep_the_dose_as_written() -> None:
    """FHIR R4 mad-1 (dosage needs dose or rate): found by the Medplum engine, which
    refused every MAR administration whose dosage held only text and route."""
    from paperfallback.export.fhir_resources import build_form

    form = random_mar_form(1, random.Random(1))
    rows = list(form.rows)
    rows[0] = keyed_row("regular", 0, {"reg_time": "08:00", "reg_given_1": "AB"},
                        source_ref="rx-1", context={**rows[0].context, "dose": "500mg"})
    rows[1] = keyed_row("regular", 1, {"reg_time": "09:00", "reg_given_1": "AB"},
                        source_ref="rx-2", context={**rows[1].context, "dose": "1-2 puffs"})
    from dataclasses import replace

    units = build_form(replace(form, rows=tuple(rows)), SYSTEMS, "PC1")
    given = [e.resource for u in units for e in u.entries
             if e.resource_type == "MedicationAdministration"]
    first = next(r for r in given if r["request"]["reference"].endswith("rx-1"))
    assert first["dosage"] == {"text": "500mg", "dose": {"value": 500, "unit": "mg"},
                               "route": {"text": "Oral"}}
    second = next(r for r in given if r["request"]["reference"].endswith("rx-2"))
    assert "dosage" not in second
    assert "Dose as written: 1-2 puffs; route: Oral" in second["note"][0]["text"]


def test_dry_run_validation_names_the_invalid_resource_and_an_unconditional_create() -> None:
    from dataclasses import replace

    from paperfallback.export.send_run import validate_entries

    queued = [_as_queued(n, e) for n, e in enumerate(_entries(1))]
    assert validate_entries(queued) == []
    bad = queued[0]
    resource = {**bad.entry["resource"], "status": "finished-ish",
                "valueQuantity": {"value": "ninety-six"}}
    queued[0] = replace(bad, entry={**bad.entry, "resource": resource,
                                    "request": {"method": "POST", "url": "Observation"}})
    problems = validate_entries(queued)
    assert len(problems) == 2
    assert problems[0].startswith(f"form {bad.instance_id} (news2)")
    assert "without ifNoneExist" in problems[0] and "valueQuantity" in problems[1]


def test_export_to_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from paperfallback.cli.main import main

    assert main(["export", "--to", TARGET, "--out", "x.json"]) == 2
    assert main(["export", "--format", "fhir", "--out", "x.json", "--dry-run"]) == 2
    assert main(["export", "--format", "fhir"]) == 2
    err = capsys.readouterr().err
    assert "takes no --out" in err and "go with --to URL" in err and "needs --format" in err
