"""The vulnerability store's tables (SQLAlchemy 2 declarative, portable between SQLite and
PostgreSQL), its schema version, and the row helpers the importers use."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import JSON, Boolean, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from firmpass.vulns.versions import SORT_KEY_MAX, range_keys

# Stores made by an older firmpass are upgraded when opened (Store._upgrade); the version is kept
# in meta["schema_version"] (stores before 3 did not record it: it is inferred from their columns).
#   2: affected.keyed/key_lo/lo_incl/key_hi/hi_incl (the range as byte keys)
#   3: vuln.vendor_severity, vuln.cwes; table `exploited` (evidence of exploitation per CVE: CISA KEV
#      dateAdded, ENISA EUVD exploitedSince), filled from the KEV table on upgrade
SCHEMA_VERSION = 3


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second (import and decision times)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dumps(o: Any) -> str:
    """JSON as the store compares it: keys sorted, non-ASCII kept."""
    return json.dumps(o, ensure_ascii=False, sort_keys=True)


class Base(DeclarativeBase):
    """The store's tables."""


class SourceRow(Base):
    """One data source (nvd, kev, epss, vendor:curl ...): what was imported and when."""

    __tablename__ = "source"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    records: Mapped[int] = mapped_column(Integer, default=0)
    last_update: Mapped[str | None] = mapped_column(String(40))  # when firmpass imported it (UTC ISO)
    data_date: Mapped[str | None] = mapped_column(String(40))  # the data's own date when it states one
    origin: Mapped[str | None] = mapped_column(Text)  # file or URL
    cursor: Mapped[dict | None] = mapped_column(JSON)  # `db update` resume state


class VulnRow(Base):
    __tablename__ = "vuln"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))
    modified: Mapped[str | None] = mapped_column(String(40))
    cvss: Mapped[list | None] = mapped_column(JSON)  # [{version, vector, base_score, severity, source}]
    references: Mapped[list | None] = mapped_column(JSON)
    aliases: Mapped[list | None] = mapped_column(JSON)
    configs: Mapped[dict | None] = mapped_column(JSON)  # {source: [NVD configuration with >1 node]}
    sources: Mapped[list | None] = mapped_column(JSON)
    # the vendor's own qualitative rating, never a CVSS score: [{source, severity}] (curl: low..critical)
    vendor_severity: Mapped[list | None] = mapped_column(JSON)
    cwes: Mapped[list | None] = mapped_column(JSON)  # [{id: "CWE-122", name}] as the source names them


class AffectedRow(Base):
    """One applicability statement: a CPE criteria / product range, or a package range."""

    __tablename__ = "affected"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vuln_id: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # "cpe" | "pkg"
    vendor: Mapped[str | None] = mapped_column(String(128))
    product: Mapped[str | None] = mapped_column(String(128))
    ecosystem: Mapped[str | None] = mapped_column(String(64))  # lower-case base: "debian", "pypi" ...
    name: Mapped[str | None] = mapped_column(String(256))
    ecosystem_full: Mapped[str | None] = mapped_column(String(128))  # "Debian:12"
    scheme: Mapped[str | None] = mapped_column(String(32))  # univers scheme for the range, None = generic
    exact: Mapped[str | None] = mapped_column(String(128))
    start_incl: Mapped[str | None] = mapped_column(String(128))
    start_excl: Mapped[str | None] = mapped_column(String(128))
    end_incl: Mapped[str | None] = mapped_column(String(128))
    end_excl: Mapped[str | None] = mapped_column(String(128))
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=True)
    authority: Mapped[bool] = mapped_column(Boolean, default=False)  # the vendor's own advisory
    criteria: Mapped[str | None] = mapped_column(Text)
    config: Mapped[int] = mapped_column(Integer, default=-1)  # index into VulnRow.configs[source]; -1 = single node
    note: Mapped[str | None] = mapped_column(Text)
    # the range as byte keys (versions.range_keys, computed at import with the project's comparator)
    # so SQL can drop rows whose range does not hold the version; keyed false/NULL = compare in Python
    keyed: Mapped[bool | None] = mapped_column(Boolean)
    key_lo: Mapped[bytes | None] = mapped_column(LargeBinary(SORT_KEY_MAX))
    lo_incl: Mapped[bool | None] = mapped_column(Boolean)
    key_hi: Mapped[bytes | None] = mapped_column(LargeBinary(SORT_KEY_MAX))
    hi_incl: Mapped[bool | None] = mapped_column(Boolean)
    __table_args__ = (Index("ix_affected_cpe", "vendor", "product"), Index("ix_affected_pkg", "ecosystem", "name"),
                      Index("ix_affected_src", "source", "vuln_id"))


class KevRow(Base):
    __tablename__ = "kev"
    cve: Mapped[str] = mapped_column(String(64), primary_key=True)
    date_added: Mapped[str | None] = mapped_column(String(20))
    due_date: Mapped[str | None] = mapped_column(String(20))
    ransomware: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(Text)
    required_action: Mapped[str | None] = mapped_column(Text)


class ExploitedRow(Base):
    """Evidence that a vulnerability is exploited in the wild, one row per (vulnerability, source):
    CISA KEV (since = dateAdded) and ENISA EUVD (since = exploitedSince; ref = the EUVD id).
    Both count as "actively exploited" for EU CRA Art. 14."""

    __tablename__ = "exploited"
    cve: Mapped[str] = mapped_column(String(64), primary_key=True)  # the store's vulnerability id
    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # "cisa-kev" | "euvd"
    since: Mapped[str | None] = mapped_column(String(40))  # ISO date (or date-time) the source gives
    ref: Mapped[str | None] = mapped_column(String(64))


class EpssRow(Base):
    __tablename__ = "epss"
    cve: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float | None] = mapped_column(Float)
    date: Mapped[str | None] = mapped_column(String(20))


class DistroFixRow(Base):
    """Debian security tracker: source package -> CVE -> fixed version per release."""

    __tablename__ = "distro_fix"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    distro: Mapped[str] = mapped_column(String(32))
    release: Mapped[str] = mapped_column(String(32))
    package: Mapped[str] = mapped_column(String(128))
    vuln_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    fixed_version: Mapped[str | None] = mapped_column(String(128))
    urgency: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_distro_fix", "distro", "package", "vuln_id"),)


class TriageRow(Base):
    """A user's VEX decision, keyed by (vulnerability, product without version) so it sticks across
    rescans and firmware versions."""

    __tablename__ = "triage"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vuln_id: Mapped[str] = mapped_column(String(64))
    product: Mapped[str] = mapped_column(String(256))  # purl without version/qualifiers, or lower-case name
    state: Mapped[str] = mapped_column(String(32))
    justification: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(Text)
    recorded: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (UniqueConstraint("vuln_id", "product", name="uq_triage"),)


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)


def sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    """A SQLite connection in WAL mode (readers do not block the writer)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


AFFECTED_COLS = ("vuln_id", "source", "kind", "vendor", "product", "ecosystem", "name", "ecosystem_full", "scheme",
                 "exact", "start_incl", "start_excl", "end_incl", "end_excl", "vulnerable", "authority", "criteria",
                 "config", "note")
_AFFECTED_DEFAULTS = {"vulnerable": True, "authority": False, "config": -1}


def affected_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Row dicts ready to insert into `affected`: defaults filled and the range keys computed."""
    out = []
    for a in rows:
        d = {c: a.get(c, _AFFECTED_DEFAULTS.get(c)) for c in AFFECTED_COLS}
        d.update(range_keys(d["exact"], d["start_incl"], d["start_excl"], d["end_incl"], d["end_excl"], d["scheme"]))
        out.append(d)
    return out
