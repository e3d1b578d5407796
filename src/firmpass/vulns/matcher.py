"""Match components against the store: CPE applicability (NVD configurations), vendor advisories,
CVE 5 / EUVD product ranges and OSV / PURL package ranges.

Configuration nodes.  NVD writes "product X on platform Y" as an AND of a node with vulnerable
entries and a node of `vulnerable: false` entries (the "running on/with" platform).  A firmware
image rarely carries a component for the platform (the OS, the hardware), so a node made only of
non-vulnerable entries is *assumed* satisfied, and the match says so (`platform_assumed`).  Nodes
with vulnerable entries for other products must be satisfied by another component of the image.
`negate` inverts a node's result; a negated platform node is likewise assumed satisfied.

Authority.  When the vendor is the CNA or publishes its own table (OpenSSL's CVE 5 records, curl's
vuln table), the vendor's ranges decide for that product: an NVD criteria that disagrees is kept
as a not_affected entry that names both, never silently dropped.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from firmpass.model import Component
from firmpass.vulns.cpe import NAME_TO_CPE, aliases, parse_cpe
from firmpass.vulns.store import AffectedRow, Store
from firmpass.vulns.versions import debian_upstream, describe_range, in_range, sortable_key, strip_epoch

_PURL_ECO = {"deb": "debian", "pypi": "pypi", "npm": "npm", "maven": "maven", "nuget": "nuget", "gem": "rubygems",
             "composer": "packagist", "golang": "go", "cargo": "crates.io", "apk": "alpine", "rpm": "rpm", "hex": "hex"}


@dataclass
class CompKey:
    comp: Component
    pairs: list[tuple[str, str]]  # vendor/product aliases
    version: str | None  # upstream version for CPE ranges
    via: str  # "cpe" | "name"
    pkg: tuple[str, str, str] | None = None  # (ecosystem, name, full version) for OSV ranges


@dataclass
class Hit:
    vuln_id: str
    row: AffectedRow
    comp: CompKey
    matched: bool  # version inside the range
    extra: dict[str, Any] = field(default_factory=dict)


def component_key(c: Component) -> CompKey:
    origin = c.origin()
    distro = bool(origin.distro or origin.package_version)
    version = c.version
    cpe = parse_cpe(c.cpe)
    pairs: list[tuple[str, str]] = []
    via = "name"
    if cpe is not None:
        pairs = aliases(cpe.vendor, cpe.product)
        via = "cpe"
        if cpe.full_version:
            version = cpe.full_version
    else:
        vp = NAME_TO_CPE.get((c.name or "").lower())
        if vp:
            pairs = aliases(*vp)
    if version:
        version = debian_upstream(version) if distro and "-" in version else strip_epoch(version)
    pkg = None
    if c.purl:
        try:
            pu = PackageURL.from_string(c.purl)
            eco = _PURL_ECO.get(pu.type, pu.type)
            name = origin.source_package if pu.type == "deb" and origin.source_package else pu.name
            if pu.namespace and pu.type in ("maven",):
                name = f"{pu.namespace}:{pu.name}"
            elif pu.namespace and pu.type in ("npm", "golang", "composer"):
                name = f"{pu.namespace}/{pu.name}"
            pv = origin.package_version or pu.version
            if pv:
                pkg = (eco, name, pv)
        except ValueError:
            pass
    return CompKey(c, pairs, version, via, pkg)


def row_range(r: AffectedRow) -> str:
    return describe_range(r.exact, r.start_incl, r.start_excl, r.end_incl, r.end_excl) if (
        r.exact or r.start_incl or r.start_excl or r.end_incl or r.end_excl) else "all versions"


def row_matches(r: AffectedRow, version: str) -> bool:
    if r.exact is not None:
        return in_range(version, exact=r.exact, scheme=r.scheme)
    return in_range(version, start_incl=r.start_incl, start_excl=r.start_excl, end_incl=r.end_incl,
                    end_excl=r.end_excl, scheme=r.scheme)


class Matcher:
    def __init__(self, store: Store, components: list[Component]):
        self.store = store
        self.keys = [component_key(c) for c in components]
        # components by vendor/product, to evaluate the other nodes of an AND configuration
        self.by_pair: dict[tuple[str, str], list[CompKey]] = defaultdict(list)
        for k in self.keys:
            for p in k.pairs:
                self.by_pair[p].append(k)

    # -------------------------------------------------------------- configurations
    def _entry_satisfied(self, m: dict) -> bool:
        c = parse_cpe(m.get("criteria"))
        if c is None:
            return False
        for k in self.by_pair.get((c.vendor, c.product), []):
            if not k.version:
                continue
            fake = AffectedRow(exact=None if any(m.get(x) for x in ("versionStartIncluding", "versionStartExcluding",
                                                                       "versionEndIncluding", "versionEndExcluding"))
                               else c.full_version,
                               start_incl=m.get("versionStartIncluding"), start_excl=m.get("versionStartExcluding"),
                               end_incl=m.get("versionEndIncluding"), end_excl=m.get("versionEndExcluding"))
            if fake.exact is None and not any((fake.start_incl, fake.start_excl, fake.end_incl, fake.end_excl)):
                return True
            if row_matches(fake, k.version):
                return True
        return False

    def config_ok(self, cfg: dict, row: AffectedRow, notes: list[str]) -> bool:
        results = []
        for node in cfg.get("nodes") or []:
            entries = node.get("cpeMatch") or []
            has_row = any(m.get("criteria") == row.criteria and bool(m.get("vulnerable", True)) == row.vulnerable
                          and m.get("versionEndExcluding") == row.end_excl and m.get("versionEndIncluding") == row.end_incl
                          and m.get("versionStartIncluding") == row.start_incl
                          and m.get("versionStartExcluding") == row.start_excl for m in entries)
            if has_row:
                ok = True
            elif entries and not any(m.get("vulnerable", True) for m in entries):
                ok = True
                notes.append("platform node assumed present: " + ", ".join(m.get("criteria", "") for m in entries[:5])
                             + (" ..." if len(entries) > 5 else ""))
                results.append(ok)
                continue
            else:
                vals = [self._entry_satisfied(m) for m in entries]
                ok = all(vals) if node.get("operator") == "AND" else any(vals)
            if node.get("negate"):
                ok = not ok
            results.append(ok)
        if not results:
            return True
        res = all(results) if cfg.get("operator", "AND") == "AND" else any(results)
        return not res if cfg.get("negate") else res

    # -------------------------------------------------------------- matching
    def hits(self, session) -> list[Hit]:
        out: list[Hit] = []
        # one indexed lookup per distinct product group
        # one indexed lookup per distinct (product group, version); keyed ranges are tested in SQL
        groups: dict[tuple, list[CompKey]] = defaultdict(list)
        for k in self.keys:
            if k.pairs and k.version:
                groups[(tuple(k.pairs), k.version)].append(k)
        for (pairs, version), comps in groups.items():
            rows = self.store.affected_for_version(session, pairs, sortable_key(version))
            for r in rows:
                ok = bool(r.inrange) if r.keyed else row_matches(r, version)
                if ok or r.authority:  # a vendor's non-matching range is evidence too
                    for k in comps:
                        out.append(Hit(r.vuln_id, r, k, ok))
        for k in self.keys:
            if k.pkg is None:
                continue
            eco, name, ver = k.pkg
            for r in self.store.affected_for_package(session, eco, name):
                if row_matches(r, ver):
                    out.append(Hit(r.vuln_id, r, k, True, {"package_version": ver}))
        return out

    def verdicts(self, session) -> list[dict[str, Any]]:
        """-> one dict per (component, vulnerability): {comp, vuln_id, affected: bool, match: {...}}"""
        hits = self.hits(session)
        by: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        for h in hits:
            by[(h.comp.comp.bom_ref, h.vuln_id)].append(h)
        needed_cfg = {h.vuln_id for h in hits if h.matched and h.row.config >= 0}
        configs = self.store.configs(session, needed_cfg) if needed_cfg else {}
        out = []
        for (ref, vid), hs in by.items():
            auth = [h for h in hs if h.row.authority]
            others = [h for h in hs if not h.row.authority]
            good_others = []
            for h in others:
                if not h.matched:
                    continue
                notes: list[str] = []
                if h.row.config >= 0:
                    cfgs = configs.get(vid, {}).get(h.row.source) or []
                    if h.row.config < len(cfgs) and not self.config_ok(cfgs[h.row.config], h.row, notes):
                        continue
                h.extra["notes"] = notes
                good_others.append(h)
            comp = hs[0].comp
            if auth:
                good = [h for h in auth if h.matched]
                if good:
                    out.append(self._verdict(comp, vid, True, good[0], good_others, auth))
                elif good_others:
                    out.append(self._verdict(comp, vid, False, good_others[0], good_others, auth))
            elif good_others:
                out.append(self._verdict(comp, vid, True, good_others[0], good_others, []))
        return out

    @staticmethod
    def _verdict(comp: CompKey, vid: str, affected: bool, h: Hit, others: list[Hit], auth: list[Hit]) -> dict:
        ver = h.extra.get("package_version") or comp.version
        m: dict[str, Any] = {"source": h.row.source, "criteria": h.row.criteria, "range": row_range(h.row),
                             "version": ver, "matched_by": "purl" if h.row.kind == "pkg" else comp.via,
                             "authority": bool(h.row.authority)}
        if h.row.scheme:
            m["version_scheme"] = h.row.scheme
        if h.extra.get("notes"):
            m["configuration"] = h.extra["notes"]
        if h.row.note:
            m["note"] = h.row.note
        also = sorted({f"{o.row.source}: {o.row.criteria} ({row_range(o.row)})" for o in others if o is not h})
        if also:
            m["also_matched"] = also[:10]
        if auth and not affected:
            m["vendor_ranges"] = sorted({f"{a.row.source}: {row_range(a.row)}" for a in auth})[:20]
        return {"comp": comp, "vuln_id": vid, "affected": affected, "match": m}
