"""Fonts parsed once and kept in the data folder (issue #15): a pack drawn with the kept
fonts is byte-for-byte the pack drawn with freshly parsed ones, and a changed or damaged
file is never used."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics

from paperfallback import derived_cache
from paperfallback.formspec import load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, fonts, render_pack
from paperfallback.settings import Settings

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Forget the process's fonts; count the TrueType files parsed."""
    calls: list[str] = []
    real = fonts._parse

    def counting(name: str, path: Path) -> fonts.TTFont:
        calls.append(name)
        return real(name, path)

    monkeypatch.setattr(fonts, "_parse", counting)
    _forget_fonts()
    yield calls
    _forget_fonts()
    derived_cache.use_data_folder(None)


def _forget_fonts() -> None:
    fonts.register_fonts.cache_clear()
    for name in (fonts.REGULAR, fonts.BOLD):
        pdfmetrics._fonts.pop(name, None)


def _pack() -> bytes:
    _forget_fonts()
    buffer = io.BytesIO()
    render_pack(PackRequest(blank_form="mar", count=2), None, load_catalogue(),
                Settings(site_code="DEMO", pc_id="PC", pc_code="GD"), out=buffer,
                allocate_ids=MemoryAllocator(pc_code="GD"), now=NOW)
    return buffer.getvalue()


def test_kept_fonts_draw_the_same_bytes(tmp_path: Path, parses: list[str]) -> None:
    derived_cache.use_data_folder(None)
    parsed = _pack()  # no data folder: parsed, nothing kept
    assert parses == [fonts.REGULAR, fonts.BOLD]
    derived_cache.use_data_folder(tmp_path)
    assert _pack() == parsed  # parsed and kept
    assert (tmp_path / derived_cache.FOLDER / fonts.FONT_CACHE_FILE).is_file()
    assert len(parses) == 4
    assert _pack() == parsed  # from the kept file
    assert len(parses) == 4
    assert "ŵ" not in fonts.missing_glyphs("Dŵr ŷd łódź")


def test_a_damaged_or_other_font_file_is_parsed_again(tmp_path: Path,
                                                      parses: list[str]) -> None:
    derived_cache.use_data_folder(tmp_path)
    fonts.register_fonts()
    kept = tmp_path / derived_cache.FOLDER / fonts.FONT_CACHE_FILE
    data = bytearray(kept.read_bytes())
    data[-5] ^= 0xFF
    kept.write_bytes(bytes(data))
    _forget_fonts()
    fonts.register_fonts()
    assert len(parses) == 4  # damaged: parsed again (and kept again)
    _forget_fonts()
    fonts.register_fonts()
    assert len(parses) == 4
    key = derived_cache.key_of(["fonts", "another ReportLab"], [])
    derived_cache.write(kept, key, [{"font": {}, "face": {}}] * 2)
    _forget_fonts()
    fonts.register_fonts()
    assert len(parses) == 6  # kept for another version: parsed again
