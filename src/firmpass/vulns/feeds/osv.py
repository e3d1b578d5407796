"""OSV JSON: one record (batched) or a list.  curl's own vuln.json is OSV and becomes vendor:curl."""
from __future__ import annotations

from typing import Any

from firmpass.vulns.cvssutil import make_score
from firmpass.vulns.feeds.common import CVE_RE, VulnRecord, count_vulns, cwe_entry, newest_modified, vendor_severity
from firmpass.vulns.versions import scheme_for

FORMATS = ("osv",)
BATCH = True


def sniff(obj: Any) -> str | None:
    if isinstance(obj, list):
        return "osv" if obj and isinstance(obj[0], dict) and all(k in obj[0] for k in ("affected", "id", "modified")) else None
    if isinstance(obj, dict) and ("schema_version" in obj and "affected" in obj
                                  or ("id" in obj and "modified" in obj and "affected" in obj)):
        return "osv"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    raw = obj if isinstance(obj, list) else [obj]
    recs = [osv_record(x) for x in raw if isinstance(x, dict) and x.get("id")]
    src = "vendor:curl" if recs and all(r["vuln"]["aliases"] and any(a.startswith("CURL-") for a in r["vuln"]["aliases"])
                                        or r["vuln"]["id"].startswith("CURL-") for r in recs) else "osv"
    n = store.ingest_vulns(s, src, recs)
    store.touch_source(s, src, "osv", count_vulns(store, s, src), origin, newest_modified(recs))
    return n


_PURL_ECO = {"deb": "debian", "pypi": "pypi", "npm": "npm", "maven": "maven", "nuget": "nuget", "gem": "rubygems",
             "composer": "packagist", "golang": "go", "cargo": "crates.io", "apk": "alpine", "rpm": "rpm",
             "hex": "hex", "pub": "pub", "swift": "swift", "conan": "conan", "generic": "generic", "github": "github"}


def osv_record(rec: dict) -> VulnRecord:
    aliases = list(rec.get("aliases") or [])
    oid = rec["id"]
    cves = [a for a in aliases if CVE_RE.match(a)]
    vid = oid if CVE_RE.match(oid) else (cves[0] if len(cves) == 1 else oid)
    als = sorted({oid, *aliases} - {vid})
    curl_vendor = oid.startswith("CURL-")
    rows = []
    for aff in rec.get("affected") or []:
        pkg = aff.get("package") or {}
        eco_full = pkg.get("ecosystem") or ""
        eco = eco_full.split(":", 1)[0].lower()
        name = pkg.get("name") or ""
        if curl_vendor or (not eco and name.lower() == "curl"):
            base = {"kind": "cpe", "vendor": "haxx", "product": "curl", "authority": True, "criteria": f"curl advisory {oid}"}
        else:
            base = {"kind": "pkg", "ecosystem": eco, "name": name if eco in ("pypi",) else name,
                    "ecosystem_full": eco_full, "criteria": f"OSV {oid} {eco_full}/{name}"}
        got = False
        for rg in aff.get("ranges") or []:
            typ = rg.get("type")
            if typ == "GIT":
                continue
            scheme = "semver" if typ == "SEMVER" else scheme_for(eco)
            cur: dict | None = None
            for ev in rg.get("events") or []:
                if "introduced" in ev:
                    cur = dict(base, scheme=scheme)
                    if ev["introduced"] not in ("0", ""):
                        cur["start_incl"] = ev["introduced"]
                elif cur is not None and ("fixed" in ev or "last_affected" in ev or "limit" in ev):
                    if "fixed" in ev:
                        cur["end_excl"] = ev["fixed"]
                    elif "last_affected" in ev:
                        cur["end_incl"] = ev["last_affected"]
                    else:
                        cur["end_excl"] = ev["limit"]
                    rows.append(cur)
                    got = True
                    cur = None
            if cur is not None:  # introduced, never fixed
                rows.append(cur)
                got = True
        if not got:
            for v in aff.get("versions") or []:
                rows.append(dict(base, exact=v, scheme=scheme_for(eco)))
    cv = []
    for s in rec.get("severity") or []:
        if s.get("type", "").startswith("CVSS") and s.get("score", "").startswith(("CVSS:", "AV:")):
            sc = make_score(s["score"], None, "osv")
            if sc:
                cv.append(sc)
    vsev, cwes = _osv_vendor_fields(rec)
    return {"vuln": {"id": vid, "description": rec.get("details") or rec.get("summary"), "published": rec.get("published"),
                     "modified": rec.get("modified"), "cvss": cv, "aliases": als,
                     "references": [r.get("url") for r in rec.get("references") or [] if r.get("url")],
                     "vendor_severity": vsev, "cwes": cwes},
            "affected": rows}


def _osv_vendor_fields(rec: dict) -> tuple[list[dict], list[dict]]:
    """database_specific of curl's OSV records ({"severity": "High", "CWE": {"id", "desc"}}) and
    of GitHub's ({"severity": "MODERATE", "cwe_ids": [...]})."""
    ds = rec.get("database_specific")
    if not isinstance(ds, dict):
        return [], []
    oid = str(rec.get("id") or "")
    source = "curl" if oid.startswith("CURL-") or str(ds.get("package", "")).lower() == "curl" else \
        "github" if oid.startswith("GHSA-") else oid.split("-", 1)[0].lower() or "osv"
    cwes: list[dict] = []
    raw = ds.get("CWE") or ds.get("cwe")
    for c in raw if isinstance(raw, list) else [raw] if raw else []:
        e = cwe_entry(c.get("id"), c.get("desc") or c.get("name")) if isinstance(c, dict) else cwe_entry(c)
        if e:
            cwes.append(e)
    for c in ds.get("cwe_ids") or []:
        e = cwe_entry(c)
        if e and e["id"] not in {x["id"] for x in cwes}:
            cwes.append(e)
    return vendor_severity(source, ds.get("severity")), cwes
