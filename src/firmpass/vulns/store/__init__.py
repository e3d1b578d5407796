"""The local vulnerability store (SQLAlchemy 2; SQLite by default, schema kept portable for PostgreSQL).

Location: ``--db`` / ``ScanOptions.db_path``, else ``$FIRMPASS_DB``, else the user's data directory
(``$XDG_DATA_HOME/firmpass/vulns.db``, default ``~/.local/share/firmpass/vulns.db``).

Matching looks rows up by ``(vendor, product)`` (CPE criteria, CVE 5 and vendor advisories) or by
``(ecosystem, name)`` (OSV / PURL); both are indexed, so a lookup never scans the whole table.

The package: where the store is (store.location), its tables (store.tables), reading (store.queries),
writing (store.ingest) and the `Store` handle that joins them (store.database).  Callers import from here.
"""
from __future__ import annotations

from firmpass.vulns.store.database import Store, open_store
from firmpass.vulns.store.location import (SQLITE_MAGIC, check_db_file, db_errors, default_db_path, display_db,
                                           is_db_url, resolve_db_path)
from firmpass.vulns.store.queries import EXPLOIT_SOURCES, VulnView
from firmpass.vulns.store.tables import (AFFECTED_COLS, SCHEMA_VERSION, AffectedRow, Base, DistroFixRow, EpssRow,
                                         ExploitedRow, KevRow, MetaRow, SourceRow, TriageRow, VulnRow, affected_rows,
                                         dumps, now_iso)

__all__ = ["AFFECTED_COLS", "EXPLOIT_SOURCES", "SCHEMA_VERSION", "SQLITE_MAGIC", "AffectedRow", "Base", "DistroFixRow",
           "EpssRow", "ExploitedRow", "KevRow", "MetaRow", "SourceRow", "Store", "TriageRow", "VulnRow", "VulnView",
           "affected_rows", "check_db_file", "db_errors", "default_db_path", "display_db", "dumps", "is_db_url",
           "now_iso", "open_store", "resolve_db_path"]
