"""Which scanned forms go to the EPR as images, for the FHIR export and ``export --to``.

``settings.export_scans``: ``"unkeyed"`` (default) files the pages of forms nobody has
started keying, so a form that will never be keyed is still in the record; ``"all"``
files every returned form's pages beside its keyed values; ``"none"`` files no images.
A form being keyed (draft) is held back under ``"unkeyed"``: its values are on their way.

The images are read, put in a PDF and encoded one form at a time, as the export writes
each DocumentReference (issue 15): memory holds one scanned form, not all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

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
) -> Iterator[BuiltUnit]:
    """The DocumentReference units of the returned forms the policy sends, built one at a
    time as they are iterated (``conn`` must stay open until then). ``forms``: the keyed
    forms, or a function giving the patients of the keyed forms among some IDs (the file
    export reads only those, not every form). A wrong policy is raised here, at once."""
    policy = settings.export_scans.strip().lower()
    if policy not in POLICIES:
        raise InputError(f"settings export_scans {settings.export_scans!r}: use one of "
                         f"{', '.join(POLICIES)}")
    if policy == "none":
        return iter(())
    scans = ScanStore(conn)
    returned = scans.returned_pages()
    if not returned:
        return iter(())
    started = {i.instance_id for i in EntriesStore(conn).instances()
               if i.status is not InstanceStatus.PRINTED}
    register = Register(conn, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
    chosen: list[tuple[str, datetime]] = []
    for form_id in sorted(returned):
        if policy == "unkeyed" and form_id in started:
            continue
        scanned_at = scans.scanned_at(form_id)
        if scanned_at is None or register.get(form_id) is None:
            continue  # another PC's page, or images removed under the retention rule
        chosen.append((form_id, scanned_at))
    titles = {spec.id: spec.title for spec in catalogue}
    hospital_number_system = ((settings.hospital_number_systems or [""])[0]
                              or LOCAL_PATIENT_ID_SYSTEM)

    def units() -> Iterator[BuiltUnit]:
        patients = (forms([form_id for form_id, _ in chosen]) if callable(forms)
                    else {f.instance_id: f.patient for f in forms if f.patient})
        for form_id, scanned_at in chosen:  # one form's images at a time
            issued = register.get(form_id)
            images, _ = scans.form_images(form_id)
            if issued is None or not images:
                continue  # removed since it was chosen (the retention rule ran meanwhile)
            yield from document_units([(issued, images, scanned_at)], patients, titles,
                                      systems, hospital_number_system=hospital_number_system)

    return units()
