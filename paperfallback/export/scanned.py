"""Which scanned forms go to the EPR as images, for the FHIR export and ``export --to``.

``settings.export_scans``: ``"unkeyed"`` (default) files the pages of forms nobody has
started keying, so a form that will never be keyed is still in the record; ``"all"``
files every returned form's pages beside its keyed values; ``"none"`` files no images.
A form being keyed (draft) is held back under ``"unkeyed"``: its values are on their way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.fhir_documents import document_units
from paperfallback.export.fhir_units import BuiltUnit
from paperfallback.export.model import ExportedForm, PatientRef
from paperfallback.formspec import FormCatalogue
from paperfallback.reentry.model import InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import Register, pc_code_for
from paperfallback.scan.store import ScanStore
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM, Settings
from paperfallback.workstore import WorkStore

POLICIES = ("unkeyed", "all", "none")


def scanned_documents(
    conn: WorkStore,
    forms: Sequence[ExportedForm] | Callable[[list[str]], dict[str, PatientRef]],
    settings: Settings, catalogue: FormCatalogue, systems: SiteSystems,
) -> list[BuiltUnit]:
    """The DocumentReference units of the returned forms the policy sends. ``forms``: the
    keyed forms, or a function giving the patients of the keyed forms among some IDs
    (the file export reads only those, not every form)."""
    policy = settings.export_scans.strip().lower()
    if policy not in POLICIES:
        raise InputError(f"settings export_scans {settings.export_scans!r}: use one of "
                         f"{', '.join(POLICIES)}")
    if policy == "none":
        return []
    scans = ScanStore(conn)
    returned = scans.returned_pages()
    if not returned:
        return []
    started = {i.instance_id for i in EntriesStore(conn).instances()
               if i.status is not InstanceStatus.PRINTED}
    register = Register(conn, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
    chosen = []
    for form_id in sorted(returned):
        if policy == "unkeyed" and form_id in started:
            continue
        issued = register.get(form_id)
        images, scanned_at = scans.form_images(form_id)
        if issued is None or not images or scanned_at is None:
            continue  # another PC's page, or images removed under the retention rule
        chosen.append((issued, images, scanned_at))
    titles = {spec.id: spec.title for spec in catalogue}
    patients = (forms([issued.instance_id for issued, _, _ in chosen]) if callable(forms)
                else {f.instance_id: f.patient for f in forms if f.patient})
    return document_units(
        chosen, patients, titles, systems,
        hospital_number_system=(settings.hospital_number_systems or [""])[0]
        or LOCAL_PATIENT_ID_SYSTEM)
