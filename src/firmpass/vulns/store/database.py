"""The `Store` handle (engine, schema creation and upgrade, sources' bookkeeping) and `open_store`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, event, func, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from firmpass.vulns.store.ingest import StoreWrites
from firmpass.vulns.store.location import check_db_file, db_errors, default_db_path, display_db, is_db_url, resolve_db_path
from firmpass.vulns.store.queries import StoreReads
from firmpass.vulns.store.tables import (SCHEMA_VERSION, AffectedRow, Base, DistroFixRow, EpssRow, ExploitedRow, KevRow,
                                         MetaRow, SourceRow, TriageRow, VulnRow, sqlite_pragmas)
from firmpass.vulns.versions import range_keys

def open_store(spec: Path | str | None = None, existing: bool = False) -> "Store | None":
    """The store named by `spec` (file, URL, or the default), checked and opened with one-line errors.
    existing=True: None when a file store does not exist yet (reading commands, the scan)."""
    p = resolve_db_path(spec)
    check_db_file(p)
    with db_errors(p):
        return Store.open_existing(p) if existing else Store(p)


class Store(StoreWrites, StoreReads):
    """A handle on one vulnerability store: the engine, the schema upgrade and the sources' bookkeeping
    here; reading (StoreReads) and writing (StoreWrites) mixed in."""

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
            event.listen(self.engine, "connect", sqlite_pragmas)
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
        """ALTER TABLE ... ADD COLUMN for the model's NAMES, typed for this database."""
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
        """The store at PATH, or None when a file store does not exist yet (a URL is always opened)."""
        p = resolve_db_path(path)
        if is_db_url(p):
            return cls(url=str(p))
        if not p.is_file():
            return None
        return cls(p)

    def session(self) -> Session:
        """A new ORM session on the store."""
        return Session(self.engine, future=True)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ status
    def sources(self) -> dict[str, dict[str, Any]]:
        """name -> kind, records, import time, data date and origin of every imported source."""
        with self.session() as s:
            return {r.name: {"kind": r.kind, "records": r.records, "last_update": r.last_update,
                             "data_date": r.data_date, "origin": r.origin}
                    for r in s.scalars(select(SourceRow).order_by(SourceRow.name))}

    def counts(self) -> dict[str, int]:
        """Rows per table, under the names `db status` shows."""
        with self.session() as s:
            return {t: s.scalar(select(func.count()).select_from(m)) or 0
                    for t, m in (("vulnerabilities", VulnRow), ("affected", AffectedRow), ("kev", KevRow),
                                 ("exploited", ExploitedRow), ("epss", EpssRow), ("distro_fix", DistroFixRow), ("triage", TriageRow))}

    def is_empty(self) -> bool:
        """True when no applicability row was imported (nothing can match)."""
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(AffectedRow)) == 0

    def get_cursor(self, source: str) -> dict | None:
        """The resume state `db update` saved for SOURCE."""
        with self.session() as s:
            r = s.get(SourceRow, source)
            return dict(r.cursor) if r and r.cursor else None

    def set_cursor(self, source: str, cursor: dict | None, kind: str = "nvd") -> None:
        """Save (or clear) SOURCE's resume state, in its own transaction."""
        with self.session() as s, s.begin():
            r = s.get(SourceRow, source) or SourceRow(name=source, kind=kind, records=0)
            r.cursor = cursor
            s.add(r)
