"""The two strips at the top of every window: the permanent "downtime copy" marker and
the cache status, which turns into a red warning when the data is stale."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from paperfallback.cache.ward_summary import CacheBanner, CacheLevel

DOWNTIME_TEXT = (
    "DOWNTIME COPY — NOT THE LIVE PATIENT RECORD.  For printing paper forms while the EPR "
    "is unavailable."
)


class DowntimeBanner(QLabel):
    """Always shown, never hidden: the window must not be mistaken for the live EPR."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(DOWNTIME_TEXT, parent)
        self.setObjectName("downtimeBanner")
        self.setWordWrap(True)
        self.setToolTip(
            "PaperFallback shows a copy of the EPR taken earlier. It is not updated while "
            "the EPR is down. Always check the patient and the paper records."
        )
        self.setAccessibleName("Downtime copy warning")


def downtime_dialog_body(dialog: QWidget) -> QVBoxLayout:
    """Lay out a dialog as every PaperFallback dialog is: the downtime marker across the
    top, then a padded body, which is returned for the dialog's own widgets."""
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(0, 0, 0, 10)
    layout.addWidget(DowntimeBanner(dialog))
    body = QVBoxLayout()
    body.setContentsMargins(12, 8, 12, 0)
    layout.addLayout(body)
    return body


class CacheStatusBanner(QFrame):
    """'Data as of 14:05 (12 minutes ago)' — or 'STALE DATA — last updated 3 hours ago'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cacheBanner")
        self.headline = QLabel(self)
        self.headline.setObjectName("cacheHeadline")
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel(self)
        self.detail.setObjectName("cacheDetail")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(2)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        self.level = CacheLevel.NONE

    def show_banner(self, banner: CacheBanner, *, problem: bool = False) -> None:
        """Show ``banner``; ``problem`` (the cache cannot be opened) shows it in red."""
        self.level = banner.level
        self.headline.setText(banner.headline)
        self.detail.setText(banner.detail)
        self.setToolTip(
            "How old the patient data on this PC is. It is copied from the EPR regularly; "
            "when it is too old the strip turns red."
        )
        self.setAccessibleName(f"{banner.headline}. {banner.detail}")
        self.setProperty("level", "problem" if problem else banner.level.value)
        self.style().unpolish(self)
        self.style().polish(self)
        for label in (self.headline, self.detail):
            label.style().unpolish(label)
            label.style().polish(label)
