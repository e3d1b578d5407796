"""The local vulnerability store (SQLAlchemy 2; SQLite by default, schema kept portable for PostgreSQL).

Location: ``--db`` / ``ScanOptions.db_path``, else ``$FIRMPASS_DB``, else the user's data directory
(``$XDG_DATA_HOME/firmpass/vulns.db``, default ``~/.local/share/firmpass/vulns.db``).

Matching looks rows up by ``(vendor, product)`` (CPE criteria, CVE 5 and vendor advisories) or by
``(ecosystem, name)`` (OSV / PURL); both are indexed, so a lookup never scans the whole table.
"""
from __future__ import annotations

import json
import contextlib
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from sqlalchemy import (JSON, Boolean, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint, and_,
                        bindparam, create_engine, delete, event, func, inspect, literal, or_, select, tuple_,
                        type_coerce, update)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from firmpass.vulns.versions import SORT_KEY_MAX, range_keys

# Stores made by an older firmpass are upgraded when opened (Store._upgrade); the version is kept
# in meta["schema_version"] (stores before 3 did not record it: it is inferred from their columns).
#   2: affected.keyed/key_lo/lo_incl/key_hi/hi_incl (the range as byte keys)
#   3: vuln.vendor_severity, vuln.cwes; table `exploited` (evidence of exploitation per CVE: CISA KEV
#      dateAdded, ENISA EUVD exploitedSince), filled from the KEV table on upgrade
SCHEMA_VERSION = 3


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def is_db_url(spec: object) -> bool:
    """A store given as an SQLAlchemy URL (postgresql+psycopg://user@host/db) rather than a file."""
    return isinstance(spec, str) and bool(_URL_RE.match(spec))


def default_db_path() -> Path | str:
    env = os.environ.get("FIRMPASS_DB")
    if env:
        return env if is_db_url(env) else Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "firmpass" / "vulns.db"


def resolve_db_path(explicit: Path | str | None = None) -> Path | str:
    """The store to use: `explicit` (a file path or a database URL), else $FIRMPASS_DB, else the
    user's data directory.  URLs come back as strings, files as Paths."""
    if explicit and is_db_url(explicit):
        return str(explicit)
    return Path(explicit).expanduser() if explicit else default_db_path()


SQLITE_MAGIC = b"SQLite format 3\x00"


def display_db(spec: Path | str) -> str:
    """A store for messages and findings.json: the file path, or the URL with any password hidden."""
    if is_db_url(spec):
        from sqlalchemy.engine import make_url

        try:
            return make_url(str(spec)).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only
            return str(spec).split("://", 1)[0] + "://..."
    return str(spec)


@contextlib.contextmanager
def db_errors(spec: Path | str):
    """Any failure of the database itself (unreachable server, damaged or foreign file, locked file)
    inside the block becomes UnusableInput('err.bad_db') with one line; our own errors pass through."""
    from firmpass.errors import FirmpassError, UnusableInput
    from firmpass.i18n import exc_detail

    try:
        yield
    except FirmpassError:
        raise
    except Exception as e:  # noqa: BLE001 - SQLAlchemy / driver errors of every kind
        raise UnusableInput("err.bad_db", path=display_db(spec), detail=exc_detail(e)) from None


def open_store(spec: Path | str | None = None, existing: bool = False) -> "Store | None":
    """The store named by `spec` (file, URL, or the default), checked and opened with one-line errors.
    existing=True: None when a file store does not exist yet (reading commands, the scan)."""
    p = resolve_db_path(spec)
    check_db_file(p)
    with db_errors(p):
        return Store.open_existing(p) if existing else Store(p)


def check_db_file(path: Path | str) -> None:
    """A store path given by the user: absent (an empty store) or an SQLite file, else
    UnusableInput('err.bad_db') with one line.  Read 16 bytes, never the whole file."""
    from firmpass.errors import UnusableInput
    from firmpass.model import Text

    if is_db_url(path):
        return  # a server store: connection problems surface when it is opened
    p = Path(path).expanduser()
    if not p.exists():
        return
    if not p.is_file():
        raise UnusableInput("err.not_a_file", path=str(p))
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise UnusableInput("err.bad_db", path=str(p), detail=e.strerror or str(e)) from None
    if head and head != SQLITE_MAGIC:
        raise UnusableInput("err.bad_db", path=str(p), detail=Text(en="not an SQLite database", zh="不是 SQLite 数据库文件"))


