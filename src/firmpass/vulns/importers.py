"""Importers: read a vulnerability data file, sniff its format, normalise it into the store.

Formats: NVD CVE API 2.0 JSON and the yearly 2.0 feed files, CVE JSON 5 records (one record, a
cvelistV5 tree, or a bundle such as OpenSSL's secjson), OSV JSON (one record or a list; curl's
vuln.json is OSV), CISA KEV JSON, FIRST EPSS CSV / JSON, ENISA EUVD JSON, curl's vulnerability
table, the Debian security tracker JSON, and triage files (CycloneDX VEX, OpenVEX, CSAF VEX).
`.gz` files are accepted and directories are walked.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from firmpass.errors import FirmpassError
from firmpass.vulns.cpe import NAME_TO_CPE, parse_cpe
from firmpass.vulns.cvssutil import make_score
from firmpass.vulns.nvd11 import is_nvd11, to_api20_feed
from firmpass.vulns.store import Store
from firmpass.vulns.versions import scheme_for

MAX_FILE = 2 * 1024**3  # decompressed bytes of one data file
CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,}$")


@dataclass
class ImportReport:
    files: int = 0
    by_format: dict[str, int] = field(default_factory=dict)  # format -> records
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def add(self, fmt: str, n: int) -> None:
        self.by_format[fmt] = self.by_format.get(fmt, 0) + n


# ---------------------------------------------------------------------------------------- reading
def read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        with gzip.open(path, "rb") as g:
            data = g.read(MAX_FILE + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError("file larger than 2 GiB once decompressed")
    return data


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    fp = Path(root) / f
                    if fp.suffix.lower() in (".json", ".gz", ".csv") and fp.is_file():
                        yield fp
        elif p.is_file():
            yield p
        else:
            raise FirmpassError("err.no_such_file", path=str(p))


def sniff(obj: Any) -> str | None:
    if isinstance(obj, list):
        if obj and isinstance(obj[0], dict):
            if "affected" in obj[0] and "id" in obj[0] and "modified" in obj[0]:
                return "osv"
            if "dataType" in obj[0] or "cveMetadata" in obj[0]:
                return "cve5"
            if obj[0].get("id", "").startswith("EUVD-"):
                return "euvd"
        return None
    if not isinstance(obj, dict):
        return None
    if is_nvd11(obj):
        return "nvd11"
    if obj.get("bomFormat") == "CycloneDX":
        return "cyclonedx-vex"
    if str(obj.get("@context", "")).startswith("https://openvex.dev"):
        return "openvex"
    if isinstance(obj.get("document"), dict) and "csaf_version" in obj["document"]:
        return "csaf-vex"
    if obj.get("format") == "NVD_CVE" or (isinstance(obj.get("vulnerabilities"), list) and obj["vulnerabilities"]
                                          and isinstance(obj["vulnerabilities"][0], dict)
                                          and isinstance(obj["vulnerabilities"][0].get("cve"), dict)):
        return "nvd"
    if "catalogVersion" in obj or (isinstance(obj.get("vulnerabilities"), list) and obj["vulnerabilities"]
                                   and "cveID" in obj["vulnerabilities"][0]):
        return "kev"
    if obj.get("dataType") == "CVE_RECORD" or "cveMetadata" in obj:
        return "cve5"
    if isinstance(obj.get("records"), list) and obj["records"] and "cveMetadata" in obj["records"][0]:
        return "cve5"
    if isinstance(obj.get("vulns"), list) and obj["vulns"] and "first_vulnerable" in obj["vulns"][0]:
        return "curl"
    if isinstance(obj.get("scores"), dict) or (isinstance(obj.get("data"), list) and obj["data"]
                                                and "epss" in obj["data"][0]):
        return "epss"
    if "schema_version" in obj and "affected" in obj or ("id" in obj and "modified" in obj and "affected" in obj):
        return "osv"
    if isinstance(obj.get("items"), list) and (not obj["items"] or str(obj["items"][0].get("id", "")).startswith("EUVD-")):
        return "euvd"
    if str(obj.get("id", "")).startswith("EUVD-"):
        return "euvd"
    if obj.get("bomFormat") == "CycloneDX":
        return "cyclonedx-vex"
    if str(obj.get("@context", "")).startswith("https://openvex.dev"):
        return "openvex"
    if isinstance(obj.get("document"), dict) and "csaf_version" in obj["document"]:
        return "csaf-vex"
    # Debian security tracker: {source_package: {CVE-...: {"releases": {...}}}}
    for k, v in list(obj.items())[:5]:
        if isinstance(v, dict) and v:
            inner = next(iter(v.values()))
            if isinstance(inner, dict) and "releases" in inner:
                return "debian-tracker"
    return None


# ---------------------------------------------------------------------------------------- NVD
def _nvd_cvss(metrics: dict) -> list[dict]:
    out = []
    for key in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        for m in metrics.get(key) or []:
            data = m.get("cvssData") or {}
            vec = data.get("vectorString")
            if not vec:
                continue
            sc = make_score(vec, data.get("baseScore"), m.get("source"))
            if sc:
                sc["type"] = m.get("type")
                out.append(sc)
    return out


def _en(descs: list[dict] | None) -> str | None:
    for d in descs or []:
        if d.get("lang", "en").startswith("en"):
            return d.get("value")
    return (descs or [{}])[0].get("value") if descs else None


def cpe_row(m: dict, config: int) -> dict | None:
    c = parse_cpe(m.get("criteria"))
    if c is None:
        return None
    row = {"kind": "cpe", "vendor": c.vendor, "product": c.product, "criteria": m.get("criteria"),
           "vulnerable": bool(m.get("vulnerable", True)), "config": config,
           "start_incl": m.get("versionStartIncluding"), "start_excl": m.get("versionStartExcluding"),
           "end_incl": m.get("versionEndIncluding"), "end_excl": m.get("versionEndExcluding")}
    if not any(row[k] for k in ("start_incl", "start_excl", "end_incl", "end_excl")):
        row["exact"] = c.full_version  # None = every version ("*")
    return row


def nvd_record(cve: dict, source: str = "nvd") -> dict:
    rows, multi = [], []
    for ci, conf in enumerate(cve.get("configurations") or []):
        nodes = conf.get("nodes") or []
        is_multi = len(nodes) > 1 or conf.get("operator") == "AND" and len(nodes) > 1
        idx = len(multi) if is_multi else -1
        if is_multi:
            multi.append({"operator": conf.get("operator", "OR"), "negate": bool(conf.get("negate")),
                          "nodes": [{"operator": n.get("operator", "OR"), "negate": bool(n.get("negate")),
                                     "cpeMatch": [{k: v for k, v in m.items() if k != "matchCriteriaId"}
                                                  for m in n.get("cpeMatch") or []]} for n in nodes]})
        for node in nodes:
            for m in node.get("cpeMatch") or []:
                # platform entries ("running on/with", vulnerable=false) are only kept inside `configs`
                if not m.get("vulnerable", True) and not is_multi:
                    continue
                r = cpe_row(m, idx)
                if r is not None and (r["vulnerable"] or is_multi):
                    if node.get("negate"):
                        r["note"] = "negated node"
                    rows.append(r)
    cwes: list[dict] = []
    for w in cve.get("weaknesses") or []:  # "NVD-CWE-Other" / "NVD-CWE-noinfo" are not CWE ids
        for d in w.get("description") or []:
            e = cwe_entry(d.get("value"))
            if e and e["id"] not in {c["id"] for c in cwes}:
                cwes.append(e)
    return {"vuln": {"id": cve["id"], "description": _en(cve.get("descriptions")), "published": cve.get("published"),
                     "modified": cve.get("lastModified"), "cvss": _nvd_cvss(cve.get("metrics") or {}),
                     "references": [r.get("url") for r in cve.get("references") or [] if r.get("url")], "cwes": cwes},
            "affected": rows, "configs": multi}


def parse_nvd(obj: dict) -> tuple[list[dict], str | None]:
    recs = [nvd_record(v["cve"]) for v in obj.get("vulnerabilities") or [] if isinstance(v, dict) and "cve" in v]
    # the data's own date: the feed's timestamp, else the newest lastModified of its records
    return recs, obj.get("timestamp") or newest_modified(recs)


def newest_modified(recs: list[dict]) -> str | None:
    """The newest `modified` date among imported records (ISO strings compare as dates), or None."""
    dates = [str(r["vuln"]["modified"]) for r in recs if r.get("vuln", {}).get("modified")]
    return max(dates) if dates else None


# ---------------------------------------------------------------------------------------- CVE 5
_CVE5_VENDOR = {("openssl", "openssl"): ("openssl", "openssl"), ("curl", "curl"): ("haxx", "curl"),
                ("haxx", "curl"): ("haxx", "curl"), ("busybox", "busybox"): ("busybox", "busybox")}


def _cve5_product(vendor: str, product: str) -> tuple[str, str]:
    v, p = vendor.strip().lower(), product.strip().lower()
    if (v, p) in _CVE5_VENDOR:
        return _CVE5_VENDOR[(v, p)]
    if p in NAME_TO_CPE:
        return NAME_TO_CPE[p]
    norm = lambda s: re.sub(r"[^a-z0-9._-]+", "_", s).strip("_")  # noqa: E731
    return norm(v), norm(p)


def cve5_record(rec: dict, authority_orgs: set[str] | None = None) -> dict | None:
    meta = rec.get("cveMetadata") or {}
    vid = meta.get("cveId")
    if not vid or meta.get("state", "PUBLISHED") != "PUBLISHED":
        return None
    cna = (rec.get("containers") or {}).get("cna") or {}
    cna_name = ((cna.get("providerMetadata") or {}).get("shortName") or "").lower()
    rows = []
    for aff in cna.get("affected") or []:
        vendor, product = _cve5_product(aff.get("vendor") or "", aff.get("product") or "")
        # the CNA is the vendor itself (OpenSSL for OpenSSL, curl for curl): its ranges are the authority
        authority = bool(cna_name) and (cna_name == vendor or cna_name == (aff.get("vendor") or "").lower()
                                        or (authority_orgs is not None and cna_name in authority_orgs))
        base = {"kind": "cpe", "vendor": vendor, "product": product, "authority": authority,
                "criteria": f"CVE5 {aff.get('vendor')}/{aff.get('product')}"}
        versions = aff.get("versions") or []
        affected_any = False
        for v in versions:
            if v.get("status") != "affected":
                continue
            affected_any = True
            r = dict(base, scheme=scheme_for(v.get("versionType")) if v.get("versionType") not in ("custom", "git") else None)
            ver = v.get("version")
            if v.get("lessThan") or v.get("lessThanOrEqual"):
                if ver not in (None, "0", "*", "n/a", "unspecified"):
                    r["start_incl"] = ver
                lt, le = v.get("lessThan"), v.get("lessThanOrEqual")
                if lt and lt != "*":
                    r["end_excl"] = lt
                if le and le != "*":
                    r["end_incl"] = le
            elif ver in (None, "*", "n/a", "unspecified"):
                r["exact"] = None
            else:
                r["exact"] = ver
            rows.append(r)
        if not affected_any and aff.get("defaultStatus") == "affected":
            rows.append(dict(base, exact=None, note="defaultStatus affected"))
    metrics = []
    vsev: list[dict] = []
    for m in cna.get("metrics") or []:
        # a CNA's own qualitative rating: OpenSSL writes its advisory severity (Low / Moderate / High /
        # Critical, per its security policy) as metrics[].other {type: <policy URL>, content: {text}}
        other = m.get("other") if isinstance(m.get("other"), dict) else None
        if other is not None and not vsev:
            content = other.get("content")
            text = content.get("text") if isinstance(content, dict) else content
            vsev = vendor_severity(cna_name or "cna", text)
        for k in ("cvssV4_0", "cvssV3_1", "cvssV3_0", "cvssV2_0"):
            if k in m and m[k].get("vectorString"):
                sc = make_score(m[k]["vectorString"], m[k].get("baseScore"), cna_name or "cna")
                if sc:
                    metrics.append(sc)
    cwes: list[dict] = []
    for pt in cna.get("problemTypes") or []:
        for d in pt.get("descriptions") or []:
            e = cwe_entry(d.get("cweId"), _cwe_name(d.get("description"), d.get("cweId"))) if d.get("cweId") else None
            if e and e["id"] not in {c["id"] for c in cwes}:
                cwes.append(e)
    return {"vuln": {"id": vid, "description": _en(cna.get("descriptions")), "published": cna.get("datePublic")
                     or meta.get("datePublished"), "modified": meta.get("dateUpdated"), "cvss": metrics,
                     "references": [r.get("url") for r in cna.get("references") or [] if r.get("url")], "cwes": cwes,
                     **({"vendor_severity": vsev} if vsev else {})},
            "affected": rows}


def _cwe_name(desc: Any, cwe_id: Any) -> str | None:
    """CVE 5 problem type text: "CWE-125 Out-of-bounds Read" -> "Out-of-bounds Read"."""
    d = str(desc or "").strip()
    d = re.sub(rf"^{re.escape(str(cwe_id or ''))}\s*[:\-]?\s*", "", d, flags=re.I) if cwe_id else d
    return d or None


# ---------------------------------------------------------------------------------------- OSV
_PURL_ECO = {"deb": "debian", "pypi": "pypi", "npm": "npm", "maven": "maven", "nuget": "nuget", "gem": "rubygems",
             "composer": "packagist", "golang": "go", "cargo": "crates.io", "apk": "alpine", "rpm": "rpm",
             "hex": "hex", "pub": "pub", "swift": "swift", "conan": "conan", "generic": "generic", "github": "github"}


def osv_record(rec: dict) -> dict:
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


# ---------------------------------------------------------------------------------------- vendor severity, CWE
VENDOR_SEVERITIES = ("critical", "high", "medium", "low")
_SEV_WORDS = {"moderate": "medium", "important": "high"}  # GitHub's MODERATE; "important" as Red Hat says it
_CWE_RE = re.compile(r"^\s*(CWE-\d+)\s*(?::\s*(.*\S))?\s*$", re.I)


def vendor_severity(source: str, value: Any) -> list[dict]:
    """[{source, severity}] for a publisher's own qualitative rating (curl's low..critical), or []
    when the value is not one of the four levels.  Never turned into a CVSS score."""
    sev = str(value or "").strip().lower()
    sev = _SEV_WORDS.get(sev, sev)
    return [{"source": source, "severity": sev}] if sev in VENDOR_SEVERITIES else []


def cwe_entry(value: Any, name: str | None = None) -> dict | None:
    """"CWE-297: Improper Validation ..." (curl's table), "CWE-122" (+ name) -> {id, name?}."""
    m = _CWE_RE.match(str(value or ""))
    if not m:
        return None
    d = {"id": m.group(1).upper()}
    if m.group(2) or name:
        d["name"] = m.group(2) or str(name).strip()
    return d


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


# ---------------------------------------------------------------------------------------- curl table
def curl_table_record(v: dict) -> dict | None:
    if not v.get("cve") or not v.get("first_vulnerable"):
        return None
    scope = (v.get("scope") or "").lower()
    products = ["curl"] if scope == "tool" else ["libcurl"] if scope == "lib" else ["curl", "libcurl"]
    rows = [{"kind": "cpe", "vendor": "haxx", "product": p, "authority": True,
             "start_incl": v["first_vulnerable"], "end_incl": v.get("last_vulnerable") or None,
             "criteria": f"curl advisory {v['cve']} ({v.get('page', '')})", "note": f"scope {scope or 'both'}"}
            for p in products]
    d = v.get("announce_date") or ""
    pub = f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 else None
    cwe = cwe_entry(v.get("cwe"))
    return {"vuln": {"id": v["cve"], "description": v.get("name"), "published": pub,
                     "references": [f"https://curl.se/docs/{v['page']}"] if v.get("page") else [],
                     "vendor_severity": vendor_severity("curl", v.get("severity")), "cwes": [cwe] if cwe else []},
            "affected": rows}


# ---------------------------------------------------------------------------------------- EUVD
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_EUVD_DATE = re.compile(r"^([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4})(?:,? (\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$")


def euvd_date(s: Any) -> str | None:
    """EUVD writes dates as "Apr 16, 2025, 7:00:16 AM" (UTC): -> "2025-04-16T07:00:16Z", or
    "2025-04-16" when the time is midnight (exploitedSince is a day).  ISO input is kept."""
    s = str(s or "").strip()
    if not s:
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}", s):
        return s[:40]  # the store's date columns hold 40 characters (PostgreSQL enforces it)
    m = _EUVD_DATE.match(s)
    if not m or m.group(1).lower() not in _MONTHS:
        return s[:40]  # kept as given rather than lost
    day = f"{m.group(3)}-{_MONTHS[m.group(1).lower()]:02d}-{int(m.group(2)):02d}"
    if m.group(4) is None:
        return day
    h, mi, sec = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
    if m.group(7):
        h = h % 12 + (12 if m.group(7).lower() == "pm" else 0)
    return day if (h, mi, sec) == (0, 0, 0) else f"{day}T{h:02d}:{mi:02d}:{sec:02d}Z"


