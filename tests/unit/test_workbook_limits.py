"""xlsx workbooks are checked before parsing (issue 12, items 6 and 11): a 1.5 MB zip bomb
that expands to 1.5 GB ran for minutes with growing memory, and a billion-laughs sheet
ended in a raw traceback. Size, row count and XML entity declarations are checked first,
for ward workbooks (entries import) and xlsx extracts (cache import) alike."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from paperfallback.cache.importers import workbook_limits
from paperfallback.cache.importers.workbook_limits import (
    EXTRACT_LIMITS,
    KEYING_LIMITS,
    WorkbookLimits,
    check_workbook,
)
from paperfallback.cli.main import main
from paperfallback.domain.errors import InputError

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
              for i in range(1, 10))
    + "]>\n"
)


def _workbook(path: Path, rows: int = 3) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "patients"
    sheet.append(["id", "family", "given"])
    for n in range(rows):
        sheet.append([f"p{n}", "PRYS", "Gwen"])
    book.save(path)
    return path


def _rewrite(path: Path, change: dict[str, bytes]) -> Path:
    """The workbook with some parts replaced (or added), as an attacker would."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts.update(change)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return path


def _billion_laughs(path: Path) -> Path:
    _workbook(path)
    with zipfile.ZipFile(path) as source:
        sheet = source.read("xl/worksheets/sheet1.xml").decode()
    body = sheet.split("?>", 1)[1] if sheet.startswith("<?xml") else sheet
    body = body.replace("<v>", "<v>&lol9;", 1) if "<v>" in body else body
    return _rewrite(path, {"xl/worksheets/sheet1.xml": (LAUGHS + body).encode()})


def _bomb(path: Path, megabytes: int) -> Path:
    _workbook(path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as out, \
            out.open("xl/media/padding.bin", "w") as padding:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(megabytes):
            padding.write(chunk)
    return path


def test_an_ordinary_workbook_passes(tmp_path: Path) -> None:
    check_workbook(_workbook(tmp_path / "ok.xlsx"), KEYING_LIMITS)


def test_a_zip_bomb_is_refused_naming_the_limit_before_parsing(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.xlsx", KEYING_LIMITS.max_bytes // 2**20 + 1)
    assert bomb.stat().st_size < 2**20  # a small file that expands past the limit
    with pytest.raises(InputError, match=r"more than the limit of 50 MB") as err:
        check_workbook(bomb, KEYING_LIMITS)
    assert err.value.where == str(bomb)


def test_too_many_rows_are_refused_naming_the_limit(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "rows.xlsx", rows=60)
    with pytest.raises(InputError, match=r"sheet 'patients' has more than 50 rows"):
        check_workbook(book, WorkbookLimits(max_bytes=10**8, max_rows=50))


def test_billion_laughs_is_refused_by_the_keying_import_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = _billion_laughs(tmp_path / "laughs.xlsx")
    assert main(["entries", "import", str(bomb), "--clerk", "Ann"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "XML entity declarations" in err and str(bomb) in err


def test_billion_laughs_and_bombs_are_refused_by_the_extract_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _billion_laughs(tmp_path / "laughs.xlsx")
    assert main(["cache", "import", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "XML entity declarations" in err
    monkeypatch.setattr(workbook_limits, "EXTRACT_LIMITS",
                        WorkbookLimits(max_bytes=2 * 2**20, max_rows=EXTRACT_LIMITS.max_rows))
    big = _bomb(tmp_path / "big.xlsx", 3)
    assert main(["cache", "import", str(big)]) == 1
    assert "more than the limit of 2 MB" in capsys.readouterr().err
