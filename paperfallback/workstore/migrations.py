"""The schema of ``work.db``, as forward migrations: one place for every table in it.

``PRAGMA user_version`` holds the version a file has reached. Each migration runs once, in
one transaction with the new version number, so a file is always at one version or the
next, never half-way. A ``work.db`` written before versions existed (version 0) already
holds some or all of the version 1 tables (each feature used to create its own), hence
``IF NOT EXISTS`` in version 1 only. Add a migration at the end; never edit a released one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    what: str
    sql: str


_V1_REGISTER = """
CREATE TABLE IF NOT EXISTS id_counters (series TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS issued_forms (
    instance_id TEXT PRIMARY KEY, form_id TEXT NOT NULL, patient_id TEXT,
    printed_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issued_forms_patient ON issued_forms (patient_id, form_id);
CREATE INDEX IF NOT EXISTS issued_forms_printed ON issued_forms (printed_at);
"""

_V1_ENTRIES = """
CREATE TABLE IF NOT EXISTS entries (
    instance_id TEXT NOT NULL, pass TEXT NOT NULL, section TEXT NOT NULL,
    idx INTEGER NOT NULL, field_id TEXT NOT NULL,
    value TEXT, state TEXT NOT NULL, keyed_by TEXT NOT NULL, keyed_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (instance_id, pass, section, idx, field_id)
);
CREATE TABLE IF NOT EXISTS entry_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL, pass TEXT NOT NULL, section TEXT NOT NULL,
    idx INTEGER NOT NULL, field_id TEXT NOT NULL,
    old_value TEXT, old_state TEXT, new_value TEXT, new_state TEXT NOT NULL,
    changed_by TEXT NOT NULL, changed_at TEXT NOT NULL, source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entry_audit_instance ON entry_audit (instance_id);
CREATE TABLE IF NOT EXISTS entry_instances (
    instance_id TEXT PRIMARY KEY, form_id TEXT NOT NULL, status TEXT NOT NULL,
    double_entry INTEGER, patient_id TEXT, patient_match TEXT NOT NULL DEFAULT '',
    first_clerk TEXT NOT NULL DEFAULT '', second_clerk TEXT NOT NULL DEFAULT '',
    resolved_by TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL, exported_at TEXT,
    first_done_at TEXT, second_done_at TEXT
);
CREATE TABLE IF NOT EXISTS entry_discrepancies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    instance_id TEXT NOT NULL, section TEXT NOT NULL, idx INTEGER NOT NULL,
    field_id TEXT NOT NULL, detail TEXT NOT NULL, is_open INTEGER NOT NULL,
    raised_at TEXT NOT NULL, closed_at TEXT, closed_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, instance_id, section, idx, field_id)
);
CREATE TABLE IF NOT EXISTS entry_downtime_patients (
    downtime_number TEXT PRIMARY KEY, instance_id TEXT NOT NULL, nhs_number TEXT,
    hospital_number TEXT, family TEXT NOT NULL, given TEXT NOT NULL, birth_date TEXT,
    sex TEXT NOT NULL DEFAULT 'unknown', recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL
);
"""

_V1_EXPORT = """
CREATE TABLE IF NOT EXISTS export_units (
    format TEXT NOT NULL, unit_key TEXT NOT NULL, instance_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL, revised INTEGER NOT NULL DEFAULT 0,
    resources TEXT NOT NULL DEFAULT '{}', export_id TEXT NOT NULL, exported_at TEXT NOT NULL,
    PRIMARY KEY (format, unit_key)
);
CREATE TABLE IF NOT EXISTS export_forms (
    format TEXT NOT NULL, instance_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (format, instance_id)
);
CREATE TABLE IF NOT EXISTS export_runs (
    export_id TEXT PRIMARY KEY, format TEXT NOT NULL, exported_at TEXT NOT NULL,
    all_entries INTEGER NOT NULL, out TEXT NOT NULL, units INTEGER NOT NULL,
    resources INTEGER NOT NULL
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the register, keyed entries and export state (as before versions)",
              _V1_REGISTER + _V1_ENTRIES + _V1_EXPORT),
    Migration(2, "work store facts (when each migration ran)", """
CREATE TABLE work_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO work_meta VALUES ('schema_2_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
"""),
    Migration(3, "what export --to sent to the EPR, entry by entry (export.send_state)", """
CREATE TABLE IF NOT EXISTS send_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL, full_url TEXT NOT NULL, unit_key TEXT NOT NULL,
    instance_id TEXT NOT NULL, form_id TEXT NOT NULL, resource_type TEXT NOT NULL,
    method TEXT NOT NULL, url TEXT NOT NULL, entry BLOB NOT NULL, digest TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    http_status TEXT NOT NULL DEFAULT '', location TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '', queued_at TEXT NOT NULL, answered_at TEXT
);
CREATE INDEX IF NOT EXISTS send_entries_by_url ON send_entries (target, full_url);
CREATE INDEX IF NOT EXISTS send_entries_by_state ON send_entries (target, state);
"""),
    Migration(4, "scanned page images (scan.store)", """
CREATE TABLE IF NOT EXISTS scanned_pages (
    id INTEGER PRIMARY KEY,
    form_id TEXT,             -- instance ID, NULL while queued
    page INTEGER,
    status TEXT NOT NULL,     -- identified | queued | not-in-register
    source TEXT NOT NULL,
    source_index INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '',
    image BLOB NOT NULL,
    purged_at TEXT  -- the image was removed under the retention rule; the row stays
);
CREATE UNIQUE INDEX IF NOT EXISTS scanned_pages_attached
    ON scanned_pages (form_id, page) WHERE status = 'identified';
CREATE INDEX IF NOT EXISTS scanned_pages_status ON scanned_pages (status);
"""),
    Migration(5, "workbook rows imported unchanged (reentry.workbook_rows)", """
CREATE TABLE IF NOT EXISTS workbook_rows (
    row_hash TEXT PRIMARY KEY,  -- the row's cells and everything that reads them
    instance_id TEXT NOT NULL,  -- '' for a row that imports nothing
    pass TEXT NOT NULL,
    section TEXT NOT NULL,
    idx INTEGER NOT NULL,
    counted INTEGER NOT NULL,   -- the row saved values (counts as an imported row)
    audit_max INTEGER NOT NULL, -- entry_audit id when it was recorded: later edits void it
    marked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workbook_rows_paper ON workbook_rows (instance_id, pass, section);
"""),
    Migration(6, "a unit's queued send entries found by their unit (export.send_state)", """
CREATE INDEX IF NOT EXISTS send_entries_by_unit
    ON send_entries (target, state, unit_key, resource_type);
"""),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