_NA = ("", "n/a", "na", "-", "*", "unspecified", "unknown")
_EUVD_RANGE = re.compile(r"^(?:(>=|>)?\s*([^\s,<>=]+)\s*,?\s*)?(<=|<)\s*([^\s,<>=]+)$")


_GIT_ID = re.compile(r"\b[0-9a-f]{40}\b")


def _euvd_row(eid: str, vendor_name: str, pname: str, pv: str) -> dict | None:
    """One enisaIdProduct entry -> an applicability row, or None when it names no version range:
    "n/a" products (CVE records without product data), git commit ranges ("1da177e4... <9887d859...",
    the Linux CNA's: compared as versions they would hold every release) and "patch: 6.6.64"
    entries (CVE 5 'unaffected' versions the EUVD flattens: where a fix is, not what is affected)."""
    if pname.strip().lower() in _NA:
        return None
    if _GIT_ID.search(pv) or pv.lower().startswith("patch:"):
        return None
    vendor, product = _cve5_product(vendor_name if vendor_name.strip().lower() not in _NA else pname, pname)
    r = {"kind": "cpe", "vendor": vendor, "product": product, "criteria": f"EUVD {eid} {pname} {pv}".rstrip()}
    m = _EUVD_RANGE.match(pv)
    if m:
        if m.group(2) and m.group(2) not in ("0", "*"):
            r["start_excl" if m.group(1) == ">" else "start_incl"] = m.group(2)
        r["end_incl" if m.group(3) == "<=" else "end_excl"] = m.group(4)
    elif pv.lower() not in _NA:
        r["exact"] = pv
    return r


