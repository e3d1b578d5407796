"""ENISA EUVD JSON (search API pages, dumps, single records): vulnerabilities and exploitation
(exploitedSince).  `db update` pages the search API from the last update (update.update_euvd)."""
from __future__ import annotations

import re
from typing import Any

from firmpass.vulns.cvssutil import make_score
from firmpass.vulns.feeds.common import CVE_RE, VulnRecord, count_vulns
from firmpass.vulns.feeds.cve5 import _cve5_product

FORMATS = ("euvd",)
LABEL = "EUVD"
UPDATE_URL = "https://euvdservices.enisa.europa.eu/api/search"


def sniff(obj: Any) -> str | None:
    if isinstance(obj, list):
        return "euvd" if obj and isinstance(obj[0], dict) and str(obj[0].get("id", "")).startswith("EUVD-") else None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("items"), list) and (not obj["items"] or str(obj["items"][0].get("id", "")).startswith("EUVD-")):
        return "euvd"
    if str(obj.get("id", "")).startswith("EUVD-"):
        return "euvd"
    return None


def _items(obj: Any) -> Any:
    return obj.get("items") if isinstance(obj, dict) and "items" in obj else obj if isinstance(obj, list) else [obj]


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    items = _items(obj)
    if not isinstance(items, list) or any(not isinstance(x, dict) for x in items):
        return "'items' is not a list of objects"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    recs = [r for r in (euvd_record(x) for x in _items(obj) if isinstance(x, dict)) if r]
    n = store.ingest_vulns(s, "euvd", recs)
    # exploitation as of these records: a record now without exploitedSince loses its mark
    store.replace_exploited(s, "euvd", [e for r in recs for e in r["exploited"]], ids=[r["vuln"]["id"] for r in recs])
    store.touch_source(s, "euvd", "euvd", count_vulns(store, s, "euvd"), origin)
    return n


def update(store, url: str, progress=None) -> int:
    from firmpass.vulns.update import update_euvd

    return update_euvd(store, url, progress=progress)


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


def euvd_record(it: dict) -> VulnRecord | None:
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
