"""curl's own vulnerability table (vuln.pm as JSON: first/last vulnerable version per issue)."""
from __future__ import annotations

from typing import Any

from firmpass.vulns.feeds.common import VulnRecord, count_vulns, cwe_entry, vendor_severity

FORMATS = ("curl",)


def sniff(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("vulns"), list) and obj["vulns"] and "first_vulnerable" in obj["vulns"][0]:
        return "curl"
    return None


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    if any(not isinstance(v, dict) for v in obj["vulns"]):
        return "a 'vulns' entry is not an object"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    recs = [r for r in (curl_table_record(v) for v in obj["vulns"]) if r]
    n = store.ingest_vulns(s, "vendor:curl", recs)
    store.touch_source(s, "vendor:curl", "vendor", count_vulns(store, s, "vendor:curl"), origin,
                       ((obj.get("_meta") or {}).get("commit_date")))
    return n


def curl_table_record(v: dict) -> VulnRecord | None:
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
