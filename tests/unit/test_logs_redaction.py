"""The log file holds no patient data: redaction rules, and a grep after real commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.logs import close_logging, log_path, redact, setup_logging

KEY = "test-key-not-secret"


@pytest.fixture(autouse=True)
def _detach_log_handler() -> Iterator[None]:
    yield
    close_logging()


@pytest.mark.parametrize(
    "text",
    [
        "patient 9434765919 not found",
        "NHS number 943 476 5919 has a wrong check digit",
        "NHS number 943-476-5919",
    ],
)
def test_nhs_numbers_are_redacted(text: str) -> None:
    assert "5919" not in redact(text)
    assert "[NHS number]" in redact(text)


def test_quoted_values_are_redacted_but_apostrophes_in_words_are_kept() -> None:
    text = "Row 14, column 'family': 'Ap Llŷr' is too long; the extract's time is \"unknown\""
    assert redact(text) == "Row 14, column '…': '…' is too long; the extract's time is '…'"


def test_longer_numbers_and_times_are_not_mistaken_for_nhs_numbers() -> None:
    text = "imported 1500 patients at 2026-11-24T07:15:00+00:00, file of 12345678901 bytes"
    assert redact(text) == text


def test_the_file_handler_redacts_messages_arguments_and_tracebacks(data_dir: Path) -> None:
    path = setup_logging(data_dir)
    assert path == log_path(data_dir)
    log = logging.getLogger("paperfallback.test")
    log.info("looked up %s", "9434765919")
    try:
        raise ValueError("bad name 'Gwenllïan Ap Llŷr'")
    except ValueError:
        log.exception("failed")
    text = path.read_text(encoding="utf-8")
    assert "9434765919" not in text
    assert "Gwenllïan" not in text
    assert "ValueError" in text  # the traceback is kept, only the value is gone


def test_commands_leave_no_patient_data_in_the_log(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CacheStore.open(demo_data_dir, KEY) as store:
        rows = store.patients()
    names = {r.patient.family for r in rows} | {r.patient.given for r in rows}
    numbers = {r.patient.nhs_number for r in rows if r.patient.nhs_number}
    hospital = {r.patient.hospital_number for r in rows if r.patient.hospital_number}
    first = rows[0].patient

    from paperfallback.cache.demo import write_demo_extract

    assert main(["demo", "--seed", "7"]) == 0
    extract = write_demo_extract(tmp_path / "extract", seed=7)
    assert main(["cache", "import", str(extract), "--force"]) == 0
    assert main(["patients", "--search", first.family]) == 0
    assert main(["patients", "--json"]) == 0
    assert main(["cache", "status"]) == 0
    ward = rows[0].stay.ward_code if rows[0].stay else ""
    assert main(["print", "--ward", ward, "--out", str(tmp_path / "ward.pdf")]) == 0
    assert main(["print", "--patient", str(first.nhs_number),
                 "--out", str(tmp_path / "patient.pdf")]) == 0
    # Errors quoting what a user typed: a name, an NHS number, a missing file.
    assert main(["patients", "--ward", first.family]) == 1
    assert main(["cache", "import", str(tmp_path / f"{first.nhs_number}.json")]) == 1
    capsys.readouterr()

    text = log_path(demo_data_dir).read_text(encoding="utf-8")
    assert "demo: exit 0" in text
    assert "import from" in text and " ok: " in text
    assert "patients: exit 0" in text
    assert "print: exit 0" in text
    # Printed forms are traceable by instance ID (and nothing else about the patient).
    from paperfallback.register import Register
    from paperfallback.settings import Settings

    with Register.open(demo_data_dir, KEY, Settings.load(demo_data_dir)) as register:
        printed = [i.instance_id for i in register.list()]
    assert len(printed) > 2 and all(i in text for i in printed)
    assert "register: recorded 3 new of 3 printed form instances: news2 (1) " in text
    assert "ERROR" in text
    leaked = sorted(
        value for value in names | numbers | hospital
        if len(value) >= 4 and value in text
    )
    assert leaked == []
