"""Scanned paper filed as DocumentReferences in bounded memory (issue 15, goal 3): the
images are read, put in a PDF and encoded one form at a time as the export writes them,
and a send cuts its Bundles by size, so a ward's scans never sit in memory together."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.pipeline import run_export
from paperfallback.export.samples import synthetic_nhs_number
from paperfallback.export.scanned import scanned_documents
from paperfallback.export.send import SendOptions, pack
from paperfallback.export.send_http import HttpAnswer, NoAuth
from paperfallback.export.send_run import run_send
from paperfallback.export.send_state import QueuedEntry
from paperfallback.formspec import load_catalogue
from paperfallback.register import IssuedForm, Register
from paperfallback.scan.store import ScanStore
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
TARGET = "https://epr.example.nhs.uk/fhir"


def _page() -> bytes:
    """A scanned page: paper noise, so the JPEG is not tiny (about 0.2 MB); each differs."""
    out = io.BytesIO()
    Image.effect_noise((600, 850), 30).save(out, format="JPEG", quality=75)
    return out.getvalue()


def _scanned(folder: Path, count: int, page: bytes | None = None) -> list[str]:
    """``count`` returned two-page NEWS2 charts nobody keyed (each page ``page``, else
    its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    work = WorkStore.open(folder, KEY)
    try:
        register, scans = Register(work, pc_code="T1"), ScanStore(work)
        ids = []
        for n in range(count):
            issued = IssuedForm(
                instance_id=register.instance_id(), form_id="news2", form_version="1.0",
                scope="patient", page_count=2,
                printed_at=datetime.now(UTC) - timedelta(hours=5), pc_id="T1-PC",
                patient_id=f"p{n}", nhs_number=synthetic_nhs_number(n),
                patient_name=f"PATIENT, Number {n}", ward_code="AN")
            register.record(issued)
            for number in (1, 2):
                scans.add(form_id=issued.instance_id, page=number, status="identified",
                          source="scan.pdf", source_index=2 * n + number, payload="",
                          image=page or _page())
            ids.append(issued.instance_id)
        return ids
    finally:
        work.close()


def test_each_scanned_form_is_read_and_encoded_when_its_document_is_written(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _scanned(data_dir, 3)
    read: list[str] = []
    original = ScanStore.form_images

    def counted(self: ScanStore, form_id: str) -> Any:
        read.append(form_id)
        return original(self, form_id)

    monkeypatch.setattr(ScanStore, "form_images", counted)
    work = WorkStore.open(data_dir, KEY)
    try:
        units = scanned_documents(work, lambda _ids: {}, Settings(), load_catalogue(),
                                  SiteSystems.for_site("DEMO"))
        assert read == []  # nothing read until the export asks for it
        first = next(iter(units))
        assert len(read) == 1 and first.key == f"{read[0]}/scan"
        rest = list(units)
        assert len(read) == 3 and len(rest) == 2
    finally:
        work.close()


def test_export_memory_does_not_grow_with_the_scanned_forms(tmp_path: Path) -> None:
    """Peak traced memory of a FHIR export into a folder with 3 and with 12 scanned forms
    (before: every image, PDF and base64 text held at once, 4x as much)."""
    page = _page()

    def peak(count: int) -> int:
        folder = tmp_path / str(count)
        _scanned(folder, count, page)
        tracemalloc.start()
        summary = run_export(folder, Settings(), KEY, "test", "fhir", folder / "out")
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert summary.counts == {"DocumentReference": count}, summary.lines()
        return top

    small, large = peak(3), peak(12)
    assert large < small * 1.5, (small, large)
    bundle = json.loads((tmp_path / "12" / "out" / "bundle.json").read_text())
    assert len({e["resource"]["content"][0]["attachment"]["hash"]
                for e in bundle["entry"]}) == 1  # the same two pages, the same PDF


class Epr:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        self.sizes.append(len(body))
        entries = orjson.loads(body)["entry"]
        return HttpAnswer(200, orjson.dumps({"resourceType": "Bundle", "type":
                                             "transaction-response", "entry": [
            {"response": {"status": "201 Created"}} for _ in entries]}))


def test_a_send_cuts_bundles_of_scanned_forms_by_size(data_dir: Path) -> None:
    _scanned(data_dir, 6)
    epr = Epr()
    cap = 4 * len(_page())  # room for one document (two pages in base64: 2.7x), not two
    summary = run_send(data_dir, Settings(), KEY, "test", TARGET, auth=NoAuth(), transport=epr,
                       options=SendOptions(max_bundle_bytes=cap, sleep=lambda _s: None))
    assert summary.result is not None and summary.result.accepted == 6
    assert len(epr.sizes) == 6 and max(epr.sizes) < cap + 10_000
    dry = run_send(data_dir, Settings(), KEY, "test", TARGET, dry_run=True, all_entries=True)
    assert (dry.would_send, dry.known) == (0, 6)  # accepted before: nothing would go


def test_a_unit_bigger_than_the_byte_limit_goes_alone_and_small_ones_share() -> None:
    def unit(first: int, size: int) -> list[QueuedEntry]:
        return [QueuedEntry(first, TARGET, f"u{first}", f"F/{first}", "F", "f",
                            "DocumentReference", {}, "pending", size=size)]

    units = [unit(1, 400), unit(2, 2_000), unit(3, 300), unit(4, 300), unit(5, 300)]
    chunks = list(pack(iter(units), 100, 1_000))
    assert [[u[0].seq for u in c] for c in chunks] == [[1], [2], [3, 4, 5]]
    assert [[u[0].seq for u in c] for c in pack(iter(units), 100)] == [[1, 2, 3, 4, 5]]
