"""Returned paper filed to the EPR as images: one DocumentReference per scanned form.

Many trusts end up imaging downtime paper into the record because keying all of it is
impossible; a form that is never keyed is then still in the record, as its pages. Each
form instance's returned pages become one PDF (the scanned JPEGs placed unchanged, one
per A4 page) in a DocumentReference with the patient as subject, the form ID as an
identifier, and a conditional create on it (``ifNoneExist``), so sending twice files it
once. A later scan of a missing page makes a new version of the document: the identifier
carries the pages it holds. The type code is recorded in docs/export.md.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
from collections.abc import Sequence
from datetime import datetime

from paperfallback.domain.terminology import SCANNED_FORM_TYPE
from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    coding,
    identified,
    patient_reference,
)
from paperfallback.export.fhir_units import BuiltUnit
from paperfallback.export.model import PatientRef
from paperfallback.register.store import IssuedForm


def pages_pdf(images: Sequence[bytes]) -> bytes:
    """One A4 page per scanned image, the JPEG embedded as it is (no re-encoding).

    ReportLab's canvas is held together by reference cycles that keep each page's decoded
    pixels (it digests them to name the image). An export pauses the cyclic collector
    (``pipeline.gc_paused``), so every scanned form's would stay in memory until the export
    ended (issue 15): they are collected here, and only they: ``gc.freeze`` sets every
    older object aside first, so this costs the same in a large export as in a small one.
    """
    gc.freeze()
    try:
        pdf = _draw_pages(images)
        gc.collect()
    finally:
        gc.unfreeze()
    return pdf


def _draw_pages(images: Sequence[bytes]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, invariant=1)
    c.setTitle("Scanned downtime form")
    for data in images:
        reader = ImageReader(io.BytesIO(data))
        width, height = reader.getSize()
        scale = min(A4[0] / width, A4[1] / height)
        w, h = width * scale, height * scale
        c.drawImage(reader, (A4[0] - w) / 2, (A4[1] - h) / 2, w, h)
        c.showPage()
    c.save()
    return out.getvalue()


def document_reference(issued: IssuedForm, title: str, subject: dict[str, object],
                       pages: Sequence[int], pdf: bytes, scanned_at: datetime,
                       systems: SiteSystems) -> BuiltEntry:
    """The DocumentReference entry of one form instance's returned pages; ``subject`` is
    the patient reference built by ``fhir_common.patient_reference`` (the one rule)."""
    missing = [p for p in range(1, issued.page_count + 1) if p not in pages]
    held = ",".join(map(str, pages))
    description = (f"{title}: scanned paper form {issued.instance_id}, pages {held} of "
                   f"{issued.page_count}" + (f" (not returned: {', '.join(map(str, missing))})"
                                             if missing else ""))
    resource: dict[str, object] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": systems.form_instance, "value": issued.instance_id}],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [coding(SCANNED_FORM_TYPE)], "text": f"Scanned paper: {title}"},
        "subject": subject,
        "date": scanned_at.isoformat(timespec="seconds"),
        "description": description,
        "content": [{"attachment": {
            "contentType": "application/pdf",
            "data": base64.b64encode(pdf).decode("ascii"),
            "size": len(pdf),
            "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
            "title": f"{issued.instance_id} {title}",
            "creation": issued.printed_at.isoformat(timespec="seconds"),
        }}],
        "context": {"period": {"start": issued.printed_at.isoformat(timespec="seconds")}},
    }
    return identified(resource, systems, f"{issued.instance_id}/scan/{held}")


def document_units(forms_scanned: Sequence[tuple[IssuedForm, dict[int, bytes], datetime]],
                   patients: dict[str, PatientRef], titles: dict[str, str],
                   systems: SiteSystems, *, hospital_number_system: str) -> list[BuiltUnit]:
    """One export unit per scanned form: ``<form ID>/scan``, fingerprinted by the pages it
    holds, so the incremental export sends it once and again only when a page is added.
    ``patients``: the patient each keyed form was identified as (a blank copy's keyed
    patient section); other forms use the patient printed on them."""
    units: list[BuiltUnit] = []
    for issued, images, scanned_at in forms_scanned:
        key = f"{issued.instance_id}/scan"
        pages = sorted(images)
        fingerprint = hashlib.sha256(
            b"".join(hashlib.sha256(images[p]).digest() for p in pages)).hexdigest()
        patient = patients.get(issued.instance_id) or _printed_patient(
            issued, hospital_number_system)
        unit = BuiltUnit(key, issued.instance_id, fingerprint)
        if patient is None:
            unit.problems.append(
                f"{issued.instance_id}: scanned pages not filed to the EPR: the form names no "
                "patient; key its patient section first")
        else:
            title = titles.get(issued.form_id, issued.form_id)
            unit.entries.append(document_reference(
                issued, title, patient_reference(patient, systems), pages,
                pages_pdf([images[p] for p in pages]), scanned_at, systems))
        units.append(unit)
    return units


def _printed_patient(issued: IssuedForm, hospital_number_system: str) -> PatientRef | None:
    if not (issued.nhs_number or issued.hospital_number or issued.downtime_number):
        return None
    return PatientRef(nhs_number=issued.nhs_number, hospital_number=issued.hospital_number,
                      hospital_number_system=hospital_number_system,
                      downtime_number=issued.downtime_number)
