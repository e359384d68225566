"""Keying from the image (issue #16 item 3): the scanned page beside the fields, zoomed to
the chart column being keyed, following the column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from PIL import Image

from paperfallback.cli.main import main
from paperfallback.register import Register
from paperfallback.scan.omr import column_places, scan_layout
from paperfallback.scan.store import ScanStore
from paperfallback.settings import Settings
from paperfallback.ui.scan_pane import NO_SCAN, ScanPane

KEY = "test-key-not-secret"


def _print(data_dir: Path, tmp_path: Path, forms: str = "news2") -> list[Image.Image]:
    """Print the Cedar Ward patient's forms; their pages as 150 dpi greyscale images."""
    pack = tmp_path / "pack.pdf"
    assert main(["--data-dir", str(data_dir), "print", "--patient", "999 100 0976",
                 "--forms", forms, "--out", str(pack)]) == 0
    pages = []
    for page in pymupdf.open(pack):
        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        pages.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    return pages


def _import(data_dir: Path, scan: Path) -> None:
    assert main(["--data-dir", str(data_dir), "scans", "import", str(scan)]) == 0


def _print_and_scan(data_dir: Path, tmp_path: Path) -> None:
    pages = [p.rotate(1.5, expand=True, fillcolor=240) for p in _print(data_dir, tmp_path)]
    scan = tmp_path / "scan.pdf"
    pages[0].save(scan, format="PDF", save_all=True, append_images=pages[1:], resolution=150)
    _import(data_dir, scan)


@pytest.fixture
def keying_window(sample_data_dir: Path, open_window: Callable[[], Any]) -> Any:
    """The keying window on the sample data folder (closed by ``open_window``)."""
    return open_window()


def _news2(data_dir: Path) -> Any:
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        return register.list(form_id="news2")[-1]


def test_the_pane_shows_the_column_being_keyed_and_follows_it(
    qtbot: Any, sample_data_dir: Path, tmp_path: Path,
) -> None:
    pane = ScanPane()
    qtbot.addWidget(pane)
    pane.resize(420, 700)
    pane.show()
    with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
        issued = register.list(form_id="news2")[-1] if register.list(form_id="news2") else None
        pane.follow(issued, ScanStore(register.work), "observations", 0)
        assert pane.caption.text() == NO_SCAN  # nothing printed yet
    _print_and_scan(sample_data_dir, tmp_path)
    with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
        issued = register.list(form_id="news2")[-1]
        scans = ScanStore(register.work)
        places = column_places(scan_layout(issued.extra) or {}, "observations")
        pane.follow(issued, scans, "observations", 2)
        view = pane.view
        assert view is not None and view.column is not None
        assert view.page == places[2].page == 1
        column = 3 + places[0].grid["prefilled"]  # numbered as the paper numbers it
        assert pane.caption.text().endswith(f"column {column}")
        assert "page 1 of 2" in pane.caption.text()
        left, _top, right, _bottom = view.column
        assert right - left < view.image.width  # a strip beside the band labels
        assert view.image.width < view.image.height / 2  # not the page
        first = view.column
        pane.grab().save(str(tmp_path / "scan-pane.png"))
        pane.follow(issued, scans, "observations", 3)  # the next column: the strip moves right
        assert pane.view is not None and pane.view.column is not None
        assert pane.view.column[0] > first[0]
        on_page_2 = next(i for i, p in enumerate(places) if p.page == 2)
        pane.follow(issued, scans, "observations", on_page_2)
        assert pane.view is not None and pane.view.page == 2
        width, height = pane.shown_size()
        assert width > 0 and height > width  # a tall strip of the chart
        pane.follow(issued, scans, "patient", 0)  # not a chart column: the whole page
        assert pane.view is not None and pane.view.column is None


def test_the_keying_window_shows_the_scan_and_follows_the_cursor(
    qtbot: Any, sample_data_dir: Path, tmp_path: Path, keying_window: Any,
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    window = keying_window
    _print_and_scan(sample_data_dir, tmp_path)
    issued = _news2(sample_data_dir)
    window.clerk_edit.setFocus()
    qtbot.keyClicks(window.clerk_edit, "Ann Wyn")
    qtbot.keyClick(window.clerk_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(window.id_edit, issued.instance_id)
    qtbot.keyClick(window.id_edit, Qt.Key.Key_Return)
    assert window.session is not None, window.id_message.text()
    focused = QApplication.focusWidget()
    assert focused is window.field("observations", 0, "obs_time")

    def same_column_as_the_screen() -> bool:  # the pane says what the field says
        said = window.scan_pane.caption.text().rsplit(", ", 1)[-1]
        return said.startswith("column ") and said in focused.accessibleName()

    qtbot.waitUntil(same_column_as_the_screen)
    first = window.scan_pane.caption.text()
    focused = window.field("observations", 1, "resp_rate")
    focused.setFocus()
    qtbot.waitUntil(lambda: window.scan_pane.caption.text() != first)
    assert same_column_as_the_screen()
    assert window.scan_pane.view is not None and window.scan_pane.view.column is not None
    window.grab().save(str(tmp_path / "keying-with-scan.png"))


def test_a_clerk_attaches_an_unreadable_page_by_reading_its_id_off_the_image(
    qtbot: Any, sample_data_dir: Path, tmp_path: Path, keying_window: Any,
) -> None:
    from PySide6.QtCore import Qt

    torn = _print(sample_data_dir, tmp_path)[1]
    torn.paste(255, (torn.width * 2 // 3, 0, torn.width, torn.height // 6))  # QR torn off
    torn.save(tmp_path / "torn.png")
    _import(sample_data_dir, tmp_path / "torn.png")
    issued = _news2(sample_data_dir)
    keying_window.tabs.setCurrentIndex(2)
    queue = keying_window.scan_queue
    assert queue.pages.count() == 1 and "1 scanned page(s) waiting" in queue.summary.text()
    pixmap = queue.picture.pixmap()
    assert pixmap is not None and pixmap.height() > pixmap.width()  # the page is shown
    qtbot.keyClicks(queue.form_id, f"{issued.instance_id}/7")
    qtbot.keyClick(queue.form_id, Qt.Key.Key_Return)
    assert "not a page 7" in queue.message.text() and queue.pages.count() == 1
    queue.form_id.clear()
    qtbot.keyClicks(queue.form_id, f"{issued.instance_id}/2")
    qtbot.keyClick(queue.form_id, Qt.Key.Key_Return)
    assert queue.message.text() == f"Attached to {issued.instance_id}/2."
    assert queue.pages.count() == 0
    with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
        assert ScanStore(register.work).returned_pages() == {issued.instance_id: {2}}


def test_the_reconciliation_screen_says_which_pages_came_back(
    sample_data_dir: Path, tmp_path: Path, keying_window: Any,
) -> None:
    _print(sample_data_dir, tmp_path, "news2,mar")[0].save(tmp_path / "p1.png")
    _import(sample_data_dir, tmp_path / "p1.png")
    keying_window.tabs.setCurrentIndex(1)
    table = keying_window.reconciliation.instances
    cells = {table.item(r, 1).text(): table.item(r, 6).text() for r in range(table.rowCount())}
    assert cells["news2"] == "1/2 (page 2 missing)"
    assert cells["mar"] == "not scanned"
