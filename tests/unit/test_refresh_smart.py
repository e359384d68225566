"""Bulk Data refresh through SMART Backend Services, and the hardening a probe called for.

Every test runs the real client against tests/servers/bulk_data_server.py: a Bulk Data
server on 127.0.0.1 that only answers holders of a token from its own strict SMART token
endpoint, with one misbehaviour switched on at a time (issue 14 item 5).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bulk_data_server import SecuredBulkServer
from smart_token_server import ClientKey

from paperfallback.cache.refresh import (
    TEMP_FOLDER,
    RefreshFailed,
    RefreshOptions,
    SmartClient,
    refresh_cache,
)
from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.settings import Settings

KEY = "test-key-not-secret"
CLIENT = "ward-7-pc-3"


@pytest.fixture
def server(tiny_extract_resources: Any, smart_client_key: ClientKey) -> Iterator[SecuredBulkServer]:
    with SecuredBulkServer(tiny_extract_resources) as bulk:
        bulk.register(CLIENT, smart_client_key.public_jwk)
        yield bulk


@pytest.fixture
def store(data_dir: Path) -> Iterator[CacheStore]:
    with CacheStore.open(data_dir, KEY) as cache:
        yield cache


def _refresh(store: CacheStore, server: SecuredBulkServer, key: ClientKey, data_dir: Path,
             **options: Any) -> Any:
    values: dict[str, Any] = {
        "smart": SmartClient(CLIENT, str(key.pem_path), key.kid),
        "request_timeout_s": 5.0, "deadline_s": 30.0, "min_poll_s": 0.01,
    }
    values.update(options)
    return refresh_cache(store, server.base_url, data_dir=data_dir, settings=Settings(),
                         options=RefreshOptions(**values))


def _file_requests(server: SecuredBulkServer) -> list[dict[str, str]]:
    return [r.headers for r in server.requests if r.path.startswith("/fhir/files/")]


def _assert_nothing_left(data_dir: Path) -> None:
    assert not any((data_dir / TEMP_FOLDER).iterdir()), "downloaded files left on disk"


def test_cli_round_trip_kickoff_poll_manifest_files_with_a_smart_token(
    server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.bad.polls_before_done = 0
    args = ["cache", "refresh", "--from", f"{server.base_url}/Group/ward-7/$export",
            "--client-id", CLIENT, "--private-key", str(smart_client_key.pem_path),
            "--key-id", smart_client_key.kid, "--scope", "system/*.read"]

    assert main(args) == 0, capsys.readouterr().err

    assert "Refreshed from" in capsys.readouterr().out
    assert server.token_requests == 1 and server.refusals == []
    assert server.unauthorised == 0
    paths = [r.path for r in server.requests]
    assert paths[0] == "/fhir/.well-known/smart-configuration"
    assert paths[1] == "/auth/token"
    assert "/fhir/Group/ward-7/$export" in paths and "/fhir/status/job-1" in paths
    assert len(_file_requests(server)) == 3
    assert all(h["Authorization"].startswith("Bearer ") for h in _file_requests(server))
    assert main(["cache", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["counts"]["patients"] == 4 and status["last_refresh_failed"] is False


def test_settings_keys_configure_smart_and_the_options_override_them(
    smart_client_key: ClientKey,
) -> None:
    settings = Settings(refresh_client_id="from-settings",
                        refresh_private_key=str(smart_client_key.pem_path),
                        refresh_key_id="k-settings")
    options = RefreshOptions.from_settings(settings)
    assert options.smart == SmartClient("from-settings", str(smart_client_key.pem_path),
                                        "k-settings", "system/*.read")
    options = RefreshOptions.from_settings(settings, client_id="from-cli", scope="system/x.read")
    assert options.smart is not None
    assert (options.smart.client_id, options.smart.scope) == ("from-cli", "system/x.read")
    assert RefreshOptions.from_settings(Settings()).smart is None
    with pytest.raises(Exception, match="private key file"):
        RefreshOptions.from_settings(Settings(refresh_client_id="x"))


def test_a_revoked_token_is_renewed_once(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.polls_before_done = 2
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        server.expire_all_tokens()  # the EPR revokes tokens between polls

    _refresh(store, server, smart_client_key, data_dir, sleep=sleep)
    assert len(store.patients()) == 4
    assert server.token_requests == 3  # first, and once after each revocation


def test_token_goes_to_files_only_on_the_servers_origin(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.files_host = "localhost"  # same port, another origin

    with pytest.raises(RefreshFailed, match="HTTP 401"):
        _refresh(store, server, smart_client_key, data_dir)

    assert _file_requests(server), "the client did try the file"
    assert all("Authorization" not in h for h in _file_requests(server))
    _assert_nothing_left(data_dir)


def test_no_token_to_files_when_the_manifest_does_not_require_one(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.requires_access_token = None  # key absent

    _refresh(store, server, smart_client_key, data_dir)

    assert len(_file_requests(server)) == 3
    assert all("Authorization" not in h for h in _file_requests(server))
    assert len(store.patients()) == 4


def test_retry_after_zero_does_not_make_a_request_storm(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.never_finishes = True
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(RefreshFailed, match=r"did not finish within 5 minutes.*50%"):
        _refresh(store, server, smart_client_key, data_dir, min_poll_s=2.0, deadline_s=300.0,
                 sleep=sleep, clock=lambda: now[0])

    assert waits[0] == 2.0 and all(w >= 2.0 for w in waits)
    assert waits == sorted(waits) and waits[-1] >= 32  # backing off
    assert server.polls <= 10  # not ~600 a second: about 9 in 5 minutes
    _assert_nothing_left(data_dir)


def test_the_deadline_holds_against_a_server_that_drips_one_byte_at_a_time(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.polls_before_done = 0
    server.bad.drip_s = 0.05  # a 1 kB file would take about a minute
    started = time.monotonic()

    with pytest.raises(RefreshFailed, match=r"did not finish within 1\.5 seconds"):
        _refresh(store, server, smart_client_key, data_dir, deadline_s=1.5)

    assert time.monotonic() - started < 4
    _assert_nothing_left(data_dir)


def test_the_deadline_holds_when_even_the_status_line_and_headers_drip(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.drip_status_s = 0.05  # 2 kB of headers: well over a minute
    started = time.monotonic()

    with pytest.raises(RefreshFailed, match=r"did not finish within 1\.5 seconds"):
        _refresh(store, server, smart_client_key, data_dir, deadline_s=1.5)

    assert time.monotonic() - started < 4
    _assert_nothing_left(data_dir)


def test_a_download_larger_than_the_cap_is_refused_while_streaming(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.polls_before_done = 0
    server.bad.huge_line_bytes = 3_000_000  # one 3 MB line

    with pytest.raises(RefreshFailed, match=r"larger than the download limit of 1 MB"):
        _refresh(store, server, smart_client_key, data_dir, max_download_bytes=1_000_000)

    _assert_nothing_left(data_dir)


def test_the_download_cap_is_a_setting() -> None:
    assert RefreshOptions.from_settings(
        Settings(refresh_max_download_mb=5)).max_download_bytes == 5_000_000
    with pytest.raises(Exception, match="refresh_max_download_mb"):
        RefreshOptions.from_settings(Settings(refresh_max_download_mb=0))


def test_a_redirect_to_ftp_is_refused(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.polls_before_done = 0
    server.bad.redirect_files_to = "ftp://127.0.0.1/Patient.ndjson"

    with pytest.raises(RefreshFailed, match="only http and https are allowed, not ftp"):
        _refresh(store, server, smart_client_key, data_dir)

    _assert_nothing_left(data_dir)


def test_a_non_http_refresh_source_is_refused(store: CacheStore, data_dir: Path) -> None:
    with pytest.raises(RefreshFailed, match="not ftp"):
        refresh_cache(store, "ftp://epr.example.nhs.uk/export", data_dir=data_dir,
                      settings=Settings())


def test_an_empty_export_says_so_without_naming_a_temporary_folder(
    store: CacheStore, server: SecuredBulkServer, smart_client_key: ClientKey, data_dir: Path
) -> None:
    server.bad.polls_before_done = 0
    server.bad.empty_export = True

    with pytest.raises(RefreshFailed, match="the server exported no files for this group") as e:
        _refresh(store, server, smart_client_key, data_dir)

    assert TEMP_FOLDER not in str(e.value) and str(data_dir) not in str(e.value)
    _assert_nothing_left(data_dir)




def test_the_fhir_base_for_discovery_comes_from_the_kickoff_address() -> None:
    from paperfallback.fhirclient.bulk_export import fhir_base

    assert fhir_base("https://epr/fhir/Group/ward-7/$export?_type=Patient") == "https://epr/fhir"
    assert fhir_base("https://epr/r4/Patient/$export") == "https://epr/r4"
    assert fhir_base("https://epr/fhir/$export") == "https://epr/fhir"
    assert fhir_base("https://epr:8443/fhir") == "https://epr:8443/fhir"
