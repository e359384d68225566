"""No module dispatches on a form id: behaviour comes from what forms/*.yaml declare.

A grep over the package's Python string literals for every bundled form id. The few
that remain are data, each allowed below with the reason; anything else (``form_id ==
"news2"``, a builder table keyed by form id) fails this test, naming file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from paperfallback.formspec import load_catalogue

PACKAGE = Path(__file__).resolve().parents[2] / "paperfallback"
FORM_IDS = frozenset(load_catalogue().ids())

# (file relative to paperfallback/, string) -> why it is not a dispatch.
ALLOWED: dict[tuple[str, str], str] = {
    ("settings.py", "handover"): "default of the IT setting default_forms (data)",
    ("settings.py", "news2"): "default of the IT setting default_forms (data)",
    ("settings.py", "mar"): "default of the IT setting default_forms (data)",
    ("settings.py", "fluid-balance"): "default of the IT setting default_forms (data)",
    ("reentry/validation.py", "mar"): "the month March in a table of month names",
}
# Whole modules of synthetic data: the demo hospital and the export samples it builds on.
DEMO = ("cache/demo.py", "cache/demo_clinical.py", "export/samples.py")


def _form_id_literals(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in DEMO:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in FORM_IDS and (rel, node.value) not in ALLOWED:
                found.append((rel, node.lineno, node.value))
    return found


def test_no_form_id_string_in_the_package_outside_the_demo() -> None:
    assert {"news2", "mar", "fluid-balance", "downtime-registration"} <= FORM_IDS
    assert _form_id_literals() == []


def test_the_grep_finds_a_dispatch_when_there_is_one(tmp_path: Path) -> None:
    """The check itself works: a planted ``form_id == "news2"`` is found."""
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "tabular.py").write_text(
        'def f(form_id: str) -> bool:\n    return form_id == "news2"\n', encoding="utf-8")
    assert _form_id_literals(tmp_path) == [("export/tabular.py", 2, "news2")]


# ---- the MAR: no section id or field id of a drug-row section is read by code ----------

# The sections exported as MedicationAdministrations and the fields keyed in them (their
# repeated cells and the day columns' dates too). Code finds them by what the YAML
# declares (``medicines:``, roles), so a site MAR with other ids exports the same.
MAR_SECTION_IDS = frozenset(
    s.id for form in load_catalogue() for s in form.sections
    if s.export == "medication-administration")
MAR_FIELD_IDS = frozenset(
    f.id for form in load_catalogue() for s in form.sections if s.id in MAR_SECTION_IDS
    for f in (*s.all_fields(), *getattr(getattr(s, "repeat", None), "fields", ()))
    if f.keyed)
# (file relative to paperfallback/, id) -> why it is not reading the MAR by id.
MAR_ALLOWED: dict[tuple[str, str], str] = {
    ("domain/records.py", "regular"): "PrescriptionKind: the EPR's prescription kind, "
                                      "which a section's filter selects (data, not a section)",
    ("domain/records.py", "prn"): "PrescriptionKind: the EPR's prescription kind (data)",
}
# The demo hospital's generators make prescriptions of each kind (cache/demo*.py).
MAR_DEMO_PREFIX = "cache/demo"


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _mar_id_literals(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    """String literals (not docstrings) naming a MAR section, or a MAR field or a prefix
    of its repeated cells (``"prn_time_"``, ``f"reg_given_{n}"``, "... (reg_time)")."""
    sections = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(
        MAR_SECTION_IDS, key=len, reverse=True))) + r")(?![\w-])")
    fields = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(
        MAR_FIELD_IDS, key=len, reverse=True))) + r")(?![A-Za-z0-9-])")
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(MAR_DEMO_PREFIX):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) \
                    or id(node) in docs:
                continue
            for pattern in (sections, fields):
                for hit in pattern.finditer(node.value):
                    if (rel, hit[1]) not in MAR_ALLOWED:
                        found.append((rel, node.lineno, hit[1]))
    return sorted(set(found))


def test_no_mar_section_or_field_id_in_the_package() -> None:
    assert {"regular", "prn", "once_infusions"} <= MAR_SECTION_IDS
    assert {"reg_given", "reg_time", "prn_time", "once_started", "day_date"} <= MAR_FIELD_IDS
    assert _mar_id_literals() == []


def test_the_grep_finds_a_mar_id_when_there_is_one(tmp_path: Path) -> None:
    """The check itself works: a section id, a cell prefix in an f-string and a field id
    in a message are found; a docstring naming one is not."""
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "fhir_medication.py").write_text(
        '"""Reads prn_time_1 and the regular section (documentation)."""\n'
        'def f(section: str, n: int) -> list[str]:\n'
        '    if section == "regular":\n'
        '        return [f"prn_time_{n}"]\n'
        '    return ["no dose time keyed (reg_time)", "prn_indication"]\n',
        encoding="utf-8")
    assert _mar_id_literals(tmp_path) == [
        ("export/fhir_medication.py", 3, "regular"),
        ("export/fhir_medication.py", 4, "prn_time"),
        ("export/fhir_medication.py", 5, "reg_time"),
    ]