def euvd_record(it: dict) -> dict | None:
    """One item of an ENISA EUVD API answer (search, exploitedvulnerabilities ...).  The vulnerability
    is filed under its CVE alias when it has one (so it meets NVD / vendor data), else its EUVD id;
    exploitedSince becomes evidence of exploitation (record["exploited"])."""
    eid = it.get("id")
    if not eid:
        return None
    aliases = [a.strip() for a in re.split(r"[\n,]", it.get("aliases") or "") if a.strip()] \
        if isinstance(it.get("aliases"), str) else list(it.get("aliases") or [])
    cves = [a for a in aliases if CVE_RE.match(a)]
    vid = cves[0] if cves else eid
    rows = []
    vendors = [((x.get("vendor") or {}).get("name") or "") for x in it.get("enisaIdVendor") or []]
    for x in it.get("enisaIdProduct") or []:
        prod = x.get("product") or {}
        pname = prod.get("name") or ""
        vname = ((prod.get("vendor") or {}).get("name") if isinstance(prod.get("vendor"), dict) else None) \
            or (vendors[0] if vendors else "")
        r = _euvd_row(eid, vname, pname, (x.get("product_version") or "").strip())
        if r is not None:
            rows.append(r)
    cv = []
    if it.get("baseScoreVector"):
        vec = it["baseScoreVector"]
        if not vec.startswith(("CVSS:", "AV:")) and it.get("baseScoreVersion"):
            vec = f"CVSS:{it['baseScoreVersion']}/{vec}"
        sc = make_score(vec, it.get("baseScore"), "enisa")
        if sc:
            cv.append(sc)
    refs = it.get("references") or ""
    refs = [r.strip() for r in (refs.split("\n") if isinstance(refs, str) else refs) if r and r.strip()]
    out = {"vuln": {"id": vid, "description": it.get("description"), "published": euvd_date(it.get("datePublished")),
                    "modified": euvd_date(it.get("dateUpdated")), "cvss": cv, "aliases": sorted(set(aliases + [eid]) - {vid}),
                    "references": refs}, "affected": rows}
    since = euvd_date(it.get("exploitedSince"))
    out["exploited"] = [{"cve": vid, "since": since, "ref": eid}] if since else []
    return out


