"""Issue #13 item 11: checks at keying that were found only at export, or never: a MAR
omission code not on the legend, a dose dated after the keying (the end of the outage),
a fluid-balance running total that does not add up (a discrepancy, as NEWS2 totals are).
The workbook importer keys through the same session, so it refuses the same values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.keying_service import KeyingService
from paperfallback.reentry.model import DiscrepancyKind
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


@pytest.fixture
def service(data_dir: Path) -> Iterator[KeyingService]:
    conn = WorkStore.open(data_dir, KEY)
    yield KeyingService(EntriesStore(conn), Register(conn, pc_code="T1"), load_catalogue())
    conn.close()


def _issue(service: KeyingService, form_id: str, **extra: object) -> IssuedForm:
    fields: dict[str, object] = {
        "form_version": "1.1", "scope": "patient", "page_count": 1, "pc_id": "pc",
        "printed_at": datetime.now(UTC) - timedelta(hours=3), "patient_id": "p1"}
    fields.update(extra)
    issued = IssuedForm(instance_id=service.register.instance_id(), form_id=form_id,
                        **fields)  # type: ignore[arg-type]
    service.register.record(issued)
    return issued


def _mar(service: KeyingService) -> IssuedForm:
    today = datetime.now(UK).date()
    days = [today - timedelta(days=1) + timedelta(days=n) for n in range(7)]
    return _issue(service, "mar", rows=("regular:rx-1@08:00",),
                  extra={"dates:regular": ",".join(d.isoformat() for d in days)})


def test_an_omission_code_not_on_the_legend_is_refused_at_keying(
        service: KeyingService) -> None:
    form = service.open(_mar(service).instance_id, "Ann")
    with pytest.raises(InputError, match=r"not an omission code on the chart's legend \(1–8\)"):
        form.enter("regular", 0, "reg_given_1", "9")
    assert form.enter("regular", 0, "reg_given_1", "8").shown == "8"
    assert form.enter("regular", 0, "reg_given_1", "AB").shown == "AB"


def test_a_dose_dated_after_the_keying_is_refused(service: KeyingService) -> None:
    form = service.open(_mar(service).instance_id, "Ann")
    form.enter("regular", 0, "reg_given_1", "AB")  # yesterday 08:00
    with pytest.raises(InputError, match=r"day 3 at 08:00 .* after it was keyed"):
        form.enter("regular", 0, "reg_given_3", "AB")  # tomorrow 08:00


def test_a_running_total_that_does_not_add_up_is_a_discrepancy(
        service: KeyingService) -> None:
    issued = _issue(service, "fluid-balance")
    form = service.open(issued.instance_id, "Ann")
    form.enter("hours", 0, "in_oral", "200")
    form.enter("hours", 0, "in_iv1", "100")
    assert form.enter("hours", 0, "in_running", "300").notice == ""
    form.enter("hours", 1, "in_oral", "150")
    notice = form.enter("hours", 1, "in_running", "350").notice  # 300 + 150 = 450
    assert "Running total IN written as 350" in notice and "add up to 450" in notice
    (flag,) = service.store.discrepancies(issued.instance_id)
    assert flag.kind is DiscrepancyKind.RUNNING_TOTAL and flag.address.index == 1
    assert "written as 350" in flag.describe()
    assert flag in form.visible_discrepancies() and "350" in form.status_text()
    # A keying slip corrected: the flag closes by itself; both values kept as keyed.
    form.enter("hours", 1, "in_oral", "50")
    assert service.store.discrepancies(issued.instance_id) == []
