"""Form IDs for blank forms that survive a lost key and an unusable work store.

Blank forms must print when nothing else works (issue #12): a wrong or lost key, a damaged
or locked ``work.db``, a full disk, a read-only data folder. Their IDs must still be unique,
so they come from a *reservation*: whenever the work store is usable, the register sets
aside the next block of this PC's form IDs and downtime numbers and writes the block to
``blank-ids.json`` beside it. That file is not encrypted and needs no key; it holds IDs,
form ids, times and page counts of blank forms only — never a patient.

When the work store cannot be used, blank forms take their IDs from the block, and the
forms printed are listed in the file as *pending*; the next time the work store opens
(any command, the app) they are recorded in the register and the block is topped up.

The file is allocated at a fixed size when written and updated in place, so taking IDs
needs no new disk blocks (a full disk still prints). When the data folder cannot be
written at all, a copy in this user's temp folder carries the block on. A PC that never
had a usable work store (a wrong key from the first day) draws an *unregistered* block
from the top of the counter range, which the register itself never hands out; its
forms are recorded in the register later like any other pending blank form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfallback.domain.codec import from_json
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.register.ids import COUNTER_MAX, format_downtime_number, format_instance_id

RESERVATION_FILE = "blank-ids.json"
FILE_BYTES = 65_536  # allocated once; rewritten in place
BLOCK = 200  # IDs set aside at a time
TOP_UP_BELOW = 100
UNREGISTERED_FLOOR = COUNTER_MAX - 2**20  # the register never hands out counters above this
log = logging.getLogger(__name__)


class NoBlankIds(PaperFallbackError):
    """Blank forms cannot be numbered: no reservation and nowhere to write one."""


@dataclass
class Reservation:
    """A block of IDs set aside for blank forms, and blank forms not yet registered."""

    pc_code: str
    form_next: int
    form_end: int  # exclusive
    downtime_next: int
    downtime_end: int
    unregistered: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)  # IssuedForm JSON, blank only
    # The printed layout of blank forms kept pending (digest -> packed scan_layout): a
    # blank copy's boxes hold no patient data and are alike for every copy of a form, so
    # each is kept once; pending items name theirs under "layout" (LAYOUT-3).
    layouts: dict[str, str] = field(default_factory=dict)

    @property
    def forms_left(self) -> int:
        return self.form_end - self.form_next

    @property
    def downtime_left(self) -> int:
        return self.downtime_end - self.downtime_next

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "pc_code": self.pc_code, "form": [self.form_next, self.form_end],
                "downtime": [self.downtime_next, self.downtime_end],
                "unregistered": self.unregistered, "pending": self.pending,
                "layouts": self.layouts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reservation:
        return cls(str(data["pc_code"]), int(data["form"][0]), int(data["form"][1]),
                   int(data["downtime"][0]), int(data["downtime"][1]),
                   bool(data.get("unregistered")), list(data.get("pending", [])),
                   {str(k): str(v) for k, v in dict(data.get("layouts") or {}).items()})


def paths(folder: Path) -> tuple[Path, Path]:
    """The reservation in the data folder, and its stand-in in the temp folder."""
    digest = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:12]
    return folder / RESERVATION_FILE, Path(tempfile.gettempdir()) / f"paperfallback-{digest}" \
        / RESERVATION_FILE


def load(folder: Path, pc_code: str) -> Reservation | None:
    """The most advanced reservation of this PC (the data folder's or its stand-in)."""
    found = []
    for path in paths(folder):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, IndexError):
            data = json.loads(path.read_bytes().decode("utf-8").strip() or "null")
            if data is not None:
                found.append(Reservation.from_json(data))
    mine = [r for r in found if r.pc_code == pc_code]
    if not mine:
        return None
    best = max(mine, key=lambda r: (r.form_next, r.downtime_next))
    best.pending = _merge_pending(mine)
    best.layouts = {k: v for r in mine for k, v in r.layouts.items()}
    return best


