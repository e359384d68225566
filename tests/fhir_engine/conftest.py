"""The stand-in EPR, started once per test session and emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fhir_engine_server import FhirEngine, start_engine, unavailable_reason


@pytest.fixture(scope="session")
def fhir_engine_session() -> Iterator[FhirEngine]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    engine = start_engine()
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def fhir_engine(fhir_engine_session: FhirEngine) -> FhirEngine:
    fhir_engine_session.reset()
    return fhir_engine_session
