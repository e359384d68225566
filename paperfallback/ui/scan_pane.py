"""The returned page beside the keying fields, zoomed to the column being keyed.

A thin view over ``paperfallback.scan.view.page_view``: the core decides which page and
which part of it; this widget only shows the picture and its caption.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from paperfallback.register.store import IssuedForm
from paperfallback.scan.store import ScanStore
from paperfallback.scan.view import Memo, PageView, page_view

NO_SCAN = "No scan of this form yet: key from the paper."


class ScanPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(NO_SCAN)
        self.caption.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        self.picture.setAccessibleName("Scanned page")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.picture)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 1)
        self.view: PageView | None = None
        self._shown: tuple[str, str, int, str] | None = None
        self._memo: Memo = {}  # the form's pages, decoded and lined up once
        self._memo_form = ""

    def follow(self, issued: IssuedForm | None, scans: ScanStore | None, section: str,
               index: int, field: str = "", where: str = "") -> None:
        """Show the part of the returned page for this field: a chart's column, a table's
        row, a box (cheap when unchanged; each page is decoded once per form)."""
        form = issued.instance_id if issued else ""
        key = (form, section, index, field)
        if key == self._shown:
            return
        self._shown = key
        if form != self._memo_form:
            self._memo, self._memo_form = {}, form
        view = page_view(issued, scans, section, index, field=field, where=where,
                         memo=self._memo) if issued and scans else None
        if view is not None and self.view is not None and view.column is not None \
                and view.column == self.view.column and view.caption == self.view.caption:
            return  # another field of the same chart column: the same picture
        self.show_view(view)

    def show_view(self, view: PageView | None) -> None:
        self.view = view
        if view is None:
            self.caption.setText(NO_SCAN)
            self.picture.clear()
            return
        self.caption.setText(view.caption)
        part = view.image
        data = part.tobytes()
        image = QImage(data, part.width, part.height, part.width,
                       QImage.Format.Format_Grayscale8).copy()
        width = max(200, self.width() - 24)
        pixmap = QPixmap.fromImage(image)
        if view.part is not None:  # a row or a box: fit the pane's width, enlarged at most 2x
            pixmap = pixmap.scaledToWidth(min(width, 2 * pixmap.width()),
                                          Qt.TransformationMode.SmoothTransformation)
        elif pixmap.width() > width * 2:
            pixmap = pixmap.scaledToWidth(width * 2, Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(pixmap)

    def shown_size(self) -> tuple[int, int]:
        pixmap: Any = self.picture.pixmap()
        return (pixmap.width(), pixmap.height()) if pixmap is not None else (0, 0)
