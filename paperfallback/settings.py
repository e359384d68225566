"""Site, ward and PC identity, data folder, and the cache key.

Settings live in ``settings.json`` in the data folder so trust IT can push one file per
PC (see docs/install.md). Unknown keys are kept on save so a newer IT template is not
truncated by an older app.

Data folder: ``--data-dir``, else ``PAPERFALLBACK_DATA_DIR``, else platformdirs'
per-user data dir for "PaperFallback".
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from paperfallback.domain.errors import InputError, WrongKey
from paperfallback.domain.terminology import LOCAL_PATIENT_ID_SYSTEM as LOCAL_PATIENT_ID_SYSTEM

APP_NAME = "PaperFallback"
SETTINGS_FILE = "settings.json"
KEY_FILE = "cache.key"
KEYRING_SERVICE = "PaperFallback cache"
DEFAULT_FORMS = ("handover", "news2", "mar", "fluid-balance")


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data folder: explicit argument, environment, then platformdirs."""
    chosen = explicit or os.environ.get("PAPERFALLBACK_DATA_DIR")
    path = Path(chosen) if chosen else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # private when we create it
    return path


def loose_permissions(folder: Path, *, read_acl: Callable[[Path], str] | None = None
                      ) -> tuple[list[str], list[str]]:
    """(faults, warnings) about who else can read the data folder: POSIX modes, or on
    Windows the ACLs ``icacls`` lists (docs/install.md section 3). A key file others can
    read is a fault: with it any local user decrypts every patient in the cache.
    ``read_acl`` reads a path's ACL as icacls prints it (tests pass recorded output)."""
    if os.name == "nt" or read_acl is not None:
        return _loose_acls(folder, read_acl or _icacls)
    faults, warnings = [], []
    key_path = folder / KEY_FILE
    if key_path.exists() and key_path.stat().st_mode & 0o077:
        faults.append(f"the key file {key_path} can be read by other users "
                      f"(mode {stat.S_IMODE(key_path.stat().st_mode):04o}; run chmod 600)")
    for name in ("cache.db", "work.db", "blank-ids.json", "key.check"):
        path = folder / name
        if path.exists() and path.stat().st_mode & 0o077:
            warnings.append(f"{name} mode {stat.S_IMODE(path.stat().st_mode):04o}")
    if folder.stat().st_mode & 0o077:
        warnings.append(f"the data folder mode {stat.S_IMODE(folder.stat().st_mode):04o}")
    return faults, warnings


# Groups that hold every local account: an allow entry for them lets any user of the ward
# PC read the files (Windows well-known SIDs, as icacls names them).
BROAD_GROUPS = ("Everyone", "BUILTIN\\Users", "NT AUTHORITY\\Authenticated Users",
                "NT AUTHORITY\\INTERACTIVE")
_ACE = re.compile(r"(" + "|".join(map(re.escape, BROAD_GROUPS)) + r"):((?:\([A-Z,]+\))+)")
_READ_RIGHTS = {"F", "M", "RX", "R", "GR", "GA", "RD"}


def broad_read_entries(icacls_output: str) -> list[str]:
    """The allow entries of an ``icacls`` listing that let a broad group read."""
    found = []
    for group, rights in _ACE.findall(icacls_output):
        flags = set(re.findall(r"[A-Z]+", rights))
        if "DENY" not in flags and flags & _READ_RIGHTS:
            found.append(f"{group}:{rights}")
    return found


