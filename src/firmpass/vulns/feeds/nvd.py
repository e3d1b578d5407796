"""NVD: the CVE API 2.0 JSON (pages and the yearly feed files; a large feed file is streamed by
importers._stream_nvd).  `db update` pages the API from the last update (update.update_nvd)."""
from __future__ import annotations

from typing import Any

from firmpass.vulns.cpe import parse_cpe
from firmpass.vulns.cvssutil import make_score
from firmpass.vulns.feeds.common import english, VulnRecord, count_vulns, cwe_entry, newest_modified

FORMATS = ("nvd",)
LABEL = "NVD"
UPDATE_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"


def sniff(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    vs = obj.get("vulnerabilities")
    if obj.get("format") == "NVD_CVE" or (isinstance(vs, list) and vs and isinstance(vs[0], dict)
                                          and isinstance(vs[0].get("cve"), dict)):
        return "nvd"
    return None


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    vs = obj.get("vulnerabilities")
    if not isinstance(vs, list):
        return "'vulnerabilities' is not a list"
    if any(not (isinstance(v, dict) and isinstance(v.get("cve"), dict) and isinstance(v["cve"].get("id"), str))
           for v in vs):
        return "an entry has no cve.id"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    recs, ts = parse_nvd(obj)
    n = store.ingest_vulns(s, "nvd", recs)
    store.touch_source(s, "nvd", "nvd", count_vulns(store, s, "nvd"), origin, ts)
    return n


def update(store, url: str, progress=None) -> int:
    import os

    from firmpass.vulns.update import update_nvd

    return update_nvd(store, url, api_key=os.environ.get("NVD_API_KEY"), progress=progress)


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


def nvd_record(cve: dict, source: str = "nvd") -> VulnRecord:
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
    return {"vuln": {"id": cve["id"], "description": english(cve.get("descriptions")), "published": cve.get("published"),
                     "modified": cve.get("lastModified"), "cvss": _nvd_cvss(cve.get("metrics") or {}),
                     "references": [r.get("url") for r in cve.get("references") or [] if r.get("url")], "cwes": cwes},
            "affected": rows, "configs": multi}


def parse_nvd(obj: dict) -> tuple[list[VulnRecord], str | None]:
    recs = [nvd_record(v["cve"]) for v in obj.get("vulnerabilities") or [] if isinstance(v, dict) and "cve" in v]
    # the data's own date: the feed's timestamp, else the newest lastModified of its records
    return recs, obj.get("timestamp") or newest_modified(recs)