# ---------------------------------------------------------------------------------------- import driver
def _epss_rows(obj: Any, text: str | None) -> tuple[list[dict], str | None]:
    rows, date = [], None
    if text is not None:  # CSV: '#model_version:v2023.03.01,score_date:2024-01-01T00:00:00+0000' then cve,epss,percentile
        lines = text.splitlines()
        if lines and lines[0].startswith("#"):
            m = re.search(r"score_date:([0-9-]{10})", lines[0])
            date = m.group(1) if m else None
            lines = lines[1:]
        for r in csv.DictReader(io.StringIO("\n".join(lines))):
            try:
                rows.append({"cve": r["cve"], "score": float(r["epss"]), "percentile": float(r.get("percentile") or 0),
                             "date": date})
            except (KeyError, ValueError):
                continue
        return rows, date
    if isinstance(obj.get("scores"), dict):
        date = ((obj.get("_meta") or {}).get("commit_date") or "")[:10] or None
        for cve, s in obj["scores"].items():
            rows.append({"cve": cve, "score": float(s.get("epss", 0)), "percentile": float(s.get("percentile", 0)),
                         "date": s.get("date") or date})
    else:
        for s in obj.get("data") or []:
            rows.append({"cve": s["cve"], "score": float(s["epss"]), "percentile": float(s.get("percentile", 0)),
                         "date": s.get("date")})
            date = date or s.get("date")
    return rows, date


