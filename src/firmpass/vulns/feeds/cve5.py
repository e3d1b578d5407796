"""CVE JSON 5 records: one record, a cvelistV5 tree (batched), or a bundle (`records`, OpenSSL's
secjson).  Records authored by a vendor CNA form their own source (vendor:<product>)."""
from __future__ import annotations

import re
from typing import Any

from firmpass.vulns.cpe import NAME_TO_CPE
from firmpass.vulns.cvssutil import make_score
from firmpass.vulns.feeds.common import (VulnRecord, count_vulns, cwe_entry, cwe_name, english, newest_modified,
                                         vendor_severity)
from firmpass.vulns.versions import scheme_for

FORMATS = ("cve5",)
BATCH = True


def sniff(obj: Any) -> str | None:
    if isinstance(obj, list):
        return "cve5" if obj and isinstance(obj[0], dict) and ("dataType" in obj[0] or "cveMetadata" in obj[0]) else None
    if not isinstance(obj, dict):
        return None
    if obj.get("dataType") == "CVE_RECORD" or "cveMetadata" in obj:
        return "cve5"
    if isinstance(obj.get("records"), list) and obj["records"] and "cveMetadata" in obj["records"][0]:
        return "cve5"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
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
        store.touch_source(s, src, "cve5", count_vulns(store, s, src), origin, date)
    return n


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


def cve5_record(rec: dict, authority_orgs: set[str] | None = None) -> VulnRecord | None:
    """One published CVE 5 record as a store record (None for a reserved or rejected id)."""
    meta = rec.get("cveMetadata") or {}
    vid = meta.get("cveId")
    if not vid or meta.get("state", "PUBLISHED") != "PUBLISHED":
        return None
    cna = (rec.get("containers") or {}).get("cna") or {}
    cna_name = ((cna.get("providerMetadata") or {}).get("shortName") or "").lower()
    rows = [r for aff in cna.get("affected") or [] for r in _affected(aff, cna_name, authority_orgs)]
    metrics, vsev = _scores(cna, cna_name)
    return {"vuln": {"id": vid, "description": english(cna.get("descriptions")), "published": cna.get("datePublic")
                     or meta.get("datePublished"), "modified": meta.get("dateUpdated"), "cvss": metrics,
                     "references": [r.get("url") for r in cna.get("references") or [] if r.get("url")],
                     "cwes": _cwes(cna), **({"vendor_severity": vsev} if vsev else {})},
            "affected": rows}


def _affected(aff: dict, cna_name: str, authority_orgs: set[str] | None) -> list[dict[str, Any]]:
    """The applicability rows of one `affected` entry: one per affected version or range, or one for
    every version when only defaultStatus says affected."""
    vendor, product = _cve5_product(aff.get("vendor") or "", aff.get("product") or "")
    # the CNA is the vendor itself (OpenSSL for OpenSSL, curl for curl): its ranges are the authority
    authority = bool(cna_name) and (cna_name == vendor or cna_name == (aff.get("vendor") or "").lower()
                                    or (authority_orgs is not None and cna_name in authority_orgs))
    base = {"kind": "cpe", "vendor": vendor, "product": product, "authority": authority,
            "criteria": f"CVE5 {aff.get('vendor')}/{aff.get('product')}"}
    rows = [_version_row(base, v) for v in aff.get("versions") or [] if v.get("status") == "affected"]
    if not rows and aff.get("defaultStatus") == "affected":
        rows.append(dict(base, exact=None, note="defaultStatus affected"))
    return rows


def _version_row(base: dict[str, Any], v: dict) -> dict[str, Any]:
    """BASE with the version or range of one affected `versions` entry (an open start when "0" / "*")."""
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
    return r


def _scores(cna: dict, cna_name: str) -> tuple[list, list[dict]]:
    """The CNA's CVSS scores (v4.0 to v2.0) and its own qualitative rating when it gives one."""
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
    return metrics, vsev


def _cwes(cna: dict) -> list[dict]:
    """The CWEs of the CNA's problem types, each once, with their names."""
    cwes: list[dict] = []
    for pt in cna.get("problemTypes") or []:
        for d in pt.get("descriptions") or []:
            e = cwe_entry(d.get("cweId"), cwe_name(d.get("description"), d.get("cweId"))) if d.get("cweId") else None
            if e and e["id"] not in {c["id"] for c in cwes}:
                cwes.append(e)
    return cwes