class Base(DeclarativeBase):
    pass


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


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
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


_T = AffectedRow.__table__
_K = bindparam("vkey", type_=LargeBinary())
_KEY_OK = and_(_T.c.keyed.is_(True),
               or_(_T.c.key_lo.is_(None), _T.c.key_lo < _K, and_(_T.c.lo_incl, _T.c.key_lo == _K)),
               or_(_T.c.key_hi.is_(None), _T.c.key_hi > _K, and_(_T.c.hi_incl, _T.c.key_hi == _K)))
_BY_PRODUCT = and_(_T.c.kind == "cpe", tuple_(_T.c.vendor, _T.c.product).in_(bindparam("pairs", expanding=True)),
                   _T.c.vulnerable.is_(True))
# rows of these products whose range may hold the version: keyed ranges that hold its key, ranges
# that need the Python comparator, and the vendor's own ranges (kept as evidence even when out)
_MATCH_COLS = tuple(_T.c[c] for c in ("vuln_id", "source", "kind", "vendor", "product", "scheme", "exact",
                                      "start_incl", "start_excl", "end_incl", "end_excl", "vulnerable",
                                      "authority", "criteria", "config", "note", "keyed"))
_Q_VERSION = select(*_MATCH_COLS, _KEY_OK.label("inrange")).where(
    _BY_PRODUCT, or_(_T.c.authority.is_(True), _T.c.keyed.is_not(True), _KEY_OK))
_Q_ALL = select(*_MATCH_COLS, literal(None).label("inrange")).where(_BY_PRODUCT)


# JSON read as its stored text and decoded in Store.vulns (most values are "[]"; PostgreSQL's driver
# may hand back the decoded value: then it is used as is)
_VULN_COLS = (VulnRow.__table__.c.id, VulnRow.__table__.c.description, VulnRow.__table__.c.published,
              *(type_coerce(VulnRow.__table__.c[c], Text).label(c)
                for c in ("cvss", "references", "aliases", "vendor_severity", "cwes")))


_KEV_COLS = ("date_added", "due_date", "ransomware", "name")
_VULN_Q = (select(*_VULN_COLS, KevRow.__table__.c.cve.label("kev_cve"),
                  *(KevRow.__table__.c[c].label("kev_" + c) for c in _KEV_COLS),
                  EpssRow.__table__.c.score.label("epss_score"), EpssRow.__table__.c.percentile.label("epss_pct"))
           .select_from(VulnRow.__table__.outerjoin(KevRow.__table__, KevRow.__table__.c.cve == VulnRow.__table__.c.id)
                        .outerjoin(EpssRow.__table__, EpssRow.__table__.c.cve == VulnRow.__table__.c.id))
           .where(VulnRow.__table__.c.id.in_(bindparam("ids", expanding=True))))


EXPLOIT_SOURCES = ("cisa-kev", "euvd")  # the order evidence is listed in


class VulnView(NamedTuple):
    """A read-only view of a VulnRow for matching (what a match result needs), with its KEV entry
    ({date_added, due_date, ransomware, name} or None), EPSS ({score, percentile} or None) and
    evidence of exploitation ([{source, since, ref?}], every source)."""
    id: str
    description: str | None
    published: str | None
    cvss: list | None
    references: list | None
    aliases: list | None
    kev: dict | None = None
    epss: dict | None = None
    vendor_severity: list | None = None
    cwes: list | None = None
    exploited: list | None = None