def _merge_pending(reservations: list[Reservation]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for reservation in reservations:
        for item in reservation.pending:
            seen.setdefault(str(item.get("instance_id")), item)
    return list(seen.values())


def save(folder: Path, reservation: Reservation) -> Path:
    """Write the reservation in place (no new disk blocks), else to its temp stand-in."""
    text = json.dumps(reservation.to_json(), ensure_ascii=False, separators=(",", ":"))
    data = text.encode("utf-8")
    if len(data) >= FILE_BYTES and reservation.layouts:
        # IDs first: drop the kept layouts (those copies are keyed with the form's
        # minimum rows, as before they were kept) rather than refuse to print.
        log.warning("reserve of blank-form IDs full: %d printed layouts dropped",
                    len(reservation.layouts))
        reservation.layouts = {}
        for item in reservation.pending:
            item.pop("layout", None)
        return save(folder, reservation)
    if len(data) >= FILE_BYTES:
        raise NoBlankIds(
            f"{len(reservation.pending)} blank forms wait to be entered in the register; open "
            "PaperFallback once the patient data can be opened again, then print again")
    data += b" " * (FILE_BYTES - len(data))
    problems = []
    for path in paths(folder):
        try:
            _write_in_place(path, data)
            return path
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
    raise NoBlankIds("blank forms cannot be numbered: " + "; ".join(problems))


def _write_in_place(path: Path, data: bytes) -> None:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    else:
        fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0) if hasattr(os, "pwrite") else os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def clear_stand_in(folder: Path) -> None:
    """The data folder took the reservation back: drop the temp copy."""
    stand_in = paths(folder)[1]
    with contextlib.suppress(OSError):
        stand_in.unlink()
        stand_in.parent.rmdir()


class ReservedIds:
    """An IdAllocator over the reservation, for blank forms when the register is unusable.

    IDs are taken (and written down) before the forms are rendered, so a form printed is
    never numbered again, even if the PC dies before the PDF is saved.
    """

    def __init__(self, folder: Path, pc_code: str) -> None:
        self.folder = folder
        self.pc_code = pc_code
        self._forms: list[int] = []
        self._downtime: list[int] = []

    def reserve(self, forms: int, downtime: int = 0) -> None:
        reservation = load(self.folder, self.pc_code) or _unregistered_block(self.pc_code)
        if reservation.forms_left < forms or reservation.downtime_left < downtime:
            if not reservation.unregistered:
                raise NoBlankIds(
                    f"this PC's reserve of blank-form IDs has {reservation.forms_left} left, "
                    f"not {forms}: print fewer, or fix the work store so the reserve is "
                    "topped up")
            reservation = _extend_unregistered(reservation, forms, downtime)
        self._forms += range(reservation.form_next, reservation.form_next + forms)
        self._downtime += range(reservation.downtime_next, reservation.downtime_next + downtime)
        reservation.form_next += forms
        reservation.downtime_next += downtime
        save(self.folder, reservation)

    def instance_id(self) -> str:
        if not self._forms:
            self.reserve(1)
        return format_instance_id(self.pc_code, self._forms.pop(0))

    def downtime_number(self) -> str:
        if not self._downtime:
            self.reserve(0, 1)
        return format_downtime_number(self.pc_code, self._downtime.pop(0))

    def close(self) -> None:
        """Nothing is held open (the IdAllocator shape of the Register)."""

    def record(self, issued: list[Any]) -> int:
        """Note printed blank forms for the register (entered when it can be opened)."""
        if not issued:
            return 0
        reservation = load(self.folder, self.pc_code) or _unregistered_block(self.pc_code)
        reservation.pending += [_kept(reservation, i) for i in issued]
        save(self.folder, reservation)
        log.info("register unusable: %d blank form instances kept in %s to enter later: %s",
                 len(issued), RESERVATION_FILE, " ".join(i.instance_id for i in issued))
        return len(issued)


def without_patient(issued: Any) -> Any:
    """An issued form as the unencrypted reserve may hold it: which form, where, when, how
    many pages; never who. A pre-filled form kept this way is keyed back like a blank copy
    (the clerk identifies the patient from the printed banner)."""
    return dataclasses.replace(
        issued, patient_id=None, nhs_number=None, hospital_number=None, patient_name="",
        bed="", rows=(), prefilled_times=(), extra={})


def _kept(reservation: Reservation, issued: Any) -> dict[str, Any]:
    """A printed form as the reserve keeps it: without the patient, and for a blank copy
    with its printed layout (kept once per distinct layout), so keying later offers
    every row the paper has (LAYOUT-3)."""
    item: dict[str, Any] = without_patient(issued).to_json()
    layout = str(issued.extra.get("scan_layout") or "")
    blank = issued.patient_id is None and not issued.rows and not issued.prefilled_times
    if layout and blank:
        digest = hashlib.sha256(layout.encode("utf-8")).hexdigest()[:16]
        reservation.layouts.setdefault(digest, layout)
        item["layout"] = digest
    return item


def _with_layout(item: dict[str, Any], layouts: dict[str, str]) -> dict[str, Any]:
    """A pending item as the register records it: its kept layout put back."""
    item = dict(item)
    layout = layouts.get(str(item.pop("layout", "")))
    if layout:
        item["extra"] = {**dict(item.get("extra") or {}), "scan_layout": layout}
    return item


