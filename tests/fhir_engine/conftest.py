"""The stand-in EPR and its SMART token endpoint, started once per test session; the
engine is emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fhir_engine_server import READER, WRITER, FhirEngine, Smart, engine_for
from smart_token_server import SmartTokenServer, make_client_key


@pytest.fixture(scope="session")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    keys: Path = tmp_path_factory.mktemp("send-keys")
    writer = make_client_key(keys, "ES384", kid="ward-pc-send")
    reader = make_client_key(keys, "RS384", kid="ward-pc-read")
    stranger = make_client_key(keys, "ES384", kid="not-registered")
    with SmartTokenServer() as server:
        server.register(WRITER, writer.public_jwk, scopes=("system/*.write",))
        server.register(READER, reader.public_jwk, scopes=("system/*.read",))
        yield Smart(server, writer, reader, stranger)


@pytest.fixture(scope="session")
def fhir_engine_session(smart: Smart) -> Iterator[FhirEngine]:
    engine = engine_for(smart)
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def fhir_engine(fhir_engine_session: FhirEngine) -> FhirEngine:
    fhir_engine_session.reset()
    return fhir_engine_session
