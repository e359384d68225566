"""Returned paper filed to the EPR as images (issue #16 item 5): scanned pages of a form
nobody keyed go out as a DocumentReference, in the FHIR export file and through
``export --to`` to the real FHIR engine, which validates and keeps it; sending twice files
it once."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pymupdf
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_engine_server import FhirEngine, Smart
from PIL import Image
from pypdf import PdfReader

from paperfallback.cli.main import main
from paperfallback.settings import Settings


def _scan(pdf: Path, out: Path) -> Path:
    pages = []
    for page in pymupdf.open(pdf):
        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        pages.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out


@pytest.fixture
def scanned(sample_data_dir: Path, tmp_path: Path, smart: Smart,
            fhir_engine: FhirEngine) -> int:
    Settings(export_client_id="paperfallback-send", export_private_key=str(
        smart.writer.pem_path), export_key_id=smart.writer.kid).save(sample_data_dir)
    pack = tmp_path / "news2.pdf"
    assert main(["--data-dir", str(sample_data_dir), "print", "--patient", "999 100 0976",
                 "--forms", "news2", "--out", str(pack)]) == 0
    assert main(["--data-dir", str(sample_data_dir), "scans", "import",
                 str(_scan(pack, tmp_path / "scan.pdf"))]) == 0
    return len(pymupdf.open(pack))


def test_an_unkeyed_scanned_form_is_filed_once_as_a_valid_document_reference(
    scanned: int, sample_data_dir: Path, tmp_path: Path, fhir_engine: FhirEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["--data-dir", str(sample_data_dir), "export", "--format", "fhir", "--out",
                 str(out)]) == 0
    bundle_file = out / "bundle.json"
    bundle = json.loads(bundle_file.read_text())
    Bundle.model_validate(bundle)
    documents = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "DocumentReference"]
    assert len(documents) == 1
    document = documents[0]
    assert document["subject"]["identifier"]["value"] == "9991000976"
    pdf = base64.b64decode(document["content"][0]["attachment"]["data"])
    assert len(PdfReader(io.BytesIO(pdf)).pages) == scanned

    base = fhir_engine.base_url
    assert main(["--data-dir", str(sample_data_dir), "export", "--to", base]) == 0
    said = capsys.readouterr().out
    assert "rejected 0" in said, said
    kept = [r for r in fhir_engine.resources() if r["resourceType"] == "DocumentReference"]
    assert len(kept) == 1 and kept[0]["subject"]["identifier"]["value"] == "9991000976"
    creates = fhir_engine.stats()["creates"]
    assert main(["--data-dir", str(sample_data_dir), "export", "--to", base, "--all"]) == 0
    assert fhir_engine.stats()["creates"] == creates  # the conditional create matched
    # the governance report says the EPR accepted it
    capsys.readouterr()
    assert main(["--data-dir", str(sample_data_dir), "report", "recovery", "--out",
                 str(tmp_path / "recovery.pdf"), "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["forms_accepted_by_the_epr"] == 1
    assert totals["forms_with_resources_the_epr_rejected"] == 0