def _debian_rows(obj: dict) -> list[dict]:
    rows = []
    for pkg, cves in obj.items():
        if not isinstance(cves, dict):
            continue
        for cve, info in cves.items():
            for rel, r in ((info or {}).get("releases") or {}).items():
                rows.append({"distro": "debian", "release": rel, "package": pkg, "vuln_id": cve,
                             "status": r.get("status"), "fixed_version": r.get("fixed_version"),
                             "urgency": r.get("urgency")})
    return rows


def import_paths(store: Store, paths: list[Path], progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import every data file under `paths` into `store` (one transaction per file)."""
    from firmpass.vulns import vex as vexmod

    rep = ImportReport()
    batch: dict[str, list] = {}
    origins: dict[str, str] = {}
    # one transaction for the whole import: a file that is not what it claims (shape_error) or any
    # failure part-way rolls everything back, so no table is emptied or half-replaced
    with store.session() as s, s.begin():
        _import_all(store, s, paths, rep, batch, origins, progress, vexmod)
    return rep


NVD_STREAM_BATCH = 2000


def _open_decoded(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _is_nvd_feed(path: Path) -> bool:
    """An NVD API 2.0 feed file (its header names the format before the vulnerabilities list)."""
    try:
        with _open_decoded(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError, zlib.error):
        return False
    return re.search(rb'"format"\s*:\s*"NVD_CVE"', head) is not None


def _stream_nvd(store: Store, s, fp: Path, rep: ImportReport) -> None:
    """An NVD feed read as a stream (ijson): records are parsed and stored 2000 at a time, so a feed
    of any size costs the memory of one batch (B12: json.loads of a 500 MB feed peaked at 3.5 GB).
    Each entry's shape is checked as it comes; a bad one raises and the import's one transaction
    rolls back."""
    import ijson
    from ijson.common import ObjectBuilder

    batch: list[dict] = []
    meta: dict[str, Any] = {}
    total = 0
    builder = None
    newest: str | None = None  # the data's own date when the feed names none: its newest lastModified

    def flush() -> None:
        nonlocal total, newest
        if not batch:
            return
        recs, _ = parse_nvd({"vulnerabilities": batch})
        n = newest_modified(recs)
        if n and (newest is None or n > newest):
            newest = n
        total += store.ingest_vulns(s, "nvd", recs)
        s.flush()
        s.expunge_all()  # rows already written: the session keeps no objects between batches
        batch.clear()

    with _open_decoded(fp) as fh:
        for prefix, event, value in ijson.parse(fh, use_float=True):
            if builder is not None:
                builder.event(event, value)
                if prefix == "vulnerabilities.item" and event == "end_map":
                    item = builder.value
                    builder = None
                    if not (isinstance(item.get("cve"), dict) and isinstance(item["cve"].get("id"), str)):
                        raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd",
                                            detail="an entry has no cve.id")
                    batch.append(item)
                    if len(batch) >= NVD_STREAM_BATCH:
                        flush()
            elif prefix == "vulnerabilities.item":
                if event != "start_map":
                    raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd",
                                        detail="a 'vulnerabilities' entry is not an object")
                builder = ObjectBuilder()
                builder.event(event, value)
            elif prefix in ("timestamp", "format", "version") and event in ("string", "number"):
                meta[prefix] = value
    flush()
    store.touch_source(s, "nvd", "nvd", _count(store, s, "nvd"), str(fp), meta.get("timestamp") or newest)
    rep.files += 1
    rep.add("nvd", total)


def _import_all(store, s, paths, rep, batch, origins, progress, vexmod) -> None:
    for fp in iter_files(paths):
        if progress:
            progress(str(fp))
        if _is_nvd_feed(fp):
            try:
                _stream_nvd(store, s, fp, rep)
            except FirmpassError:
                raise
            except Exception as e:  # noqa: BLE001 - ijson errors, truncated gzip: the whole import rolls back
                from firmpass.i18n import exc_detail
                raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd", detail=exc_detail(e)) from None
            continue
        try:
            data = read_bytes(fp)
        except (OSError, ValueError, EOFError) as e:
            rep.skipped.append((str(fp), f"unreadable: {e}"))
            continue
        name = fp.name.lower().removesuffix(".gz")
        obj, text = None, None
        if name.endswith(".csv"):
            text = data.decode("utf-8", "replace")
            fmt = "epss" if "epss" in text[:300].lower() else None
        else:
            try:
                obj = json.loads(data)
            except ValueError:
                rep.skipped.append((str(fp), "not JSON"))
                continue
            fmt = sniff(obj)
        if fmt is None:
            rep.skipped.append((str(fp), "format not recognised"))
            continue
        bad = shape_error(fmt, obj, text)
        if bad:
            raise FirmpassError("db.err.bad_shape", path=str(fp), format=fmt, detail=bad)
        rep.files += 1
        # one-record files (a cvelistV5 tree, an OSV dump) are batched: one transaction per 2000 files
        if fmt in ("cve5", "osv") and isinstance(obj, dict) and "records" not in obj:
            key = fmt
            batch.setdefault(key, []).append(obj)
            origins[key] = str(fp.parent)
            if len(batch[key]) >= 2000:
                _flush(store, s, key, batch, origins, rep, vexmod)
            continue
        n = _import_one(store, s, fmt, obj, text, str(fp), vexmod)
        s.flush()
        rep.add(fmt, n)
    for key in list(batch):
        _flush(store, s, key, batch, origins, rep, vexmod)


def _flush(store: Store, s, key: str, batch: dict, origins: dict, rep: ImportReport, vexmod) -> None:
    objs = batch.pop(key, [])
    if not objs:
        return
    n = _import_one(store, s, key, objs, None, origins.get(key, ""), vexmod)
    s.flush()
    rep.add(key, n)


_CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    """Why a file recognised as `fmt` does not have that format's shape (English detail), or None.
    Checked before anything is written: formats that replace a whole table (KEV, the Debian tracker,
    EPSS) must never empty it from a file that only looks like them (`{"catalogVersion": "x"}`)."""
    if fmt == "kev":
        vs = obj.get("vulnerabilities")
        if not isinstance(vs, list):  # an explicit empty list is a (real, if rare) empty catalogue
            return "no 'vulnerabilities' list"
        if not isinstance(obj.get("catalogVersion", ""), str):
            return "'catalogVersion' is not a string"
        bad = sum(1 for v in vs if not (isinstance(v, dict) and isinstance(v.get("cveID"), str)
                                        and _CVE.fullmatch(v["cveID"])))
        if bad:
            return f"{bad} of {len(vs)} entries have no valid cveID"
        for k in ("dateAdded", "dueDate", "vulnerabilityName", "requiredAction", "knownRansomwareCampaignUse"):
            if any(not isinstance(v.get(k, ""), (str, type(None))) for v in vs):
                return f"'{k}' is not a string in every entry"
    elif fmt == "nvd":
        vs = obj.get("vulnerabilities")
        if not isinstance(vs, list):
            return "'vulnerabilities' is not a list"
        if any(not (isinstance(v, dict) and isinstance(v.get("cve"), dict) and isinstance(v["cve"].get("id"), str))
               for v in vs):
            return "an entry has no cve.id"
    elif fmt == "debian-tracker":
        if any(not isinstance(v, dict) or any(not isinstance(i, dict) for i in v.values()) for v in obj.values()):
            return "a package entry is not an object of CVE objects"
    elif fmt == "epss":
        if obj is not None and isinstance(obj.get("data"), list) and any(not isinstance(r, dict) for r in obj["data"]):
            return "a 'data' row is not an object"
    elif fmt == "euvd":
        items = obj.get("items") if isinstance(obj, dict) and "items" in obj else obj if isinstance(obj, list) else [obj]
        if not isinstance(items, list) or any(not isinstance(x, dict) for x in items):
            return "'items' is not a list of objects"
    elif fmt == "curl":
        if any(not isinstance(v, dict) for v in obj["vulns"]):
            return "a 'vulns' entry is not an object"
    return None


def _import_one(store: Store, s, fmt: str, obj: Any, text: str | None, origin: str, vexmod) -> int:
    if fmt == "nvd11":  # legacy feed: re-laid into the API 2.0 shape, then one importer for both
        fmt, obj = "nvd", to_api20_feed(obj)
    if fmt == "nvd":
        recs, ts = parse_nvd(obj)
        n = store.ingest_vulns(s, "nvd", recs)
        store.touch_source(s, "nvd", "nvd", _count(store, s, "nvd"), origin, ts)
        return n
    if fmt == "cve5":
        raw = obj["records"] if isinstance(obj, dict) and "records" in obj else obj if isinstance(obj, list) else [obj]
        recs = [r for r in (cve5_record(x) for x in raw) if r]
        groups: dict[str, list] = {}
        for r in recs:  # vendor-authored records form their own source (vendor:openssl)
            auth = [a for a in r["affected"] if a.get("authority")]
            src = f"vendor:{auth[0]['product']}" if auth else "cve5"
            groups.setdefault(src, []).append(r)
        n = 0
        for src, rs in groups.items():
            n += store.ingest_vulns(s, src, rs)
            date = ((obj.get("_meta") or {}).get("commit_date") if isinstance(obj, dict) else None) or newest_modified(rs)
            store.touch_source(s, src, "cve5", _count(store, s, src), origin, date)
        return n
    if fmt == "osv":
        raw = obj if isinstance(obj, list) else [obj]
        recs = [osv_record(x) for x in raw if isinstance(x, dict) and x.get("id")]
        src = "vendor:curl" if recs and all(r["vuln"]["aliases"] and any(a.startswith("CURL-") for a in r["vuln"]["aliases"])
                                            or r["vuln"]["id"].startswith("CURL-") for r in recs) else "osv"
        n = store.ingest_vulns(s, src, recs)
        store.touch_source(s, src, "osv", _count(store, s, src), origin, newest_modified(recs))
        return n
    if fmt == "curl":
        recs = [r for r in (curl_table_record(v) for v in obj["vulns"]) if r]
        n = store.ingest_vulns(s, "vendor:curl", recs)
        store.touch_source(s, "vendor:curl", "vendor", _count(store, s, "vendor:curl"), origin,
                           ((obj.get("_meta") or {}).get("commit_date")))
        return n
    if fmt == "euvd":
        items = obj.get("items") if isinstance(obj, dict) and "items" in obj else obj if isinstance(obj, list) else [obj]
        recs = [r for r in (euvd_record(x) for x in items if isinstance(x, dict)) if r]
        n = store.ingest_vulns(s, "euvd", recs)
        # exploitation as of these records: a record now without exploitedSince loses its mark
        store.replace_exploited(s, "euvd", [e for r in recs for e in r["exploited"]], ids=[r["vuln"]["id"] for r in recs])
        store.touch_source(s, "euvd", "euvd", _count(store, s, "euvd"), origin)
        return n
    if fmt == "kev":
        rows = [{"cve": v["cveID"], "date_added": v.get("dateAdded"), "due_date": v.get("dueDate"),
                 "ransomware": v.get("knownRansomwareCampaignUse"), "name": v.get("vulnerabilityName"),
                 "required_action": v.get("requiredAction")} for v in obj.get("vulnerabilities") or [] if v.get("cveID")]
        rows = list({r["cve"]: r for r in rows}.values())
        store.replace_kev(s, rows)
        store.touch_source(s, "kev", "kev", len(rows), origin, obj.get("dateReleased") or obj.get("catalogVersion"))
        return len(rows)
    if fmt == "epss":
        rows, date = _epss_rows(obj, text)
        rows = list({r["cve"]: r for r in rows}.values())
        store.upsert_epss(s, rows)
        from sqlalchemy import func, select

        from firmpass.vulns.store import EpssRow
        store.touch_source(s, "epss", "epss", s.scalar(select(func.count()).select_from(EpssRow)), origin, date)
        return len(rows)
    if fmt == "debian-tracker":
        rows = _debian_rows(obj)
        store.replace_distro_fix(s, "debian", rows)
        from sqlalchemy import func, select

        from firmpass.vulns.store import DistroFixRow
        store.touch_source(s, "debian-tracker", "distro", s.scalar(select(func.count()).select_from(DistroFixRow)), origin)
        return len(rows)
    if fmt in ("cyclonedx-vex", "openvex", "csaf-vex"):
        stmts = vexmod.parse_triage(obj, origin)
        n = store.upsert_triage(s, stmts)
        store.touch_source(s, "triage", "vex", n, origin, add=True)
        return n
    raise AssertionError(fmt)


def _count(store: Store, s, source: str) -> int:
    from sqlalchemy import distinct, func, select

    from firmpass.vulns.store import AffectedRow
    return s.scalar(select(func.count(distinct(AffectedRow.vuln_id))).where(AffectedRow.source == source)) or 0