class Store:
    """A handle on one vulnerability store."""

    def __init__(self, path: Path | str | None = None, url: str | None = None, create: bool = True):
        if url is None and is_db_url(path if path is not None else default_db_path()):
            url = str(path if path is not None else default_db_path())
        self.path = resolve_db_path(path) if url is None else None
        if url is None:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{self.path}"
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            try:
                Base.metadata.create_all(self.engine)
                self._upgrade()
            except Exception as e:  # noqa: BLE001 - e.g. a read-only user of a store an older firmpass made
                ver, old = None, False
                try:
                    old = inspect(self.engine).has_table("vuln")
                    ver = self.schema_version() if old else None
                except Exception:  # noqa: BLE001
                    pass
                if old and (ver or 1) < SCHEMA_VERSION:
                    from firmpass.errors import UnusableInput
                    from firmpass.i18n import exc_detail

                    self.engine.dispose()
                    raise UnusableInput("db.err.needs_upgrade", path=display_db(self.path or url), version=ver or "1-2",
                                        current=SCHEMA_VERSION, detail=exc_detail(e)) from None
                raise

    _KEY_COLS = ("keyed", "key_lo", "lo_incl", "key_hi", "hi_incl")
    _V3_VULN_COLS = ("vendor_severity", "cwes")

    def schema_version(self) -> int | None:
        """The version recorded in the store (None: a store made before versions were recorded)."""
        with self.engine.connect() as conn:
            v = conn.execute(select(MetaRow.__table__.c.value).where(MetaRow.__table__.c.key == "schema_version")).scalar()
        try:
            return int(v) if v is not None else None
        except ValueError:
            return None

    def _upgrade(self) -> None:
        """Bring a store made by an older firmpass up to SCHEMA_VERSION (create_all adds missing
        tables, never missing columns), one step after the other, then record the version.
        Missing columns are added whatever the recorded version says.

        2: add the range key columns and fill them.  3: add vuln.vendor_severity / vuln.cwes (NULL
        until the vendor data is imported again) and fill `exploited` from the KEV table."""
        insp = inspect(self.engine)
        have_aff = {c["name"] for c in insp.get_columns("affected")}
        have_vuln = {c["name"] for c in insp.get_columns("vuln")}
        ver = self.schema_version()
        if ver is None:  # not recorded: what the columns say (a new store has every column)
            ver = 1 if not set(self._KEY_COLS) <= have_aff else 2 if not set(self._V3_VULN_COLS) <= have_vuln \
                else SCHEMA_VERSION
        missing_aff = [c for c in self._KEY_COLS if c not in have_aff]
        if ver < 2 or missing_aff:
            self._add_columns(AffectedRow, missing_aff)
            self.fill_range_keys()
        missing_vuln = [c for c in self._V3_VULN_COLS if c not in have_vuln]
        if missing_vuln:
            self._add_columns(VulnRow, missing_vuln)
        if ver < 3:
            with self.session() as s, s.begin():
                kev = s.execute(select(KevRow.cve, KevRow.date_added)).all()
                self.replace_exploited(s, "cisa-kev", [{"cve": c, "since": d} for c, d in kev])
        if self.schema_version() != SCHEMA_VERSION and ver <= SCHEMA_VERSION:
            with self.session() as s, s.begin():
                s.merge(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))

    def _add_columns(self, model: type[Base], names: list[str]) -> None:
        t = model.__table__
        with self.engine.begin() as conn:
            for name in names:
                conn.exec_driver_sql(f"ALTER TABLE {t.name} ADD COLUMN {name} "
                                     f"{t.c[name].type.compile(dialect=self.engine.dialect)}")

    def fill_range_keys(self) -> int:
        """Compute the range keys of rows that have none (rows written without them)."""
        t = AffectedRow.__table__
        n = 0
        with self.engine.begin() as conn:
            rows = conn.execute(select(t.c.pk, t.c.exact, t.c.start_incl, t.c.start_excl, t.c.end_incl, t.c.end_excl,
                                       t.c.scheme).where(t.c.keyed.is_(None))).all()
            for i in range(0, len(rows), 5000):
                chunk = [{"b_pk": r.pk, **range_keys(r.exact, r.start_incl, r.start_excl, r.end_incl, r.end_excl,
                                                     r.scheme)} for r in rows[i:i + 5000]]
                conn.execute(update(t).where(t.c.pk == bindparam("b_pk")), chunk)
                n += len(chunk)
        return n

    @classmethod
    def open_existing(cls, path: Path | str | None = None) -> "Store | None":
        p = resolve_db_path(path)
        if is_db_url(p):
            return cls(url=str(p))
        if not p.is_file():
            return None
        return cls(p)

    def session(self) -> Session:
        return Session(self.engine, future=True)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ status
    def sources(self) -> dict[str, dict[str, Any]]:
        with self.session() as s:
            return {r.name: {"kind": r.kind, "records": r.records, "last_update": r.last_update,
                             "data_date": r.data_date, "origin": r.origin}
                    for r in s.scalars(select(SourceRow).order_by(SourceRow.name))}

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {t: s.scalar(select(func.count()).select_from(m)) or 0
                    for t, m in (("vulnerabilities", VulnRow), ("affected", AffectedRow), ("kev", KevRow),
                                 ("exploited", ExploitedRow), ("epss", EpssRow), ("distro_fix", DistroFixRow), ("triage", TriageRow))}

    def is_empty(self) -> bool:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(AffectedRow)) == 0

    def get_cursor(self, source: str) -> dict | None:
        with self.session() as s:
            r = s.get(SourceRow, source)
            return dict(r.cursor) if r and r.cursor else None

    def set_cursor(self, source: str, cursor: dict | None, kind: str = "nvd") -> None:
        with self.session() as s, s.begin():
            r = s.get(SourceRow, source) or SourceRow(name=source, kind=kind, records=0)
            r.cursor = cursor
            s.add(r)

    def touch_source(self, s: Session, name: str, kind: str, records: int, origin: str | None,
                     data_date: str | None = None, add: bool = False) -> None:
        r = s.get(SourceRow, name)
        if r is None:
            r = SourceRow(name=name, kind=kind, records=0)
            s.add(r)
        r.records = (r.records or 0) + records if add else records
        r.last_update = now_iso()
        r.origin = origin
        if data_date:
            r.data_date = data_date

    # ------------------------------------------------------------------ writing
    def ingest_vulns(self, s: Session, source: str, records: list[dict[str, Any]]) -> int:
        """Insert or merge vulnerability records with their applicability rows.

        Each record: {"vuln": {id, description, published, modified, cvss, references, aliases},
        "affected": [row dicts], "configs": [multi-node NVD configurations] }.  Re-importing a source
        replaces that source's rows for those vulnerabilities (idempotent).
        """
        if not records:
            return 0
        by_id: dict[str, dict] = {}
        for rec in records:  # one source may list a CVE twice (yearly feeds overlap): last wins
            by_id[rec["vuln"]["id"]] = rec
        ids = list(by_id)
        existing: dict[str, VulnRow] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in s.scalars(select(VulnRow).where(VulnRow.id.in_(chunk))):
                existing[row.id] = row
            s.execute(delete(AffectedRow).where(AffectedRow.source == source, AffectedRow.vuln_id.in_(chunk)))
        new_rows, aff_rows = [], []
        for vid, rec in by_id.items():
            v = rec["vuln"]
            cfg = rec.get("configs") or []
            row = existing.get(vid)
            if row is None:
                new_rows.append({"id": vid, "description": v.get("description"), "published": v.get("published"),
                                 "modified": v.get("modified"), "cvss": v.get("cvss") or [],
                                 "references": (v.get("references") or [])[:50], "aliases": v.get("aliases") or [],
                                 "configs": {source: cfg} if cfg else {}, "sources": [source],
                                 "vendor_severity": v.get("vendor_severity") or [], "cwes": v.get("cwes") or []})
            else:
                self._merge(row, v, source, cfg)
            for a in rec.get("affected", []):
                a = dict(a)
                a["vuln_id"] = vid
                a["source"] = source
                aff_rows.append(a)
        if new_rows:
            s.execute(VulnRow.__table__.insert(), new_rows)
        if aff_rows:
            s.execute(AffectedRow.__table__.insert(), affected_rows(aff_rows))
        return len(by_id)

    @staticmethod
    def _merge(row: VulnRow, v: dict, source: str, cfg: list) -> None:
        authoritative_text = source == "nvd" or source.startswith("cve5")
        if v.get("description") and (not row.description or authoritative_text):
            row.description = v["description"]
        for k in ("published", "modified"):
            if v.get(k) and not getattr(row, k):
                setattr(row, k, v[k])
        if v.get("cvss"):
            have = {(c["version"], c.get("source"), c["vector"]) for c in row.cvss or []}
            row.cvss = list(row.cvss or []) + [c for c in v["cvss"] if (c["version"], c.get("source"), c["vector"]) not in have]
        if v.get("references"):
            row.references = list(dict.fromkeys(list(row.references or []) + v["references"]))[:50]
        if v.get("aliases"):
            row.aliases = sorted(set(row.aliases or []) | set(v["aliases"]))
        if v.get("vendor_severity"):  # one rating per publisher: the newest import of that publisher wins
            new = {x["source"] for x in v["vendor_severity"]}
            row.vendor_severity = [x for x in row.vendor_severity or [] if x.get("source") not in new] \
                + list(v["vendor_severity"])
        if v.get("cwes"):
            have_cwe = {c["id"] for c in row.cwes or []}
            row.cwes = list(row.cwes or []) + [c for c in v["cwes"] if c["id"] not in have_cwe]
        configs = dict(row.configs or {})
        if cfg:
            configs[source] = cfg
        else:
            configs.pop(source, None)
        row.configs = configs
        row.sources = sorted(set(row.sources or []) | {source})

    def replace_kev(self, s: Session, rows: list[dict]) -> None:
        """The KEV catalogue is complete in every release: it replaces the previous one, and with it
        the `cisa-kev` evidence of exploitation."""
        s.execute(delete(KevRow))
        if rows:
            s.execute(KevRow.__table__.insert(), rows)
        self.replace_exploited(s, "cisa-kev", [{"cve": r["cve"], "since": r.get("date_added")} for r in rows])

    def replace_exploited(self, s: Session, source: str, rows: list[dict], ids: Iterable[str] | None = None) -> None:
        """Evidence of exploitation from `source`: rows {cve, since, ref?}.  With `ids` only those
        vulnerabilities are replaced (a partial source such as an EUVD search result: a record
        imported again without exploitedSince loses its mark); without, the whole source is."""
        t = ExploitedRow.__table__
        if ids is None:
            s.execute(delete(t).where(t.c.source == source))
        else:
            ids = list(set(ids))
            for i in range(0, len(ids), 500):
                s.execute(delete(t).where(t.c.source == source, t.c.cve.in_(ids[i:i + 500])))
        rows = list({r["cve"]: {"cve": r["cve"], "source": source, "since": r.get("since"), "ref": r.get("ref")}
                     for r in rows}.values())
        if rows:
            s.execute(t.insert(), rows)

    def upsert_epss(self, s: Session, rows: list[dict]) -> None:
        ids = [r["cve"] for r in rows]
        for i in range(0, len(ids), 500):
            s.execute(delete(EpssRow).where(EpssRow.cve.in_(ids[i:i + 500])))
        if rows:
            s.execute(EpssRow.__table__.insert(), rows)

    def replace_distro_fix(self, s: Session, distro: str, rows: list[dict]) -> None:
        pkgs = sorted({r["package"] for r in rows})
        for i in range(0, len(pkgs), 500):
            s.execute(delete(DistroFixRow).where(DistroFixRow.distro == distro, DistroFixRow.package.in_(pkgs[i:i + 500])))
        if rows:
            s.execute(DistroFixRow.__table__.insert(), rows)

    def upsert_triage(self, s: Session, rows: list[dict]) -> int:
        for r in rows:
            old = s.scalars(select(TriageRow).where(TriageRow.vuln_id == r["vuln_id"],
                                                    TriageRow.product == r["product"])).first()
            if old is None:
                s.add(TriageRow(**r, recorded=now_iso()))
            else:
                for k, v in r.items():
                    setattr(old, k, v)
                old.recorded = now_iso()
        return len(rows)

    # ------------------------------------------------------------------ reading (indexed lookups only)
    def affected_for_products(self, s: Session, pairs: Iterable[tuple[str, str]]) -> list[AffectedRow]:
        pairs = list(dict.fromkeys(pairs))
        if not pairs:
            return []
        # plain rows (attribute access like the ORM class, without the identity-map cost)
        t = AffectedRow.__table__
        return list(s.execute(select(t).where(t.c.kind == "cpe", tuple_(t.c.vendor, t.c.product).in_(pairs))))

    def affected_for_version(self, s: Session, pairs: Iterable[tuple[str, str]], vkey: bytes | None) -> list:
        """Vulnerable CPE rows of `pairs` that may apply to a version whose `sortable_key` is `vkey`
        (one indexed lookup; the range test on keyed rows runs in SQL).  Each row has `inrange`:
        True/False when SQL decided, None when the caller must compare in Python (row not keyed,
        or `vkey` None = no key for the version: then every row is returned)."""
        pairs = list(dict.fromkeys(pairs))
        if not pairs:
            return []
        if vkey is None:
            return s.execute(_Q_ALL, {"pairs": pairs}).all()
        return s.execute(_Q_VERSION, {"pairs": pairs, "vkey": vkey}).all()

    def affected_for_package(self, s: Session, ecosystem: str, name: str) -> list[AffectedRow]:
        t = AffectedRow.__table__
        return list(s.execute(select(t).where(t.c.ecosystem == ecosystem, t.c.name == name)))

    @staticmethod
    def _by_id(s: Session, cols: tuple, key, ids: Iterable[str]) -> dict[str, Any]:
        """Plain rows (read-only, attribute access) by primary key, in chunks of 500 ids."""
        ids = list(set(ids))
        q = select(*cols).where(key.in_(bindparam("ids", expanding=True)))
        out: dict[str, Any] = {}
        for i in range(0, len(ids), 500):
            for r in s.execute(q, {"ids": ids[i:i + 500]}).all():
                out[r[0]] = r
        return out

    def vulns(self, s: Session, ids: Iterable[str]) -> dict[str, VulnView]:
        """id -> VulnView (no configs); one query per 500 ids, KEV and EPSS joined in."""

        def dec(v: Any) -> Any:
            if not isinstance(v, str):  # NULL, or a driver that decodes JSON itself
                return v
            if v == "[]":  # the common case, without a JSON parse
                return []
            return json.loads(v)

        ids = list(set(ids))
        out: dict[str, VulnView] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            expl = self.exploited(s, chunk)
            for r in s.execute(_VULN_Q, {"ids": chunk}).all():
                kev = {c: r._mapping["kev_" + c] for c in _KEV_COLS} if r.kev_cve is not None else None
                epss = {"score": r.epss_score, "percentile": r.epss_pct} if r.epss_score is not None else None
                out[r.id] = VulnView(r.id, r.description, r.published, dec(r.cvss), dec(r.references),
                                     dec(r.aliases), kev, epss, dec(r.vendor_severity), dec(r.cwes),
                                     expl.get(r.id))
        return out

    def exploited(self, s: Session, ids: Iterable[str]) -> dict[str, list[dict]]:
        """id -> [{source, since, ref?}] in EXPLOIT_SOURCES order (only ids with evidence)."""
        t = ExploitedRow.__table__
        ids = list(set(ids))
        out: dict[str, list[dict]] = {}
        # CISA KEV evidence is read from the kev table itself: the mirrored "cisa-kev" rows could be
        # stale if an older firmpass replaced the kev table of a shared store
        q = select(t.c.cve, t.c.source, t.c.since, t.c.ref).where(t.c.cve.in_(bindparam("ids", expanding=True)),
                                                                  t.c.source != "cisa-kev")
        k = KevRow.__table__
        qk = select(k.c.cve, k.c.date_added).where(k.c.cve.in_(bindparam("ids", expanding=True)))
        for i in range(0, len(ids), 500):
            for r in s.execute(qk, {"ids": ids[i:i + 500]}).all():
                out.setdefault(r.cve, []).append({"source": "cisa-kev", "since": r.date_added})
            for r in s.execute(q, {"ids": ids[i:i + 500]}).all():
                d = {"source": r.source, "since": r.since}
                if r.ref:
                    d["ref"] = r.ref
                out.setdefault(r.cve, []).append(d)
        order = {k: n for n, k in enumerate(EXPLOIT_SOURCES)}
        for v in out.values():
            v.sort(key=lambda d: (order.get(d["source"], len(order)), d["source"]))
        return out

    def configs(self, s: Session, ids: Iterable[str]) -> dict[str, dict]:
        """id -> VulnRow.configs ({source: [NVD configurations]})."""
        t = VulnRow.__table__
        return {k: r.configs or {} for k, r in self._by_id(s, (t.c.id, t.c.configs), t.c.id, ids).items()}

    def kev(self, s: Session, ids: Iterable[str]) -> dict[str, Any]:
        t = KevRow.__table__
        return self._by_id(s, (t.c.cve, *[c for c in t.c if c.name != "cve"]), t.c.cve, ids)

    def epss(self, s: Session, ids: Iterable[str]) -> dict[str, Any]:
        t = EpssRow.__table__
        return self._by_id(s, (t.c.cve, *[c for c in t.c if c.name != "cve"]), t.c.cve, ids)

    def distro_fixes(self, s: Session, distro: str, package: str) -> dict[str, list[DistroFixRow]]:
        out: dict[str, list[DistroFixRow]] = {}
        for r in s.scalars(select(DistroFixRow).where(DistroFixRow.distro == distro, DistroFixRow.package == package)):
            out.setdefault(r.vuln_id, []).append(r)
        return out

    def triage(self, s: Session, products: Iterable[str]) -> dict[tuple[str, str], TriageRow]:
        products = list(set(products))
        if not products:
            return {}
        return {(r.vuln_id, r.product): r for r in s.scalars(select(TriageRow).where(TriageRow.product.in_(products)))}


def dumps(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False, sort_keys=True)
