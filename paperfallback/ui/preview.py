"""Look before printing: the rendered pack in QtPdf, with page thumbnails and zoom.

The PDF stays in memory (a QBuffer), never in a temporary file: it holds patient data.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QSize, QTimer
from PySide6.QtGui import QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from paperfallback.ui.banners import DowntimeBanner
from paperfallback.ui.screen_fit import fit_window

THUMB_WIDTH_PX = 110
THUMBS_PER_TICK = 8
ZOOM_STEP = 1.25


def load_pdf(pdf: bytes, parent: QWidget | None = None) -> tuple[QPdfDocument, QBuffer]:
    """A QPdfDocument over bytes in memory; keep the buffer alive as long as the document."""
    buffer = QBuffer(parent)
    buffer.setData(QByteArray(pdf))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument(parent)
    document.load(buffer)
    return document, buffer


class PreviewDialog(QDialog):
    """Shows a rendered pack; Print… and Save PDF… call back to whoever rendered it."""

    def __init__(self, parent: QWidget | None, *, title: str, pdf: bytes,
                 on_print: Callable[[QWidget], None],
                 on_save: Callable[[QWidget], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Preview — {title} — DOWNTIME COPY")
        fit_window(self, preferred=QSize(1100, 820))  # a 1366×768 screen: less tall
        self.document, self._buffer = load_pdf(pdf, self)
        self._next_thumb = 0

        self.view = QPdfView(self)
        self.view.setDocument(self.document)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.setToolTip("The pages exactly as they will print. Scroll or use Page Up/Down.")

        self.thumbs = QListWidget(self)
        self.thumbs.setViewMode(QListView.ViewMode.ListMode)
        self.thumbs.setMovement(QListView.Movement.Static)
        self.thumbs.setIconSize(QSize(THUMB_WIDTH_PX, int(THUMB_WIDTH_PX * 1.42)))
        self.thumbs.setSpacing(3)
        self.thumbs.setFixedWidth(THUMB_WIDTH_PX + 70)
        self.thumbs.setToolTip("Page thumbnails: choose one to jump to that page.")
        for page in range(self.document.pageCount()):
            item = QListWidgetItem(f"{page + 1}")
            self.thumbs.addItem(item)
        self.thumbs.currentRowChanged.connect(self.go_to_page)

        self.page_label = QLabel(self)
        self.zoom_in_button = QPushButton("Zoom &in", self)
        self.zoom_out_button = QPushButton("Zoom &out", self)
        self.fit_button = QPushButton("&Fit width", self)
        self.print_button = QPushButton("&Print…", self)
        self.save_button = QPushButton("&Save PDF…", self)
        self.close_button = QPushButton("Close", self)
        self.zoom_in_button.setToolTip("Make the page bigger (Ctrl+=)")
        self.zoom_out_button.setToolTip("Make the page smaller (Ctrl+-)")
        self.fit_button.setToolTip("Fit the page to the window width (Ctrl+0)")
        self.print_button.setToolTip("Choose a printer and print these pages (Ctrl+P)")
        self.save_button.setToolTip("Save these pages as a PDF file, e.g. to print elsewhere")
        self.close_button.setToolTip("Close the preview without printing (Escape)")
        self.print_button.setDefault(True)
        self.zoom_in_button.clicked.connect(lambda: self.zoom(ZOOM_STEP))
        self.zoom_out_button.clicked.connect(lambda: self.zoom(1 / ZOOM_STEP))
        self.fit_button.clicked.connect(self.fit_width)
        self.print_button.clicked.connect(lambda: on_print(self))
        self.save_button.clicked.connect(lambda: on_save(self))
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.ZoomIn, self, activated=self.zoom_in_button.click)
        QShortcut(QKeySequence("Ctrl+="), self, activated=self.zoom_in_button.click)
        QShortcut(QKeySequence.StandardKey.ZoomOut, self, activated=self.zoom_out_button.click)
        QShortcut(QKeySequence("Ctrl+0"), self, activated=self.fit_button.click)
        QShortcut(QKeySequence.StandardKey.Print, self, activated=self.print_button.click)

        buttons = QHBoxLayout()
        for button in (self.zoom_out_button, self.zoom_in_button, self.fit_button):
            buttons.addWidget(button)
        buttons.addWidget(self.page_label)
        buttons.addStretch(1)
        for button in (self.save_button, self.print_button, self.close_button):
            buttons.addWidget(button)
        splitter = QSplitter(self)
        splitter.addWidget(self.thumbs)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(DowntimeBanner(self))
        layout.addWidget(splitter, 1)
        inner = QWidget(self)
        inner.setLayout(buttons)
        layout.addWidget(inner)

        self.view.pageNavigator().currentPageChanged.connect(self._page_changed)
        self._page_changed(0)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._render_some_thumbnails)
        self._thumb_timer.start()
        self.print_button.setFocus()

    @property
    def page_count(self) -> int:
        return self.document.pageCount()

    def thumbnails_done(self) -> bool:
        return self._next_thumb >= self.page_count

    def _render_some_thumbnails(self) -> None:
        """A few thumbnails per event-loop turn, so a 250-page pack never freezes the UI."""
        end = min(self._next_thumb + THUMBS_PER_TICK, self.page_count)
        for page in range(self._next_thumb, end):
            size = self.document.pagePointSize(page)
            height = int(THUMB_WIDTH_PX * size.height() / max(size.width(), 1))
            image = self.document.render(page, QSize(THUMB_WIDTH_PX, height))
            self.thumbs.item(page).setIcon(QIcon(QPixmap.fromImage(image)))
        self._next_thumb = end
        if self.thumbnails_done():
            self._thumb_timer.stop()

    def go_to_page(self, page: int) -> None:
        if 0 <= page < self.page_count:
            self.view.pageNavigator().jump(page, QPointF(), self.view.zoomFactor())

    def _page_changed(self, page: int) -> None:
        self.page_label.setText(f"  Page {page + 1} of {self.page_count}")
        if self.thumbs.currentRow() != page:
            self.thumbs.blockSignals(True)
            self.thumbs.setCurrentRow(page)
            self.thumbs.blockSignals(False)

    def zoom(self, factor: float) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.Custom)
        self.view.setZoomFactor(max(0.2, min(5.0, self.view.zoomFactor() * factor)))

    def fit_width(self) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)

    def done(self, result: int) -> None:
        self._thumb_timer.stop()
        super().done(result)
