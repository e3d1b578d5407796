"""Reading the vulnerability store: indexed lookups only (applicability rows by product, version or
package; vulnerabilities, KEV, EPSS and exploitation by id; distribution fixes; triage decisions).
The statements are built once at import; `StoreReads` is mixed into `Store`."""
from __future__ import annotations

import json
from typing import Any, Iterable, NamedTuple

from sqlalchemy import LargeBinary, Text, and_, bindparam, literal, or_, select, tuple_, type_coerce
from sqlalchemy.orm import Session

from firmpass.vulns.store.tables import AffectedRow, DistroFixRow, EpssRow, ExploitedRow, KevRow, TriageRow, VulnRow

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


# JSON read as its stored text and decoded in StoreReads.vulns (most values are "[]"; PostgreSQL's driver
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


class StoreReads:
    """The read side of `Store`: every method takes the caller's session."""

    def affected_for_products(self, s: Session, pairs: Iterable[tuple[str, str]]) -> list[AffectedRow]:
        """Every CPE row of the (vendor, product) PAIRS, vulnerable or not."""
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
        """Every package row of NAME in ECOSYSTEM (OSV, PURL)."""
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
        """id -> its KEV catalogue row (only listed ids)."""
        t = KevRow.__table__
        return self._by_id(s, (t.c.cve, *[c for c in t.c if c.name != "cve"]), t.c.cve, ids)

    def epss(self, s: Session, ids: Iterable[str]) -> dict[str, Any]:
        """id -> its EPSS row (only scored ids)."""
        t = EpssRow.__table__
        return self._by_id(s, (t.c.cve, *[c for c in t.c if c.name != "cve"]), t.c.cve, ids)

    def distro_fixes(self, s: Session, distro: str, package: str) -> dict[str, list[DistroFixRow]]:
        """id -> the distribution tracker's rows of PACKAGE (one per release)."""
        out: dict[str, list[DistroFixRow]] = {}
        for r in s.scalars(select(DistroFixRow).where(DistroFixRow.distro == distro, DistroFixRow.package == package)):
            out.setdefault(r.vuln_id, []).append(r)
        return out

    def triage(self, s: Session, products: Iterable[str]) -> dict[tuple[str, str], TriageRow]:
        """(vulnerability, product key) -> the user's decision, for the PRODUCTS keys."""
        products = list(set(products))
        if not products:
            return {}
        return {(r.vuln_id, r.product): r for r in s.scalars(select(TriageRow).where(TriageRow.product.in_(products)))}
