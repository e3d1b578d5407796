"""Writing the vulnerability store: the importers' (vulns.feeds) ingest calls, each inside the
caller's transaction.  `StoreWrites` is mixed into `Store`."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from firmpass.vulns.store.tables import (AffectedRow, DistroFixRow, EpssRow, ExploitedRow, KevRow, SourceRow,
                                         TriageRow, VulnRow, affected_rows, now_iso)


class StoreWrites:
    """The write side of `Store`: every method takes the caller's session and leaves the commit to it."""

    def touch_source(self, s: Session, name: str, kind: str, records: int, origin: str | None,
                     data_date: str | None = None, add: bool = False) -> None:
        """Record an import of source NAME: its record count (added to or replacing the last), origin,
        import time and the data's own date."""
        r = s.get(SourceRow, name)
        if r is None:
            r = SourceRow(name=name, kind=kind, records=0)
            s.add(r)
        r.records = (r.records or 0) + records if add else records
        r.last_update = now_iso()
        r.origin = origin
        if data_date:
            r.data_date = data_date

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
        """Merge SOURCE's record V into the stored ROW: NVD / CVE 5 text wins, lists are unioned, the
        source's configurations replace its earlier ones."""
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
        """EPSS scores: each given CVE's row replaced."""
        ids = [r["cve"] for r in rows]
        for i in range(0, len(ids), 500):
            s.execute(delete(EpssRow).where(EpssRow.cve.in_(ids[i:i + 500])))
        if rows:
            s.execute(EpssRow.__table__.insert(), rows)

    def replace_distro_fix(self, s: Session, distro: str, rows: list[dict]) -> None:
        """A distribution tracker's rows: every package named in ROWS replaced."""
        pkgs = sorted({r["package"] for r in rows})
        for i in range(0, len(pkgs), 500):
            s.execute(delete(DistroFixRow).where(DistroFixRow.distro == distro, DistroFixRow.package.in_(pkgs[i:i + 500])))
        if rows:
            s.execute(DistroFixRow.__table__.insert(), rows)

    def upsert_triage(self, s: Session, rows: list[dict]) -> int:
        """Users' VEX decisions, one per (vulnerability, product key): a new one replaces the old."""
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
