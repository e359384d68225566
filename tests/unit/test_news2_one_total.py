"""One NEWS2 total whatever the path: a column keyed on the screen or in a workbook scores
the same in discrepancy detection, CSV/xlsx, FHIR, the next chart and the ward list.

Audit defect (issue 11): five paths built NEWS2 input from keyed values and disagreed on
the SpO2 scale when "Scale used" was not keyed; the same column scored 5 in CSV/xlsx and
2 in FHIR. Now the scale printed on the chart is recorded on the issued form and every
path asks paperfallback.domain.news2_input; the oracle here is the RCP scorer itself.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from paperfallback.cache.encrypted_db import Connection
from paperfallback.cache.staleness import UK
from paperfallback.cache.ward_summary import latest_news2
from paperfallback.domain.keyed import rescore_keyed
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.domain.news2_input import chart_spo2_scale, news2_input, spo2_scale_for
from paperfallback.domain.records import ObservationKind
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.fhir_news2 import news2_column
from paperfallback.export.from_entries import read_forms
from paperfallback.export.model import ExportedForm
from paperfallback.export.tabular import value_rows
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import DiscrepancyKind
from paperfallback.reentry.observations import keyed_observations
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import import_workbook
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
OBS_TIME = NOW - timedelta(hours=1)
_patients = itertools.count(1)


@dataclass(frozen=True)
class Column:
    resp_rate: int
    spo2: int
    oxygen: str
    sbp: int
    pulse: int
    acvpu: str
    temp: float
    keyed_scale: str | None  # "Scale used" as keyed, or not keyed
    printed_scale: int | None  # on the issued form (None: blank copy or old version)
    epr_scale: int | None  # the cache's: must never change a keyed column's total

    def keyed(self) -> dict[str, str]:
        values = {"resp_rate": str(self.resp_rate), "spo2": str(self.spo2),
                  "oxygen": self.oxygen, "sbp": str(self.sbp), "pulse": str(self.pulse),
                  "acvpu": self.acvpu, "temp": f"{self.temp:.1f}", "initials": "SW"}
        if self.keyed_scale is not None:
            values["spo2_scale"] = self.keyed_scale
        return values

    def expected(self) -> int:
        """RCP NEWS2 2017, chart 1, on the keyed scale, else the printed one, else 1."""
        scale = int(self.keyed_scale or self.printed_scale or 1)
        return score(News2Observation(
            resp_rate=self.resp_rate, spo2=self.spo2, oxygen=self.oxygen, sbp=self.sbp,
            pulse=self.pulse, acvpu=self.acvpu, temp=self.temp, spo2_scale=scale)).total


columns = st.builds(
    Column,
    resp_rate=st.integers(4, 40), spo2=st.integers(78, 100),
    oxygen=st.sampled_from(["A", "O2"]), sbp=st.integers(70, 240),
    pulse=st.integers(30, 160), acvpu=st.sampled_from(list("ACVPU")),
    temp=st.integers(340, 405).map(lambda t: t / 10),
    keyed_scale=st.sampled_from([None, "1", "2"]),
    printed_scale=st.sampled_from([None, 1, 2]),
    epr_scale=st.sampled_from([None, 1, 2]),
)


@contextmanager
def _work_store() -> Iterator[tuple[Path, Connection]]:
    with tempfile.TemporaryDirectory() as folder:
        conn = WorkStore.open(Path(folder), KEY)
        try:
            yield Path(folder), conn
        finally:
            conn.close()


def _issue(register: Register, column: Column, patient_id: str) -> IssuedForm:
    issued = IssuedForm(
        instance_id=register.instance_id(), form_id="news2", form_version=NEWS2.version,
        scope="patient", page_count=2, printed_at=NOW - timedelta(hours=3), pc_id="pc",
        patient_id=patient_id, nhs_number="9434765919", patient_name="JONES, Ŵyn",
        ward_code="W1", blank_columns=8, spo2_scale=column.printed_scale)
    register.record(issued)
    return issued


def _handwritten(column: Column) -> str:
    return str((column.expected() + 1) % 21)  # always differs: each path reports its total


def _key_on_screen(store: EntriesStore, issued: IssuedForm, column: Column) -> int | None:
    session = KeyingSession(store, form_layout(NEWS2), issued, clerk="Ann",
                            ctx=KeyingContext(printed_at=issued.printed_at, now=NOW))
    session.enter("observations", 0, "obs_time", OBS_TIME.isoformat())
    for field_id, value in {**column.keyed(), "news2_total": _handwritten(column)}.items():
        session.enter("observations", 0, field_id, value)
    result = session.column_score("observations", 0)
    return result.computed.total if result and result.computed else None


def _key_in_workbook(folder: Path, store: EntriesStore, register: Register,
                     issued: IssuedForm, column: Column) -> None:
    path = folder / f"{issued.instance_id}.xlsx"
    build_workbook(NEWS2, [issued], path)
    wb = load_workbook(path)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    values: dict[str, Any] = {**column.keyed(), "news2_total": _handwritten(column),
                              "obs_time": OBS_TIME.astimezone(UK).strftime("%d/%m/%Y %H:%M")}
    for field_id, value in values.items():
        ws.cell(row=3, column=header.index(field_id) + 1, value=value)
    wb.save(path)
    result = import_workbook(path, catalogue=FORMS, lookup=register.get, store=store,
                             clerk="Bob", now=NOW)
    assert result.ok, result.problems


def _flagged_total(store: EntriesStore, instance_id: str) -> int:
    [flag] = [d for d in store.discrepancies(instance_id)
              if d.kind is DiscrepancyKind.NEWS2_TOTAL]
    return int(flag.detail["computed"])


def _exported(store: EntriesStore, register: Register, issued: IssuedForm) -> ExportedForm:
    [form] = read_forms(store, register, FORMS, None, site_code="T",
                        instance_ids=[issued.instance_id]).forms
    return form


def _csv_total(form: ExportedForm) -> int:
    [row] = [r for r in form.rows if r.section == "observations"]
    [line] = [v for v in value_rows(form, row) if v["field_id"] == "news2_total_computed"]
    return int(line["value"])


def _fhir_total(form: ExportedForm) -> int:
    [row] = [r for r in form.rows if r.section == "observations"]
    built = news2_column(form, row, subject={"reference": "Patient/x"}, effective=OBS_TIME,
                         systems=SiteSystems.for_site("t"), update=False)
    [total] = [e.resource for e in built.entries
               if e.resource["code"]["coding"][0]["code"] == "1104051000000101"]
    return int(total["valueQuantity"]["value"])


def _next_chart_and_ward_list(conn: Connection, patient_id: str,
                              epr_scale: int | None) -> tuple[int, int]:
    keyed = rescore_keyed(keyed_observations(conn, patient_id), default_scale=epr_scale)
    [total] = [o for o in keyed if o.kind is ObservationKind.NEWS2_TOTAL]
    latest = latest_news2(keyed, epr_scale)
    assert total.value is not None and latest is not None
    return int(total.value), latest.total


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=columns)
def test_every_path_gives_one_total(column: Column) -> None:
    with _work_store() as (folder, conn):
        register, store = Register(conn, pc_code="T1"), EntriesStore(conn)
        screen_patient, workbook_patient = f"p{next(_patients)}", f"p{next(_patients)}"
        on_screen = _issue(register, column, screen_patient)
        in_workbook = _issue(register, column, workbook_patient)
        totals = {"keying screen": _key_on_screen(store, on_screen, column)}
        _key_in_workbook(folder, store, register, in_workbook, column)
        for name, issued, patient in (("screen", on_screen, screen_patient),
                                      ("workbook", in_workbook, workbook_patient)):
            totals[f"{name}: discrepancy"] = _flagged_total(store, issued.instance_id)
            exported = _exported(store, register, issued)
            totals[f"{name}: csv/xlsx"] = _csv_total(exported)
            totals[f"{name}: fhir"] = _fhir_total(exported)
            chart, ward = _next_chart_and_ward_list(conn, patient, column.epr_scale)
            totals[f"{name}: next chart"], totals[f"{name}: ward list"] = chart, ward
    assert set(totals.values()) == {column.expected()}, totals


def test_the_scale_rule_keyed_then_printed_then_scale_1() -> None:
    assert spo2_scale_for("2", 1) == 2 and spo2_scale_for(" 1 ", 2) == 1
    assert spo2_scale_for(None, 2) == 2 and spo2_scale_for("", 2) == 2
    assert spo2_scale_for(None, None) == 1 and spo2_scale_for("3", None) == 1
    assert chart_spo2_scale(2) == 2 and chart_spo2_scale(None) == 1  # printed: EPR, else 1
    keyed = {"resp_rate": "16", "spo2": "97", "oxygen": "O2", "sbp": "120", "pulse": "70",
             "acvpu": "A", "temp": "37.0"}
    assert news2_input(keyed, printed_scale=2).total == 5  # SpO2 97 on O2: 3 + oxygen 2
    assert news2_input(keyed, printed_scale=1).total == 2
    assert news2_input({**keyed, "spo2_scale": "1"}, printed_scale=2).total == 2
    missing = news2_input({**keyed, "acvpu": "X", "temp": None}, printed_scale=1)
    assert missing.total is None and missing.missing == ("acvpu", "temp")


def test_a_site_chart_with_its_own_field_ids_scores_by_declared_roles(tmp_path: Path) -> None:
    """A site's NEWS2 chart need not use the bundled field ids: every path finds the
    parameters through the roles it declares (news2.resp_rate ...), so the screen and
    the FHIR export agree on it too."""
    text = (Path(__file__).resolve().parents[2] / "forms" / "news2.yaml").read_text("utf-8")
    for old, new in (("resp_rate", "site_rr"), ("spo2_scale", "site_scale"),
                     ("spo2", "site_sat"), ("news2_total", "site_total")):
        text = text.replace(f"id: {old}\n", f"id: {new}\n").replace(f"field: {old},",
                                                                     f"field: {new},")
    text = text.replace("id: news2\n", "id: site-news2\n", 1)
    (tmp_path / "site-news2.yaml").write_text(text, encoding="utf-8")
    site = load_catalogue(tmp_path).get("site-news2")
    assert {"site_rr", "site_sat", "site_scale", "site_total"} <= {f.id for _, f in site.fields()}
    column = Column(16, 97, "O2", 120, 70, "A", 37.0, keyed_scale=None, printed_scale=2,
                    epr_scale=None)
    keyed = {**column.keyed(), "site_rr": "16", "site_sat": "97", "site_total": "5"}
    del keyed["resp_rate"], keyed["spo2"]
    with _work_store() as (_folder, conn):
        register, store = Register(conn, pc_code="T1"), EntriesStore(conn)
        issued = IssuedForm(
            instance_id=register.instance_id(), form_id="site-news2", form_version="1",
            scope="patient", page_count=2, printed_at=NOW - timedelta(hours=3), pc_id="pc",
            patient_id="p1", nhs_number="9434765919", spo2_scale=2)
        register.record(issued)
        session = KeyingSession(store, form_layout(site), issued, clerk="Ann",
                                ctx=KeyingContext(printed_at=issued.printed_at, now=NOW))
        session.enter("observations", 0, "obs_time", OBS_TIME.isoformat())
        for field_id, value in keyed.items():
            assert session.enter("observations", 0, field_id, value).notice == ""
        result = session.column_score("observations", 0)
        assert result is not None and result.computed is not None
        [exported] = read_forms(store, register, load_catalogue(tmp_path), None,
                                site_code="T", instance_ids=[issued.instance_id]).forms
        next_chart = rescore_keyed(keyed_observations(conn, "p1", load_catalogue(tmp_path)),
                                   default_scale=None)
    assert result.computed.total == column.expected() == 5
    assert _fhir_total(exported) == 5 and _csv_total(exported) == 5
    [total] = [o for o in next_chart if o.kind is ObservationKind.NEWS2_TOTAL]
    assert total.value == 5 and latest_news2(next_chart, None) is not None
