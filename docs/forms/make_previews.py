#!/usr/bin/env python3
"""Regenerate the PNG previews in docs/forms/ from the demo hospital.

    .venv/bin/python docs/forms/make_previews.py

Each form's first page, blank and pre-filled, as a small palette PNG; and the JSON
Schema of a form definition (form.schema.json).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> int:
    os.environ["PAPERFALLBACK_KEY"] = secrets.token_hex(32)
    import pymupdf
    from PIL import Image

    from paperfallback.cache.store import CacheStore
    from paperfallback.formspec import load_catalogue
    from paperfallback.register import MemoryAllocator
    from paperfallback.render import PackRequest, render_pack
    from paperfallback.settings import Settings

    def save(pdf: bytes, name: str) -> None:
        page = pymupdf.open(stream=pdf, filetype="pdf")[0]
        pix = page.get_pixmap(dpi=60)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        image.quantize(colors=64).save(HERE / f"{name}.png", optimize=True)
        print(f"docs/forms/{name}.png")

    from paperfallback.formspec.models import json_schema

    schema = json.dumps(json_schema(), indent=1, ensure_ascii=False) + "\n"
    (HERE / "form.schema.json").write_text(schema, encoding="utf-8")
    print("docs/forms/form.schema.json")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        subprocess.run([sys.executable, "-m", "paperfallback", "--data-dir", str(data), "demo",
                        "--seed", "7"], check=True, cwd=ROOT, capture_output=True)
        catalogue = load_catalogue()
        settings = Settings(pc_code="K7", pc_id="WARD-PC-1")
        with CacheStore.open(data, os.environ["PAPERFALLBACK_KEY"]) as store:
            ward = store.wards()[0]
            records = store.ward_records(ward.code)
            patient = next(r for r in records if r.true_allergies and r.observations)
            ident = patient.patient.nhs_number or patient.patient.hospital_number or ""
            clinic = store.clinics()[0]
            theatre = store.theatres()[0]
            requests = {
                "handover": PackRequest(ward=ward.code, forms=("handover",), cover_sheet=False),
                "clinic-list": PackRequest(clinic=clinic, day=store.appointment_days(clinic)[0]),
                "theatre-list": PackRequest(theatre=theatre,
                                            day=store.theatre_days(theatre)[0]),
            }
            for form in catalogue:
                out = io.BytesIO()
                render_pack(PackRequest(blank_form=form.id), None, catalogue, settings,
                            out=out, allocate_ids=MemoryAllocator("K7"))
                save(out.getvalue(), f"{form.id}-blank")
                if form.scope == "blank":
                    continue
                request = requests.get(form.id) or PackRequest(patient_ids=(ident,),
                                                               forms=(form.id,))
                out = io.BytesIO()
                render_pack(request, store, catalogue, settings, out=out,
                            allocate_ids=MemoryAllocator("K7"))
                save(out.getvalue(), f"{form.id}-prefilled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
