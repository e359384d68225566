"""The PySide6 desktop app: windows, dialogs and Qt models over the core (no logic here)."""
