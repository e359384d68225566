"""Cache refresh from a FHIR Bulk Data server: a real local HTTP server on 127.0.0.1.

The server plays the Bulk Data export flow (kick-off 202 + Content-Location, a poll that
answers 202 + Retry-After: 0, then 200 + manifest, NDJSON downloads, DELETE), and each
failure case checks the three promises: the previous snapshot stays, a failed attempt
is recorded for monitoring, and nothing of the download is left on disk.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.refresh import (
    TEMP_FOLDER,
    RefreshFailed,
    RefreshOptions,
    export_url,
    refresh_cache,
)
from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.domain.errors import CacheError
from paperfallback.settings import Settings

KEY = "test-key-not-secret"


@dataclass
class Scenario:
    """What the fake server does; tests change one thing each."""

    patients: int = 4
    transaction_time: str = ""
    kickoff_status: int = 202
    polls_before_done: int = 1
    status_delay_s: float = 0.0
    never_finishes: bool = False
    corrupt_type: str | None = None
    missing_type: str | None = None
    wrong_count_type: str | None = None
    manifest_errors: int = 0
    redirect_files_to: str | None = None  # another host name for the same server
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


Resources = Callable[[int, str], dict[str, list[dict[str, object]]]]


class FakeBulkServer:
    def __init__(self, scenario: Scenario, resources: Resources) -> None:
        self.scenario = scenario
        self.resources = resources
        self.polls = 0
        handler = self._handler_class()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def files(self) -> dict[str, bytes]:
        s = self.scenario
        when = s.transaction_time or datetime.now(UTC).isoformat()
        out: dict[str, bytes] = {}
        for rtype, items in self.resources(s.patients, when).items():
            lines = [json.dumps(r, ensure_ascii=False) for r in items]
            if rtype == s.corrupt_type:
                lines[0] = lines[0][: len(lines[0]) // 2]  # a line cut in half
            out[rtype] = ("\n".join(lines) + "\n").encode("utf-8")
        return out

    def manifest(self) -> dict[str, Any]:
        s = self.scenario
        outputs = []
        for rtype, body in self.files().items():
            count = body.count(b"\n") + (1 if rtype == s.wrong_count_type else 0)
            outputs.append({"type": rtype, "url": f"{self.base}/files/{rtype}.ndjson",
                            "count": count})
        return {
            "transactionTime": s.transaction_time or datetime.now(UTC).isoformat(),
            "request": f"{self.base}/$export",
            "requiresAccessToken": True,
            "output": outputs,
            "error": [{"type": "OperationOutcome", "url": f"{self.base}/files/err.ndjson"}]
            * s.manifest_errors,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                      ctype: str = "application/json") -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:
                server.scenario.requests.append(("DELETE", self.path, dict(self.headers)))
                self._send(202)

            def do_GET(self) -> None:
                s = server.scenario
                s.requests.append(("GET", self.path, dict(self.headers)))
                if self.path.startswith("/fhir/$export"):
                    if s.kickoff_status != 202:
                        outcome = {"resourceType": "OperationOutcome", "issue": [
                            {"severity": "error", "code": "exception",
                             "diagnostics": "export service unavailable"}]}
                        self._send(s.kickoff_status, json.dumps(outcome).encode())
                        return
                    self._send(202, headers={"Content-Location": "/fhir/status/job-1"})
                elif self.path == "/fhir/status/job-1":
                    if s.status_delay_s:
                        time.sleep(s.status_delay_s)
                    server.polls += 1
                    if s.never_finishes or server.polls <= s.polls_before_done:
                        self._send(202, headers={"Retry-After": "0", "X-Progress": "50%"})
                        return
                    self._send(200, json.dumps(server.manifest()).encode())
                elif self.path.startswith("/fhir/files/") and s.redirect_files_to:
                    port = server.httpd.server_address[1]
                    target = f"http://{s.redirect_files_to}:{port}/fhir/moved/"
                    self._send(302, headers={"Location": target + self.path.rsplit("/", 1)[1]})
                elif self.path.startswith(("/fhir/files/", "/fhir/moved/")):
                    rtype = self.path.rsplit("/", 1)[1].removesuffix(".ndjson")
                    files = server.files()
                    if rtype not in files or rtype == s.missing_type:
                        self._send(404, b'{"resourceType": "OperationOutcome", "issue": []}')
                        return
                    self._send(200, files[rtype], ctype="application/fhir+ndjson")
                else:
                    self._send(404)

        return Handler


@pytest.fixture
def bulk_server(tiny_extract_resources: Resources) -> Iterator[FakeBulkServer]:
    server = FakeBulkServer(Scenario(), tiny_extract_resources)
    yield server
    server.close()


@pytest.fixture
def store(data_dir: Path) -> Iterator[CacheStore]:
    with CacheStore.open(data_dir, KEY) as cache:
        yield cache


def _options(**overrides: Any) -> RefreshOptions:
    values: dict[str, Any] = {"bearer_token": "secret-token", "request_timeout_s": 5.0,
                              "deadline_s": 30.0, "min_poll_s": 0.01}
    values.update(overrides)
    return RefreshOptions(**values)


def _refresh(store: CacheStore, server: FakeBulkServer, data_dir: Path,
             **overrides: Any) -> Any:
    return refresh_cache(store, server.base, data_dir=data_dir, settings=Settings(),
                         options=_options(**overrides))


def _seed_previous(store: CacheStore, server: FakeBulkServer, data_dir: Path) -> datetime:
    """A good first refresh of 4 patients, ten minutes old; returns its data-as-of time."""
    before = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    server.scenario.transaction_time = before
    _refresh(store, server, data_dir)
    server.scenario.transaction_time = ""
    server.polls = 0
    return datetime.fromisoformat(before)


def _assert_previous_kept(store: CacheStore, as_of: datetime, data_dir: Path) -> None:
    status = store.status()
    assert status.data_as_of == as_of
    assert len(store.patients()) == 4
    assert status.last_refresh_failed
    assert status.last_refresh_ok_at is not None
    assert not any((data_dir / TEMP_FOLDER).iterdir()), "downloaded files left on disk"


def test_export_flow_imports_the_snapshot(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    report = _refresh(store, bulk_server, data_dir)

    assert report.result is not None
    assert len(store.patients()) == 4
    status = store.status()
    assert status.data_as_of == report.result.data_as_of
    assert not status.last_refresh_failed
    assert status.last_refresh_ok_at is not None
    requests = bulk_server.scenario.requests
    kickoff = requests[0]
    assert kickoff[1] == "/fhir/$export"
    assert kickoff[2]["Prefer"] == "respond-async"
    assert kickoff[2]["Authorization"] == "Bearer secret-token"
    assert bulk_server.polls == 2  # one 202 with Retry-After: 0, then the manifest
    assert sum(1 for r in requests if r[1].startswith("/fhir/files/")) == 3
    assert requests[-1][0] == "DELETE"  # the client tells the server it is done
    assert not any((data_dir / TEMP_FOLDER).iterdir())


def test_kickoff_error_keeps_previous_snapshot(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.kickoff_status = 500

    with pytest.raises(RefreshFailed, match=r"HTTP 500.*export service unavailable"):
        _refresh(store, bulk_server, data_dir)

    _assert_previous_kept(store, as_of, data_dir)
    assert "HTTP 500" in store.status().last_refresh_message


def test_corrupt_ndjson_keeps_previous_snapshot(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.corrupt_type = "Encounter"

    with pytest.raises(RefreshFailed, match="Encounter"):
        _refresh(store, bulk_server, data_dir)

    _assert_previous_kept(store, as_of, data_dir)


def test_manifest_listing_a_missing_file_keeps_previous_snapshot(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.missing_type = "Patient"

    with pytest.raises(RefreshFailed, match="HTTP 404"):
        _refresh(store, bulk_server, data_dir)

    _assert_previous_kept(store, as_of, data_dir)


def test_count_mismatch_is_an_incomplete_download(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.wrong_count_type = "Patient"

    with pytest.raises(RefreshFailed, match="incomplete"):
        _refresh(store, bulk_server, data_dir)

    _assert_previous_kept(store, as_of, data_dir)


def test_server_reported_errors_mean_a_partial_export(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.manifest_errors = 2

    with pytest.raises(RefreshFailed, match="2 error file"):
        _refresh(store, bulk_server, data_dir)

    _assert_previous_kept(store, as_of, data_dir)


def test_a_server_that_does_not_answer_times_out(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.status_delay_s = 2.0

    with pytest.raises(RefreshFailed, match="did not answer"):
        _refresh(store, bulk_server, data_dir, request_timeout_s=0.3)

    _assert_previous_kept(store, as_of, data_dir)


def test_an_export_that_never_finishes_gives_up_at_the_deadline(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    as_of = _seed_previous(store, bulk_server, data_dir)
    bulk_server.scenario.never_finishes = True
    fake_now = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock: no real waiting
        fake_now[0] += max(seconds, 1.0)

    with pytest.raises(RefreshFailed, match=r"did not finish within 0\.5 minutes.*50%"):
        _refresh(store, bulk_server, data_dir, deadline_s=30.0, sleep=sleep,
                 clock=lambda: fake_now[0])

    _assert_previous_kept(store, as_of, data_dir)
    assert 10 < bulk_server.polls < 40


def test_token_is_never_sent_over_plain_http_to_another_host(data_dir: Path) -> None:
    with CacheStore.open(data_dir, KEY) as cache, pytest.raises(RefreshFailed, match="https"):
        refresh_cache(cache, "http://epr.example.nhs.uk/fhir", data_dir=data_dir,
                      settings=Settings(), options=_options())
    with CacheStore.open(data_dir, KEY) as cache:
        status = cache.status()
        assert status.last_refresh_failed
        assert status.last_refresh_ok_at is None


def test_export_url_accepts_a_base_or_a_full_kickoff_address() -> None:
    assert export_url("https://epr/fhir") == "https://epr/fhir/$export"
    assert export_url("https://epr/fhir/Group/ward-7/") == "https://epr/fhir/Group/ward-7/$export"
    full = "https://epr/fhir/Group/7/$export?_type=Patient,Encounter"
    assert export_url(full) == full


def test_cli_refresh_exit_codes_feed_status_json(
    bulk_server: FakeBulkServer, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPERFALLBACK_REFRESH_TOKEN", "from-the-environment")

    assert main(["cache", "refresh", "--from", bulk_server.base]) == 0
    assert "Refreshed from" in capsys.readouterr().out
    assert bulk_server.scenario.requests[0][2]["Authorization"] == "Bearer from-the-environment"
    assert main(["cache", "status", "--json"]) == 0
    good = json.loads(capsys.readouterr().out)
    assert good["last_refresh_failed"] is False
    assert good["needs_attention"] is False
    assert good["last_successful_refresh"] is not None

    bulk_server.scenario.kickoff_status = 503
    assert main(["cache", "refresh", "--from", bulk_server.base]) == 1
    assert "HTTP 503" in capsys.readouterr().err
    assert main(["cache", "status", "--json"]) == 0
    bad = json.loads(capsys.readouterr().out)
    assert bad["last_refresh_failed"] is True
    assert bad["last_successful_refresh"] == good["last_successful_refresh"]
    assert bad["needs_attention"] is True
    assert "the last refresh attempt failed" in bad["problems"]
    assert main(["cache", "status", "--check"]) == 1


def test_options_come_from_settings_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(refresh_token_env="EPR_TOKEN", refresh_timeout_minutes=4)
    monkeypatch.setenv("EPR_TOKEN", "abc")
    options = RefreshOptions.from_settings(settings)
    assert options.bearer_token == "abc"
    assert options.deadline_s == 240
    monkeypatch.delenv("EPR_TOKEN")
    assert RefreshOptions.from_settings(settings).bearer_token is None
    with pytest.raises(CacheError, match="refresh_timeout_minutes"):
        RefreshOptions.from_settings(Settings(refresh_timeout_minutes=0))


def test_the_token_does_not_follow_a_redirect_to_another_host(
    store: CacheStore, bulk_server: FakeBulkServer, data_dir: Path
) -> None:
    bulk_server.scenario.redirect_files_to = "localhost"

    _refresh(store, bulk_server, data_dir)

    moved = [r for r in bulk_server.scenario.requests if r[1].startswith("/fhir/moved/")]
    assert len(moved) == 3
    assert all("Authorization" not in headers for _, _, headers in moved)
    files = [r for r in bulk_server.scenario.requests if r[1].startswith("/fhir/files/")]
    assert all(headers["Authorization"] == "Bearer secret-token" for _, _, headers in files)
    assert len(store.patients()) == 4
