"""Scanned pages waiting for a person: the clerk reads the form ID off the image and types
it (or scans the page's QR with a handheld scanner if only the image was unreadable).

A thin view: the queue, the checks and the attaching are the core's (scan.intake)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.scan.intake import assign_page
from paperfallback.scan.store import ScanStore

EMPTY = "No scanned pages are waiting: every page was identified by its code."


class ScanQueueView(QWidget):
    def __init__(self, open_stores: Callable[[], tuple[Any, ScanStore]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._open_stores = open_stores
        self.summary = QLabel(EMPTY, self)
        self.pages = QListWidget(self)
        self.pages.setObjectName("scanQueue")
        self.pages.currentRowChanged.connect(self._show)
        self.picture = QLabel(self)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.picture)
        self.form_id = QLineEdit(self)
        self.form_id.setObjectName("queueFormId")
        self.form_id.setPlaceholderText("Form ID and page read off the image, e.g. Q76-00003-M/2")
        self.form_id.returnPressed.connect(self.attach)
        self.attach_button = QPushButton("&Attach to this form page", self)
        self.attach_button.clicked.connect(self.attach)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.pages, 1)
        row = QHBoxLayout()
        row.addWidget(self.form_id, 1)
        row.addWidget(self.attach_button)
        left.addLayout(row)
        left.addWidget(self.message)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addWidget(scroll, 3)

    def refresh(self) -> None:
        _register, store = self._open_stores()
        waiting = store.queued()
        self.pages.clear()
        for page in waiting:
            code = (f" — code {page.form_id}/{page.page} not in this PC's register"
                    if page.form_id else " — no readable code")
            item = QListWidgetItem(f"{page.source.rsplit('/', 1)[-1]} page {page.source_index}"
                                   f"{code}")
            item.setData(Qt.ItemDataRole.UserRole, page.id)
            self.pages.addItem(item)
        self.summary.setText(f"{len(waiting)} scanned page(s) waiting to be identified"
                             if waiting else EMPTY)
        if waiting:
            self.pages.setCurrentRow(0)
        else:
            self.picture.clear()

    def _selected(self) -> int | None:
        item = self.pages.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _show(self, _row: int) -> None:
        page_id = self._selected()
        if page_id is None:
            return
        _register, store = self._open_stores()
        image = Image.open(io.BytesIO(store.image(page_id))).convert("L")
        image.thumbnail((900, 1300))
        picture = QImage(image.tobytes(), image.width, image.height, image.width,
                         QImage.Format.Format_Grayscale8).copy()
        self.picture.setPixmap(QPixmap.fromImage(picture))
        self.form_id.setFocus()

    def attach(self) -> None:
        page_id = self._selected()
        if page_id is None:
            return
        register, store = self._open_stores()
        try:
            where = assign_page(page_id, self.form_id.text(), register, store)
        except PaperFallbackError as exc:
            self.message.setStyleSheet("color: #b00020;")
            self.message.setText(str(exc))
            self.form_id.selectAll()
            return
        self.message.setStyleSheet("color: #006747;")
        self.message.setText(f"Attached to {where}.")
        self.form_id.clear()
        self.refresh()
