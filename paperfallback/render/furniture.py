"""Page furniture printed on every page: form title and version, "Page x of y", the
banner (patient with the allergy status, ward, clinic, theatre, downtime number, or boxes
to handwrite), "Data as of", the STALE DATA warning, the form-instance ID as text and QR
code, and the legend.

Identifiers sit at fixed positions: a long name shrinks, then wraps, then is cut with an
ellipsis inside its own box, so it can never push the NHS number or the hospital number
off the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from paperfallback.cache.staleness import Freshness, format_uk, uk_time
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import AllergyStatus, PatientRecord, Ward
from paperfallback.register.layout_codec import Box
from paperfallback.render.draw import (
    ALERT_RED,
    MM,
    Canvas,
    draw_text,
    fit_size,
    label,
    text_in_box,
    wrap,
)
from paperfallback.render.fonts import BOLD, REGULAR, string_width
from paperfallback.render.prefill import (
    ALLERGIES_NOT_RECORDED,
    NHS_NOT_RECORDED,
    NO_KNOWN_ALLERGIES,
    deceased_text,
    dob_with_age,
    printed_name,
)
from paperfallback.render.qr import draw_qr, qr_payload
from paperfallback.render.registration import QR_BLOCK_W, QR_SIZE, draw_marks, qr_origin

TITLE_H = 7 * MM
BANNER_H = 21 * MM
DATA_H = 5.5 * MM
STALE_H = 6.5 * MM
FOOTER_H = 4.5 * MM
LEGEND_SIZE = 6.0
LEGEND_LEADING = LEGEND_SIZE * 1.2


@dataclass(frozen=True, slots=True)
class Banner:
    """What the banner says. ``kind``: patient, blank-patient, ward, list, downtime."""

    kind: str
    record: PatientRecord | None = None
    ward: Ward | None = None
    heading: str = ""  # ward / list banners: "Clinic: Fracture clinic"
    detail: str = ""  # second line
    downtime_number: str = ""


@dataclass(frozen=True, slots=True)
class PageInfo:
    title: str
    version: str
    instance_id: str
    page: int
    pages: int
    banner: Banner
    data_as_of: datetime | None
    stale_text: str  # "" when fresh or not from the cache
    printed_at: datetime
    printed_on: str  # PC id and site
    legend: tuple[str, ...]
    today: date
    data_as_of_known: bool = True  # False: data_as_of is only the import time


def header_height(stale: bool) -> float:
    return TITLE_H + BANNER_H + DATA_H + (STALE_H if stale else 0.0)


@lru_cache(maxsize=256)
def legend_lines(legend: tuple[str, ...], width: float) -> tuple[str, ...]:
    return tuple(line for text in legend for line in wrap(text, REGULAR, LEGEND_SIZE, width))


def footer_height(legend: tuple[str, ...], width: float) -> float:
    lines = len(legend_lines(legend, width))
    return FOOTER_H + lines * LEGEND_LEADING + (1.5 * MM if legend else 0)


def draw_furniture(c: Canvas, info: PageInfo, page_w: float, page_h: float,
                   margin: float) -> None:
    x = margin
    width = page_w - 2 * margin
    top = page_h - margin
    left_w = width - QR_BLOCK_W
    # title row
    size = fit_size(info.title, BOLD, left_w - 40 * MM, 11.5, 7)
    c.setFont(BOLD, size)
    draw_text(c, "left", x, top - 4.6 * MM, info.title)
    c.setFont(REGULAR, 6.5)
    draw_text(c, "left", x + string_width(info.title, BOLD, size) + 2 * MM, top - 4.6 * MM,
                 f"version {info.version}")
    c.setFont(BOLD, 9.5)
    draw_text(c, "right", x + left_w - 2 * MM, top - 4.6 * MM, f"Page {info.page} of {info.pages}")
    # QR block: the code, then the ID as text under it (quiet zone kept clear)
    qr_x, qr_y = qr_origin(page_w, page_h, margin)
    draw_marks(c, page_w, page_h, margin)
    draw_qr(c, qr_payload(info.instance_id, info.page), qr_x, qr_y, QR_SIZE)
    c.setFont(BOLD, fit_size(info.instance_id, BOLD, QR_BLOCK_W - 2 * MM, 9, 6))
    # the ID's cap height stays below the 4-module quiet zone (about 3.8 mm)
    draw_text(c, "center", qr_x + QR_SIZE / 2, qr_y - 6.4 * MM, info.instance_id)
    c.setFont(REGULAR, 5.2)
    draw_text(c, "center", qr_x + QR_SIZE / 2, qr_y - 8.8 * MM, "Form ID: key or scan")
    # banner
    banner_top = top - TITLE_H
    c.setLineWidth(1.1)
    c.rect(x, banner_top - BANNER_H, left_w - 2 * MM, BANNER_H)
    _draw_banner(c, info, x, banner_top, left_w - 2 * MM)
    # data strip
    y = banner_top - BANNER_H
    c.setFont(BOLD, 8.5)
    if info.data_as_of is not None and not info.data_as_of_known:
        as_of = f"Data as of: NOT KNOWN (imported {format_uk(info.data_as_of)})"
    elif info.data_as_of is not None:
        as_of = f"Data as of {format_uk(info.data_as_of)}"
    else:
        as_of = "Data as of: blank form (nothing printed from the cache)"
    draw_text(c, "left", x, y - 4 * MM, as_of)
    c.setFont(REGULAR, 6.5)
    draw_text(c, "right", x + left_w - 2 * MM, y - 4 * MM,
                      f"Printed {format_uk(info.printed_at)} on {info.printed_on}")
    if info.stale_text:
        sy = y - DATA_H - STALE_H + 0.8 * MM
        c.setFillColorRGB(*ALERT_RED)
        c.rect(x, sy, width, STALE_H - 0.8 * MM, stroke=0, fill=1)
        c.setFillGray(1)
        c.setFont(BOLD, fit_size(info.stale_text, BOLD, width - 4 * MM, 9, 6))
        draw_text(c, "left", x + 2 * MM, sy + 1.8 * MM, info.stale_text)
        c.setFillGray(0)
    # footer: legend, then the identity line
    bottom = margin
    c.setFont(REGULAR, 6.3)
    draw_text(c, "left", x, bottom + 1 * MM, f"Form ID {info.instance_id}   ·   {info.title} "
                                     f"v{info.version}")
    ident = _footer_identity(info.banner)
    if ident:
        c.setFont(BOLD, fit_size(ident, BOLD, width * 0.55, 7, 5))
        draw_text(c, "right", x + width, bottom + 1 * MM, ident)
    if info.legend:
        c.setFont(REGULAR, LEGEND_SIZE)
        lines = legend_lines(info.legend, width)
        ly = bottom + FOOTER_H + (len(lines) - 1) * LEGEND_LEADING + 0.5 * MM
        c.setFillGray(0.2)
        for line in lines:
            draw_text(c, "left", x, ly, line)
            ly -= LEGEND_LEADING
        c.setFillGray(0)


def _footer_identity(banner: Banner) -> str:
    if banner.kind == "patient" and banner.record:
        p = banner.record.patient
        nhs = format_nhs_number(p.nhs_number)
        ident = f"NHS {nhs}" if nhs else f"Hosp no {p.hospital_number or 'not recorded'}"
        died = deceased_text(p)
        return f"{printed_name(p)}   {ident}" + (f"   {died}" if died else "")
    if banner.kind == "downtime":
        return f"Downtime number {banner.downtime_number}"
    return banner.heading


def _draw_banner(c: Canvas, info: PageInfo, x: float, top: float, width: float) -> None:
    banner = info.banner
    if banner.kind == "patient" and banner.record is not None:
        _patient_banner(c, banner.record, info.today, x, top, width)
    elif banner.kind == "downtime":
        _downtime_banner(c, banner, x, top, width)
    elif banner.kind == "blank-patient":
        _blank_patient_banner(c, x, top, width)
    else:
        c.setFont(BOLD, fit_size(banner.heading, BOLD, width - 4 * MM, 15, 8))
        draw_text(c, "left", x + 2 * MM, top - 8 * MM, banner.heading)
        text_in_box(c, banner.detail, x + 1 * MM, top - 10.5 * MM, width - 2 * MM, 10 * MM,
                    size=8.5, min_size=6)


def _patient_banner(c: Canvas, record: PatientRecord, today: date, x: float, top: float,
                    width: float) -> None:
    p = record.patient
    name_w = width * 0.52
    # name: shrink to 9 pt, then wrap to two lines, then cut, inside its own box
    name = printed_name(p)
    pad = 2 * MM
    size = fit_size(name, BOLD, name_w - 2 * pad, 15, 9)
    lines = wrap(name, BOLD, size, name_w - 2 * pad)
    if len(lines) > 1:
        text_in_box(c, name, x + pad - 1.2, top - 0.6 * MM, name_w - 2 * pad + 2.4,
                    12 * MM, size=10, min_size=7, bold=True, pad=1.2)
    else:
        c.setFont(BOLD, size)
        draw_text(c, "left", x + pad, top - 7 * MM, name)
    c.setFont(REGULAR, 8.5)
    dob = dob_with_age(p, today)
    sex = p.sex.value.title() if p.sex.value != "unknown" else "not recorded"
    born = f"DOB {dob}   ·   Sex {sex}"
    c.setFont(REGULAR, fit_size(born, REGULAR, name_w - 2 * pad, 8.5, 6))
    draw_text(c, "left", x + pad, top - 14.6 * MM, born)
    _allergy_line(c, record, x + pad, top - 19.2 * MM, name_w - 2 * pad)
    # identifiers: fixed column on the right of the banner
    ix = x + name_w + 1 * MM
    iw = width - name_w - 2 * MM
    c.setLineWidth(0.4)
    c.line(ix - 1 * MM, top, ix - 1 * MM, top - BANNER_H)
    nhs = format_nhs_number(p.nhs_number)
    hosp = p.hospital_number or "not recorded"
    if nhs:
        label(c, "NHS number", ix, top, iw)
        c.setFont(BOLD, 13)
        draw_text(c, "left", ix + 1.2, top - 7.4 * MM, nhs)
        c.setFont(REGULAR, 8.5)
        draw_text(c, "left", ix + 1.2, top - 12 * MM, f"Hosp no {hosp}")
    else:
        c.setFillColorRGB(*ALERT_RED)
        c.setFont(BOLD, 7.5)
        draw_text(c, "left", ix + 1.2, top - 3.2 * MM,
                  NHS_NOT_RECORDED + ": use the hospital number")
        c.setFillGray(0)
        c.setFont(BOLD, fit_size(f"Hosp no {hosp}", BOLD, iw - 2, 13, 7))
        draw_text(c, "left", ix + 1.2, top - 8.4 * MM, f"Hosp no {hosp}")
    died = deceased_text(p)
    if died:  # in place of the ward: a deceased patient is on no ward (issue 13, item 4)
        c.setFillColorRGB(*ALERT_RED)
        c.setFont(BOLD, fit_size(died, BOLD, iw - 2, 11, 6))
        draw_text(c, "left", ix + 1.2, top - 17.4 * MM, died)
        c.setFillGray(0)
        return
    stay = record.stay
    ward = record.ward.name if record.ward else (stay.ward_code if stay else "")
    where = ward if ward.casefold().startswith("ward") else f"Ward {ward}"
    where = where if ward else "Ward not recorded"
    if stay and stay.bed:
        bed = stay.bed if not stay.bed[:1].isdigit() else f"Bed {stay.bed}"
        where += f"  ·  {bed}"
    c.setFont(BOLD, fit_size(where, BOLD, iw - 2, 8.5, 5.5))
    draw_text(c, "left", ix + 1.2, top - 16.2 * MM, where)
    consultant = stay.consultant if stay and stay.consultant else ""
    if consultant:
        c.setFont(REGULAR, fit_size(consultant, REGULAR, iw - 2, 7, 5))
        draw_text(c, "left", ix + 1.2, top - 19.6 * MM, consultant)


def allergy_line(record: PatientRecord, width: float) -> tuple[str, float]:
    """The banner's allergy status (on every page, so a continuation page of a MAR never
    lacks it) and its font size: the substances, "No known allergies", or "Allergies not
    recorded — check with patient" (the wording of the page-1 allergy box). Substances that
    do not fit are counted, never silently dropped."""
    status = record.allergy_status
    if status is AllergyStatus.NONE_KNOWN:
        return NO_KNOWN_ALLERGIES, fit_size(NO_KNOWN_ALLERGIES, BOLD, width, 8, 5.5)
    if status is not AllergyStatus.RECORDED:
        return ALLERGIES_NOT_RECORDED, fit_size(ALLERGIES_NOT_RECORDED, BOLD, width, 8, 5.5)
    names = [a.substance for a in record.true_allergies]
    for shown in range(len(names), 0, -1):
        rest = len(names) - shown
        text = "Allergies: " + "; ".join(names[:shown]) + (
            f" +{rest} more: see the allergy record" if rest else "")
        size = fit_size(text, BOLD, width, 8, 5.5)
        if string_width(text, BOLD, size) <= width:
            return text, size
    return text, size


def _allergy_line(c: Canvas, record: PatientRecord, x: float, y: float, width: float) -> None:
    text, size = allergy_line(record, width)
    alert = record.allergy_status is not AllergyStatus.NONE_KNOWN
    if alert:
        c.setFillColorRGB(*ALERT_RED)
    c.setFont(BOLD, size)
    draw_text(c, "left", x, y, text)
    c.setFillGray(0)


# The boxes of a blank copy's banner: (label, share of the row, the field keying gives it
# in its patient identification section, its type). Ward and bed too: a form written on a
# busy ward goes back with its bed's notes (read, not keyed).
_BLANK_CELLS = (("FAMILY name", 0.36, "family", "text"), ("Given name", 0.32, "given", "text"),
                ("Ward", 0.18, "", ""), ("Bed", 0.14, "", ""),
                ("NHS number", 0.34, "nhs_number", "text"),
                ("Date of birth", 0.33, "birth_date", "date"),
                ("Hospital number", 0.33, "hospital_number", "text"))


def _blank_cells(x: float, top: float, width: float) -> list[tuple[str, str, str, Box]]:
    """(label, field id, type, box) of each banner box of a blank copy (box: left, top
    edge, width, height)."""
    boxes_w = width - min(62 * MM, width * 0.36)
    row_h = BANNER_H / 2
    out = []
    cx, y = x, top
    for i, (text, share, field_id, kind) in enumerate(_BLANK_CELLS):
        if i == 4:
            cx, y = x, top - row_h
        w = boxes_w * share
        out.append((text, field_id, kind, (cx, y, w, row_h)))
        cx += w
    return out


def blank_patient_boxes(page_w: float, page_h: float,
                        margin: float) -> list[tuple[str, str, Box]]:
    """(field id, type, box) of the banner boxes a nurse fills in on a blank copy of a
    patient form, keyed as its patient identification: for scan-back."""
    width = page_w - 2 * margin - QR_BLOCK_W - 2 * MM
    top = page_h - margin - TITLE_H
    return [(f, k, box) for _t, f, k, box in _blank_cells(margin, top, width) if f]


def _blank_patient_banner(c: Canvas, x: float, top: float, width: float) -> None:
    label_w = min(62 * MM, width * 0.36)
    c.setLineWidth(0.4)
    for text, _field, _kind, (cx, y, w, row_h) in _blank_cells(x, top, width):
        c.rect(cx, y - row_h, w, row_h)
        label(c, text, cx, y, w, size=6)
    _label_area(c, x + (width - label_w), top, label_w)


def _downtime_banner(c: Canvas, banner: Banner, x: float, top: float, width: float) -> None:
    label_w = min(62 * MM, width * 0.4)
    label(c, "Temporary DOWNTIME NUMBER (use on every note, request and sample)", x, top,
          width - label_w, size=6.5)
    c.setFont(BOLD, 20)
    draw_text(c, "left", x + 2 * MM, top - 11 * MM, banner.downtime_number)
    c.setFont(REGULAR, 7)
    draw_text(c, "left", x + 2 * MM, top - 17 * MM,
              "Write it on the wristband until EPR registration.")
    _label_area(c, x + width - label_w, top, label_w)


def _label_area(c: Canvas, x: float, top: float, width: float) -> None:
    """The dashed box for a printed patient label (blank and downtime forms)."""
    c.setDash(2, 2)
    c.rect(x + 1.5 * MM, top - BANNER_H + 1.5 * MM, width - 3 * MM, BANNER_H - 3 * MM)
    c.setDash()
    c.setFont(REGULAR, 7)
    c.setFillGray(0.45)
    draw_text(c, "center", x + width / 2, top - BANNER_H / 2 - 1, "Affix patient label here")
    c.setFillGray(0)


def stale_text(freshness: Freshness, stale_minutes: int) -> str:
    if not freshness.known:  # the extract carried no time: its age cannot be known
        return ("STALE DATA: the data's time is not known (the EPR extract gave none). Check "
                "every printed value with the patient and the latest records.")
    if freshness.is_future:  # a wrong PC clock: the age cannot be known
        return ("STALE DATA: the cache's data-as-of time is in the future, so its age is "
                "unknown (check the PC clock). Check every printed value with the patient "
                "and the latest records.")
    return (f"STALE DATA: the cache is {freshness.age_text} old (limit {stale_minutes} "
            "minutes). Check every printed value with the patient and the latest records.")


def local_day(moment: datetime) -> date:
    return uk_time(moment).date()
