"""Scanned paper filed as a DocumentReference (issue #16 item 5), validated as FHIR R4B."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime

from fhir.resources.R4B.documentreference import DocumentReference
from PIL import Image
from pypdf import PdfReader

from paperfallback.domain.terminology import SCANNED_FORM_TYPE, sctid_is_valid
from paperfallback.export.fhir_common import SiteSystems, patient_reference
from paperfallback.export.fhir_documents import document_reference, pages_pdf
from paperfallback.export.model import PatientRef
from paperfallback.register.store import IssuedForm

PRINTED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (827, 1170), shade).save(out, format="JPEG", quality=80)
    return out.getvalue()


def _issued() -> IssuedForm:
    return IssuedForm(instance_id="Q76-00003-M", form_id="news2", form_version="1.0",
                      scope="patient", page_count=3, printed_at=PRINTED, pc_id="W3-PC1",
                      patient_id="p1", nhs_number="9991000976", patient_name="LLŶR, Gwen")


def test_returned_pages_become_one_pdf_in_a_valid_document_reference() -> None:
    images = [_jpeg(230), _jpeg(200)]
    pdf = pages_pdf(images)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    systems = SiteSystems.for_site("RW3")
    subject = patient_reference(PatientRef(nhs_number="9991000976"), systems)
    entry = document_reference(_issued(), "NEWS2 observation chart", subject, [1, 3], pdf,
                               datetime(2026, 12, 1, 10, 0, tzinfo=UTC), systems)
    DocumentReference.model_validate(entry.resource)  # FHIR R4B
    resource = entry.resource
    assert resource["subject"]["identifier"]["value"] == "9991000976"
    assert {"system": systems.form_instance, "value": "Q76-00003-M"} in resource["identifier"]
    assert resource["type"]["coding"][0]["code"] == SCANNED_FORM_TYPE.code
    assert sctid_is_valid(SCANNED_FORM_TYPE.code)
    assert "not returned: 2" in resource["description"]
    attachment = resource["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == pdf
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    # a conditional create on the form ID and the pages held: sending twice files it once,
    # a later scan of the missing page makes a new version
    assert entry.method == "POST" and entry.if_none_exist
    assert entry.key == "Q76-00003-M/scan/1,3"
    assert entry.if_none_exist.endswith("Q76-00003-M/scan/1%2C3")