def _icacls(path: Path) -> str:
    import subprocess  # Windows self-test only: not on every command's start-up path

    try:
        done = subprocess.run(["icacls", str(path)], capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def _loose_acls(folder: Path, read_acl: Callable[[Path], str]) -> tuple[list[str], list[str]]:
    faults, warnings = [], []
    key_path = folder / KEY_FILE
    if key_path.exists():
        broad = broad_read_entries(read_acl(key_path))
        if broad:
            faults.append(f"the key file {key_path} can be read by other users "
                          f"({', '.join(broad)}; remove them: docs/install.md section 3)")
    for path in (folder, *(folder / n for n in ("cache.db", "work.db", "key.check"))):
        if path.exists():
            broad = broad_read_entries(read_acl(path))
            if broad:
                warnings.append(f"{path.name} readable by {', '.join(broad)}")
    return faults, warnings


@dataclass
class Settings:
    site_code: str = "DEMO"
    ward: str = ""  # this PC's own ward (code or name); "" = all wards
    pc_id: str = field(default_factory=lambda: platform.node()[:32] or "PC")
    # Short code IT assigns to each PC, unique within the site: it makes form-instance IDs
    # and downtime numbers unique across PCs without a network. "" = derived from pc_id.
    pc_code: str = ""
    stale_minutes: int = 60
    max_patient_drop_share: float = 0.5
    default_forms: list[str] = field(default_factory=lambda: list(DEFAULT_FORMS))
    ward_forms: dict[str, list[str]] = field(default_factory=dict)  # ward code -> forms
    default_printer: str = ""
    refresh_source: str = ""
    hospital_number_systems: list[str] = field(
        default_factory=lambda: [LOCAL_PATIENT_ID_SYSTEM]
    )
    entry_window_hours: int = 24
    double_entry_forms: list[str] = field(default_factory=list)  # form ids keyed twice, blind
    ward_printers: dict[str, str] = field(default_factory=dict)  # ward code -> printer name
    export_base_url: str = "https://paperfallback.example.nhs.uk"  # identifier systems' base
    refresh_token_env: str = "PAPERFALLBACK_REFRESH_TOKEN"  # env var holding the bearer token
    refresh_token: str = ""  # discouraged: plaintext in settings.json
    refresh_timeout_minutes: int = 10
    # SMART Backend Services (docs/install.md): client id registered with the EPR, the PC's
    # private key file (PEM or JWKS, private to this user), its key id, the scope asked for.
    refresh_client_id: str = ""
    refresh_private_key: str = ""
    refresh_key_id: str = ""
    refresh_scope: str = "system/*.read"
    refresh_max_download_mb: int = 2048  # per downloaded Bulk Data file
    # export --to URL (docs/export.md, docs/install.md): SMART Backend Services client; an
    # empty client id, key or key id falls back to the refresh_* one
    export_to_url: str = ""  # the EPR's FHIR base URL the app's Export dialog sends to
    export_client_id: str = ""
    export_private_key: str = ""
    export_key_id: str = ""
    export_scope: str = "system/*.write"
    export_token_env: str = "PAPERFALLBACK_EXPORT_TOKEN"  # else a bearer token IT issued
    export_chunk_size: int = 100  # entries per transaction Bundle
    export_conditional_references: bool = False  # Patient?identifier=... for such servers
    export_timeout_seconds: int = 120
    # Folders of site forms (*.yaml) IT adds to the bundled ones; relative to the data folder.
    form_dirs: list[str] = field(default_factory=list)
    # Scan-back: days a returned page's image is kept once its form has been exported
    # (the image itself is then in the EPR, or the keyed values are); 0 keeps them.
    scan_retention_days: int = 30
    # Scanned pages filed to the EPR as DocumentReferences by the FHIR export and
    # export --to: "unkeyed" (only forms nobody has started keying), "all" or "none".
    export_scans: str = "unkeyed"
    extra: dict[str, Any] = field(default_factory=dict)

    def forms_for_ward(self, ward_code: str | None) -> list[str]:
        if ward_code:
            for key, forms in self.ward_forms.items():
                if key.casefold() == ward_code.casefold():
                    return list(forms)
        return list(self.default_forms)

    @classmethod
    def load(cls, folder: Path) -> Settings:
        path = folder / SETTINGS_FILE
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read settings: {exc}", where=str(path)) from exc
        if not isinstance(raw, dict):
            raise InputError("settings must be a JSON object", where=str(path))
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        settings = cls()
        for key, value in raw.items():
            if key not in known:
                settings.extra[key] = value
                continue
            default = getattr(settings, key)
            int_for_float = isinstance(default, float) and isinstance(value, int)
            if not isinstance(value, type(default)) and not int_for_float:
                raise InputError(
                    f"setting {key!r} must be {type(default).__name__}, "
                    f"not {type(value).__name__}",
                    where=str(path),
                )
            setattr(settings, key, value)
        if settings.export_chunk_size <= 0:
            raise InputError("setting 'export_chunk_size' must be positive", where=str(path))
        if settings.stale_minutes <= 0:
            raise InputError("setting 'stale_minutes' must be positive", where=str(path))
        if not 0 < settings.max_patient_drop_share <= 1:
            raise InputError(
                "setting 'max_patient_drop_share' must be between 0 and 1", where=str(path)
            )
        return settings

    def save(self, folder: Path) -> None:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        path = folder / SETTINGS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


ENCRYPTED_FILES = ("cache.db", "work.db")


class KeyUnavailable(WrongKey):
    """No key could be found or created (a lost keyring entry, another Windows user)."""


def cache_key(folder: Path, *, create: bool = True) -> tuple[str, str]:
    """Return (key, where it came from) for the encrypted stores.

    Order: ``PAPERFALLBACK_KEY`` (tests, CI, IT scripts), the OS keyring, then a per-install
    key file readable only by this user. The key file protects a copied cache file on its
    own (e.g. a backup or a disk image without the profile) but not against someone who can
    read this user's profile; the keyring is preferred where a backend exists.
    """
    env = os.environ.get("PAPERFALLBACK_KEY")
    if env:
        return env, "PAPERFALLBACK_KEY"
    account = str(folder.resolve())
    keyring_key = _keyring_get(account)
    if keyring_key:
        return keyring_key, "keyring"
    key_path = folder / KEY_FILE
    if key_path.exists():
        return key_path.read_text(encoding="ascii").strip(), str(key_path)
    if not create:
        raise KeyUnavailable("no cache key: set PAPERFALLBACK_KEY or import a cache first")
    existing = [name for name in ENCRYPTED_FILES if (folder / name).exists()]
    if existing:
        # A new key would never open them, and a store made under it would lock the right
        # key out later (issue #12): the key was lost, so say so and create nothing.
        raise KeyUnavailable(
            f"no key for the encrypted files in {folder} ({', '.join(existing)}): the key in "
            "the Windows Credential Manager (or keyring) is missing for this user, or "
            "PAPERFALLBACK_KEY is not set; nothing was changed; blank forms still print")
    key = secrets.token_hex(32)
    if _keyring_set(account, key):
        return key, "keyring"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key, str(key_path)


def _keyring_get(account: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(KEYRING_SERVICE, account)
        except (KeyringError, RuntimeError):
            return None
        return value if isinstance(value, str) else None
    except Exception:  # a broken keyring backend must never stop a ward printing
        return None


def _keyring_set(account: str, key: str) -> bool:
    try:
        import keyring
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            return False
        keyring.set_password(KEYRING_SERVICE, account, key)
        return True
    except Exception:
        return False