def _unregistered_block(pc_code: str) -> Reservation:
    start = UNREGISTERED_FLOOR + 1 + secrets.randbelow((COUNTER_MAX - UNREGISTERED_FLOOR) // 2)
    log.warning("no reserve of blank-form IDs: an unregistered block from %d", start)
    return Reservation(pc_code, start, start + BLOCK, start, start + BLOCK, unregistered=True)


def _extend_unregistered(reservation: Reservation, forms: int, downtime: int) -> Reservation:
    need = max(forms, downtime, BLOCK)
    reservation.form_end = max(reservation.form_end, reservation.form_next + need)
    reservation.downtime_end = max(reservation.downtime_end, reservation.downtime_next + need)
    if max(reservation.form_end, reservation.downtime_end) > COUNTER_MAX:
        raise NoBlankIds("this PC has used its unregistered blank-form IDs; ask IT")
    return reservation


def top_up(register: Any, folder: Path) -> None:
    """With a usable register: enter pending blank forms, set aside a fresh block when the
    reserve runs low. Best effort: a failure here never stops what the caller is doing."""
    from paperfallback.register.store import IssuedForm

    try:
        reservation = load(folder, register.pc_code)
        changed = False
        if reservation is not None and reservation.pending:
            added = register.record([from_json(IssuedForm, _with_layout(i, reservation.layouts))
                                     for i in reservation.pending])
            log.info("register: entered %d blank forms printed while it was unusable", added)
            reservation.pending, reservation.layouts, changed = [], {}, True
        if reservation is None or reservation.unregistered or (
                min(reservation.forms_left, reservation.downtime_left) < TOP_UP_BELOW):
            forms = register.take_block("form", BLOCK)
            downtime = register.take_block("downtime", BLOCK)
            reservation = Reservation(register.pc_code, forms.start, forms.stop,
                                      downtime.start, downtime.stop)
            changed = True
        written = save(folder, reservation) if changed or paths(folder)[1].exists() else None
        if written == paths(folder)[0]:
            clear_stand_in(folder)
    except (PaperFallbackError, OSError) as exc:
        log.warning("reserve of blank-form IDs not updated: %s", exc)


class FormIds:
    """IDs for one print job: the register while it works, else this PC's reserve.

    A register that opened may still fail mid-job (another process holds its lock, the
    disk fills): the job then goes on from the reserve, and forms it could not record are
    kept as pending for the register. ``problem`` says why the reserve was used ("" if not).
    """

    def __init__(self, folder: Path, pc_code: str, register: Any | None, problem: str) -> None:
        self.register = register  # None once the reserve took over
        self._reserve = ReservedIds(folder, pc_code)
        self.problem = problem

    def _fall_back(self, exc: BaseException) -> None:
        log.warning("blank forms numbered from the reserve: %s", exc)
        self.problem = self.problem or _why(exc)
        if self.register is not None:
            self.register.close()
            self.register = None

    def reserve(self, forms: int, downtime: int = 0) -> None:
        if self.register is not None:
            try:
                self.register.reserve(forms, downtime)
                return
            except PaperFallbackError as exc:
                self._fall_back(exc)
        self._reserve.reserve(forms, downtime)

    def instance_id(self) -> str:
        if self.register is not None:
            try:
                return str(self.register.instance_id())
            except PaperFallbackError as exc:
                self._fall_back(exc)
        return self._reserve.instance_id()

    def downtime_number(self) -> str:
        if self.register is not None:
            try:
                return str(self.register.downtime_number())
            except PaperFallbackError as exc:
                self._fall_back(exc)
        return self._reserve.downtime_number()

    def record(self, issued: list[Any]) -> int:
        """After printing or saving: into the register, else pending in the reserve."""
        if self.register is not None:
            try:
                return int(self.register.record(issued))
            except PaperFallbackError as exc:
                self._fall_back(exc)
        return self._reserve.record(issued)

    def close(self) -> None:
        if self.register is not None:
            self.register.close()


def _why(exc: BaseException) -> str:
    return (f"the register cannot be used ({exc}). The blank forms' IDs come from this PC's "
            "reserve; they are entered in the register when it can be opened again.")


def form_ids_or_reserve(folder: Path, key: Callable[[], tuple[str, str]],
                   settings: Any) -> FormIds:
    """The ID source for a blank-form job (see :class:`FormIds`). ``key`` is called
    here, so a lost key falls back to the reserve like a wrong one."""
    from paperfallback.register.store import Register, pc_code_for

    pc_code = pc_code_for(settings)
    try:
        key_value, source = key()
        register = Register.open(folder, key_value, settings, key_source=source)
    except (PaperFallbackError, OSError) as exc:
        log.warning("blank forms numbered from the reserve: %s", exc)
        return FormIds(folder, pc_code, None, _why(exc))
    return FormIds(folder, pc_code, register, "")
