"""The CSV and xlsx layout (one table per kind; docs/formats.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from paperfallback.cache.importers import read_extract
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import ObservationKind, PrescriptionKind

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TABLES = {
    "patients": [
        ["id", "nhs_number", "hospital_number", "family", "given", "birth_date", "sex",
         "phone", "next_of_kin_name", "next_of_kin_phone", "spo2_scale", "shoe_size"],
        ["p1", "999 000 0026", "H1", "Łapińska", "Małgorzata", "1941-05-06", "female",
         "01248 384384", "Piotr Łapiński", "07700 900123", "2", "5"],
        ["p2", "", "H2", "Featherstonehaugh-Cholmondeley", "Siân", "1960-01-01", "", "", "",
         "", "", ""],
    ],
    "stays": [
        ["id", "patient_id", "ward_code", "ward_name", "bed", "consultant", "admitted_at"],
        ["s1", "p1", "W7", "Ward 7 — Dewi Sant", "Bed 3", "Dr Rees", "2026-03-01T08:00"],
    ],
    "allergies": [
        ["patient_id", "substance", "reaction", "no_known_allergies"],
        ["p1", "Penicillin", "Anaphylaxis", "no"],
        ["p2", "No known allergies", "", "yes"],
    ],
    "alerts": [["patient_id", "text", "category"], ["p1", "DNACPR", "Resuscitation status"]],
    "prescriptions": [
        ["patient_id", "drug", "dose", "route", "dose_times", "kind", "prn_indication",
         "prn_max_24h"],
        ["p1", "Paracetamol", "1 g", "Oral", "06:00 12:00 18:00 22:00", "regular", "", ""],
        ["p1", "Morphine", "2.5 mg", "Oral", "", "prn", "Pain", "30 mg / 24 h"],
    ],
    "observations": [
        ["patient_id", "kind", "effective", "value", "text"],
        ["p1", "spo2", "2026-03-02T10:00:00Z", "90", ""],
        ["p1", "acvpu", "2026-03-02T10:00:00Z", "", "A"],
        ["p1", "spo2", "2026-02-20T10:00:00Z", "95", ""],
    ],
    "appointments": [
        ["patient_id", "clinic", "start", "clinician"],
        ["p2", "Diabetes Clinic", "2026-03-03T09:30", "Dr Chaudhry"],
    ],
    "theatre_cases": [
        ["patient_id", "theatre", "session_date", "planned_order", "procedure", "surgeon"],
        ["p2", "Theatre 1", "2026-03-04", "1", "Cystoscopy", "Mr Pryce"],
    ],
}


def _csv(folder: Path, name: str, rows: list[list[str]]) -> None:
    import csv

    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def _check(snap_path: list[Path]) -> None:
    snap = read_extract(snap_path, now=NOW)
    p1 = next(p for p in snap.patients if p.id == "p1")
    assert (p1.nhs_number, p1.family, p1.given) == ("9990000026", "Łapińska", "Małgorzata")
    assert p1.next_of_kin[0].phone == "07700 900123" and p1.phones[0].value == "01248 384384"
    assert snap.spo2_scale == {"p1": 2}
    assert next(p for p in snap.patients if p.id == "p2").nhs_number is None
    (stay,) = snap.stays
    assert (stay.ward_code, stay.bed) == ("W7", "Bed 3")
    assert snap.wards[0].name == "Ward 7 — Dewi Sant"
    assert {(a.patient_id, a.no_known_allergies) for a in snap.allergies} == {
        ("p1", False), ("p2", True)}
    rx = {p.drug: p for p in snap.prescriptions}
    assert rx["Paracetamol"].dose_times == ("06:00", "12:00", "18:00", "22:00")
    assert rx["Morphine"].kind is PrescriptionKind.PRN and rx["Morphine"].prn_indication == "Pain"
    assert [o.kind for o in snap.observations] == [ObservationKind.SPO2, ObservationKind.ACVPU]
    assert snap.skipped["Observation older than 72 h before data-as-of"] == 1
    assert snap.appointments[0].clinic == "Diabetes Clinic"
    assert snap.theatre_cases[0].procedure == "Cystoscopy"
    assert any("shoe_size" in k for k in snap.skipped)


def test_csv_folder(tmp_path: Path) -> None:
    for name, rows in TABLES.items():
        _csv(tmp_path, name, rows)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    _check([tmp_path])
    assert read_extract([tmp_path], now=NOW).skipped["file notes.csv (not a known table)"] == 1


def test_xlsx_workbook(tmp_path: Path) -> None:
    book = Workbook()
    book.remove(book.active)
    for name, rows in TABLES.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(tmp_path / "extract.xlsx")
    _check([tmp_path / "extract.xlsx"])


def test_csv_error_names_file_line_and_column(tmp_path: Path) -> None:
    _csv(tmp_path, "patients", [["id", "family", "nhs_number"], ["p1", "Jones", "9990000026"],
                                ["p2", "Evans", "9990000027"]])
    with pytest.raises(InputError, match="check digit") as err:
        read_extract([tmp_path / "patients.csv"], now=NOW)
    assert err.value.where == f"{tmp_path / 'patients.csv'}:3, column 'nhs_number'"


def test_xlsx_error_names_sheet_row_and_column(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "observations"
    sheet.append(["patient_id", "kind", "effective", "value"])
    sheet.append(["p1", "spo2", "2026-03-02T10:00", "l00"])
    book.save(tmp_path / "obs.xlsx")
    with pytest.raises(InputError, match="'l00' is not a number") as err:
        read_extract([tmp_path / "obs.xlsx"], now=NOW)
    assert err.value.where == f"{tmp_path / 'obs.xlsx'}, sheet observations row 2 column 'value'"


def test_missing_required_column(tmp_path: Path) -> None:
    _csv(tmp_path, "stays", [["patient_id", "bed"], ["p1", "Bed 1"]])
    with pytest.raises(InputError, match="ward_code"):
        read_extract([tmp_path], now=NOW)


def test_two_patients_with_one_nhs_number_are_refused_naming_both_rows(tmp_path: Path) -> None:
    """As the FHIR importer does: a duplicate registration must be merged in the EPR first,
    or a form could be printed for, or keyed back to, the wrong one."""
    _csv(tmp_path, "patients", [["id", "family", "nhs_number"], ["p1", "Jones", "9990000026"],
                                ["p2", "Wŷn", "999 000 0026"]])
    path = tmp_path / "patients.csv"
    with pytest.raises(InputError, match="same NHS number as patient 'p1'") as err:
        read_extract([path], now=NOW)
    assert err.value.where == f"{path}:3"
    assert f"({path}:2)" in str(err.value)


def test_duplicate_nhs_number_across_xlsx_sheets_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "patients"
    sheet.append(["id", "family", "nhs_number"])
    sheet.append(["p1", "Jones", "9990000026"])
    sheet.append(["p2", "Öztürk", "9990000026"])
    book.save(tmp_path / "extract.xlsx")
    with pytest.raises(InputError, match="same NHS number") as err:
        read_extract([tmp_path / "extract.xlsx"], now=NOW)
    assert err.value.where == f"{tmp_path / 'extract.xlsx'}, sheet patients row 3"


def test_patients_without_nhs_numbers_are_not_duplicates(tmp_path: Path) -> None:
    _csv(tmp_path, "patients", [["id", "family", "nhs_number"], ["p1", "Jones", ""],
                                ["p2", "Evans", ""]])
    assert len(read_extract([tmp_path], now=NOW).patients) == 2


def test_abbreviated_dose_units_are_written_in_full(tmp_path: Path) -> None:
    _csv(tmp_path, "patients", [["id", "family"], ["p1", "Jones"]])
    _csv(tmp_path, "prescriptions", [["patient_id", "drug", "dose"],
                                     ["p1", "Levothyroxine", "500 ug"],
                                     ["p1", "Insulin aspart", "10 U"],
                                     ["p1", "Paracetamol", "1 g"],
                                     ["p1", "Senna", "1-2 tablet"]])
    doses = [p.dose for p in read_extract([tmp_path], now=NOW).prescriptions]
    assert doses == ["500 microgram", "10 units", "1 g", "1-2 tablet"]
