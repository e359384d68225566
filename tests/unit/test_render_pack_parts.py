"""A ward pack handed to the printer in parts (issue #15): each part a complete PDF, ready
as soon as it is drawn, whole patients only, together exactly the pages of the pack."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.formspec import load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.render.pack_parts import part_groups
from paperfallback.settings import Settings

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
FORMS = ("handover", "news2", "mar")


def test_parts_hold_whole_patients_the_cover_and_ward_forms_join_the_first() -> None:
    assert part_groups([None, None, "a", "a", "b", "c", "c"]) == [[0, 1], [2, 3], [4], [5, 6]]
    assert part_groups([None, None]) == [[0, 1]]  # blank forms, a list: one part
    assert part_groups(["a", "b"]) == [[0], [1]]
    assert part_groups([]) == []
    # after the first part, whole patients until a part has min_pages pages
    patients = [None, "a", "a", "b", "b", "c", "d", "e"]
    pages = [1, 2, 2, 3, 3, 4, 1, 1]
    assert part_groups(patients, pages, min_pages=5) == [[0], [1, 2, 3, 4], [5, 6], [7]]


def _texts(pdf: bytes) -> list[str]:
    return [page.get_text() for page in pymupdf.open(stream=pdf, filetype="pdf")]


def _render(data_dir: Path, parts: list[tuple[bytes, int]] | None) -> tuple[bytes, int]:
    out = io.BytesIO()
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        result = render_pack(
            PackRequest(ward="W3", forms=FORMS), store, load_catalogue(),
            Settings(site_code="DEMO", pc_id="PC-1", pc_code="PT"), out=out,
            allocate_ids=MemoryAllocator(pc_code="PT"), now=NOW,
            parts=None if parts is None else (lambda pdf, pages: parts.append((pdf, pages))))
    return out.getvalue(), result.page_count


def test_the_parts_are_the_packs_pages_in_order(demo_data_dir: Path) -> None:
    whole, pages = _render(demo_data_dir, None)
    parts: list[tuple[bytes, int]] = []
    unwritten, counted = _render(demo_data_dir, parts)
    assert unwritten == b"" and counted == pages
    assert len(parts) == 6  # the cover and handover, then about 24 pages of whole patients
    assert parts[0][1] == 5  # the cover sheet and the 4-page handover list
    assert sum(n for _pdf, n in parts) == pages
    texts = [text for pdf, n in parts for text in _texts(pdf)]
    assert [len(_texts(pdf)) for pdf, _n in parts] == [n for _pdf, n in parts]
    assert texts == _texts(whole)
    first = _texts(parts[0][0])
    assert "Ward pack cover sheet" in first[0]
    assert all(text.startswith("Ward handover") for text in first[1:])
    # a patient's forms never straddle two parts: no NHS number in two parts
    numbers = [{n for text in _texts(pdf) for n in re.findall(r"999 \d{3} \d{4}", text)}
               for pdf, _n in parts[1:]]  # (the cover and handover list name them all)
    assert len(set.union(*numbers)) == sum(map(len, numbers)) >= 26

def test_print_parts_names_each_file_as_it_is_written_and_records_every_form(
        demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w3.pdf"
    assert main(["--data-dir", str(demo_data_dir), "print", "--ward", "W3", "--forms",
                 "handover,news2", "--out", str(out), "--parts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    files = [Path(line) for line in lines if line.endswith(".pdf")]
    assert files == [tmp_path / f"w3.part{n:02d}.pdf" for n in range(1, len(files) + 1)]
    assert len(files) >= 3
    assert not out.exists() and not list(tmp_path.glob("*.pdf.part"))
    pages = sum(pymupdf.open(f).page_count for f in files)
    assert f"Saved {len(files)} parts w3.partNN.pdf: {pages} pages" in lines[-2]
    assert main(["--data-dir", str(demo_data_dir), "register", "list", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert sum(int(i["page_count"]) for i in issued) == pages
    assert main(["--data-dir", str(demo_data_dir), "print", "--ward", "W3", "--forms",
                 "news2", "--out", str(out), "--parts", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["parts"] == [str(tmp_path / f"w3.part{n:02d}.pdf")
                             for n in range(1, len(said["parts"]) + 1)]
    assert sum(pymupdf.open(f).page_count for f in said["parts"]) == said["pages"]
