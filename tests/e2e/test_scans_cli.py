"""``paperfallback scans import`` / ``scans status``: returned paper identified from scans.

Scans are made the way a ward's multifunction printer makes them: pages of a printed pack
rasterised at 150–300 dpi, written on, rotated ±3°, scaled ±2 %, noisy, JPEG-compressed,
shuffled, one page dropped, a blank sheet and another PC's page slipped in.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pymupdf
import pytest
from scan_synth import as_scanned, blank_sheet, rasterise, save_pdf, save_tiff, scribble

from paperfallback.cli.main import main


def _json(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["--data-dir", str(data_dir), *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def printed(sample_data_dir: Path, tmp_path: Path) -> tuple[Path, list[dict]]:
    out = tmp_path / "pack.pdf"
    assert main(["--data-dir", str(sample_data_dir), "print", "--patient", "999 100 0976",
                 "--forms", "news2,mar,fluid-balance", "--out", str(out)]) == 0
    return out, []


def _other_pc_page(tmp_path: Path, data_dir: Path) -> Path:
    other = tmp_path / "other-pc"
    other.mkdir()
    (other / "settings.json").write_text(json.dumps({"pc_code": "Z9"}))
    out = tmp_path / "other.pdf"
    assert main(["--data-dir", str(other), "print", "--blank", "news2", "--out", str(out)]) == 0
    return out


def test_a_shuffled_noisy_scan_is_identified_and_the_dropped_page_is_missing(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack, _ = printed
    rng = random.Random(16)
    pages = rasterise(pack, 200)
    total = len(pages)
    assert total >= 4
    scans = [(n, as_scanned(scribble(img, rng), rng, upside_down=(n == 3)))
             for n, img in enumerate(pages, start=1)]
    dropped = scans.pop(1)  # the second page of the pack never comes back
    rng.shuffle(scans)
    other = rasterise(_other_pc_page(tmp_path, sample_data_dir), 150)[0]
    images = [img for _, img in scans]
    images.insert(2, blank_sheet(images[0].size, rng))
    images.append(as_scanned(other, rng))
    scan = save_pdf(images, tmp_path / "scan-to-folder.pdf", 200)

    code, report = _json(capsys, sample_data_dir, "scans", "import", str(scan))
    assert code == 0
    statuses = [p["status"] for p in report["pages"]]
    assert report["identified"] == total - 1 == statuses.count("identified")
    assert statuses.count("not-in-register") == 1
    blank = [p for p in report["pages"] if p.get("blank")]
    assert len(blank) == 1 and blank[0]["status"] == "unreadable" and blank[0]["index"] == 3
    assert report["unreadable"] == 1
    assert all(p["source"] == str(scan) for p in report["pages"])
    assert [p["index"] for p in report["pages"]] == list(range(1, len(images) + 1))

    code, status = _json(capsys, sample_data_dir, "scans", "status")
    assert code == 0
    missing = {(f["form_id"], m) for f in status["forms"] for m in f["missing"]}
    forms = {f["form_id"]: f for f in status["forms"]}
    # the dropped page is the only one missing, named by its form ID and page number
    assert len(missing) == 1
    (form_id, page), = missing
    assert forms[form_id]["returned"] == [p for p in range(1, forms[form_id]["pages"] + 1)
                                          if p != page]
    assert status["partial"] == 1 and status["not_returned"] == 0
    assert status["complete"] == len(status["forms"]) - 1
    assert dropped[0] == 2


def test_duplicates_unreadable_pages_and_formats(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack, _ = printed
    rng = random.Random(7)
    pages = [as_scanned(p, rng) for p in rasterise(pack, 300)[:2]]
    folder = tmp_path / "scans"
    folder.mkdir()
    pages[0].save(folder / "a.jpg", quality=75)
    save_tiff(pages, folder / "b.tif", 300)
    smudged = pages[1].copy()
    smudged.paste(0, (smudged.width * 2 // 3, 0, smudged.width, smudged.height // 6))
    smudged.save(folder / "c.png")

    code, report = _json(capsys, sample_data_dir, "scans", "import", str(folder))
    assert code == 0
    by_file = [(Path(p["source"]).name, p["index"], p["status"]) for p in report["pages"]]
    assert by_file == [("a.jpg", 1, "identified"), ("b.tif", 1, "duplicate"),
                       ("b.tif", 2, "identified"), ("c.png", 1, "unreadable")]
    # the unreadable page waits in the queue with its image, encrypted in work.db
    assert b"JFIF" not in (sample_data_dir / "work.db").read_bytes()


def test_a_file_that_cannot_be_read_exits_1_and_the_others_are_still_taken(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack, _ = printed
    good = tmp_path / "good.pdf"
    save_pdf([as_scanned(rasterise(pack, 150)[0], random.Random(1))], good, 150)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(good.read_bytes()[:300])
    capsys.readouterr()
    code = main(["--data-dir", str(sample_data_dir), "scans", "import", str(broken), str(good),
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "broken.pdf" in err and "Traceback" not in err
    report = json.loads(out)
    assert report["identified"] == 1 and report["files_unreadable"]


def test_scans_status_by_ward_lists_forms_never_returned(
    sample_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "ward.pdf"
    assert main(["--data-dir", str(sample_data_dir), "print", "--ward", "Cedar Ward",
                 "--forms", "news2", "--out", str(out)]) == 0
    pages = pymupdf.open(out).page_count
    code, status = _json(capsys, sample_data_dir, "scans", "status", "--ward", "CED")
    assert code == 0
    assert status["not_returned"] == len(status["forms"]) > 0
    assert sum(f["pages"] for f in status["forms"]) <= pages
    assert all(f["form"] == "news2" and f["returned"] == [] for f in status["forms"])
    code, none = _json(capsys, sample_data_dir, "scans", "status", "--ward", "NO-SUCH")
    assert none["forms"] == []


def test_recovery_report_lists_what_came_back_and_what_is_missing_by_patient(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pypdf import PdfReader

    pack, _ = printed
    pages = rasterise(pack, 150)
    rng = random.Random(3)
    save_pdf([as_scanned(p, rng) for p in pages[:2]], tmp_path / "back.pdf", 150)
    _json(capsys, sample_data_dir, "scans", "import", str(tmp_path / "back.pdf"))
    out = tmp_path / "report" / "recovery.pdf"
    code, totals = _json(capsys, sample_data_dir, "report", "recovery", "--ward", "CED",
                         "--out", str(out))
    assert code == 0
    assert totals["pages_printed"] == len(pages) and totals["pages_returned"] == 2
    assert totals["pages_still_missing"] == len(pages) - 2
    reader = PdfReader(out)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Downtime paper recovery report" in text and "Ward: CED" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    # the patient is named with an identifier, and a missing page is listed by number
    assert "999 100 0976" in text
    assert "2/" in text and "no" in text


def test_images_of_exported_forms_are_removed_after_the_retention_period(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import UTC, datetime, timedelta

    from paperfallback.register import Register
    from paperfallback.scan.store import ScanStore
    from paperfallback.settings import Settings

    pack, _ = printed
    rng = random.Random(5)
    save_pdf([as_scanned(p, rng) for p in rasterise(pack, 150)], tmp_path / "s.pdf", 150)
    _json(capsys, sample_data_dir, "scans", "import", str(tmp_path / "s.pdf"))
    key = "test-key-not-secret"
    with Register.open(sample_data_dir, key, Settings.load(sample_data_dir)) as register:
        store = ScanStore(register.work)
        before = store.returned_pages()
        exported, kept = sorted(before)[:2]
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert store.purge({exported}, older_than=later) == len(before[exported])
        assert store.form_pages(exported) == {}
        assert store.form_pages(kept)  # a form not exported keeps its images
        assert store.returned_pages() == before  # the record of what came back stays
        assert store.purge({exported}, older_than=later) == 0


def test_a_queued_page_is_attached_by_the_id_a_clerk_reads_off_it(
    printed: tuple[Path, list[dict]], sample_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack, _ = printed
    page = as_scanned(rasterise(pack, 200)[1], random.Random(2))
    page.paste(0, (page.width * 2 // 3, 0, page.width, page.height // 6))  # QR torn off
    page.save(tmp_path / "torn.png")
    code, report = _json(capsys, sample_data_dir, "scans", "import", str(tmp_path / "torn.png"))
    assert code == 0
    assert report["unreadable"] == 1
    _code, queue = _json(capsys, sample_data_dir, "scans", "queue")
    (waiting,) = queue["queue"]
    _code, status = _json(capsys, sample_data_dir, "scans", "status")
    news2 = next(f for f in status["forms"] if f["form"] == "news2")
    base = ["--data-dir", str(sample_data_dir), "scans", "assign", str(waiting["page"])]
    capsys.readouterr()
    assert main([*base, f"{news2['form_id']}/9"]) == 1  # no page 9: refused, not guessed
    assert "not a page 9" in capsys.readouterr().err
    assert main([*base, news2["form_id"]]) == 1  # two pages: the page must be typed
    assert main([*base, f"{news2['form_id']}/2"]) == 0
    _code, status = _json(capsys, sample_data_dir, "scans", "status")
    news2 = next(f for f in status["forms"] if f["form_id"] == news2["form_id"])
    assert news2["returned"] == [2]
    _code, queue = _json(capsys, sample_data_dir, "scans", "queue")
    assert queue["queue"] == []
    assert main([*base, f"{news2['form_id']}/2"]) == 1  # no longer waiting
