"""NVD's legacy JSON 1.1 feeds (nvdcve-1.1-YYYY.json[.gz], `CVE_Items`), read by re-laying each item
into the CVE API 2.0 shape that importers.nvd_record already understands.

NVD stopped publishing the 1.1 feeds in 2023, but offline mirrors, air-gapped labs and older tools
still hold them, and years of history sit in that layout.  No maintained Python library converts the
two layouts (nvdlib and others talk to the live 2.0 API only), so the mapping is written here; it is
field-for-field and keeps nothing that the 2.0 importer would not keep.

1.1 configurations are a list of nodes; a node with `children` is an AND (or OR) of child nodes,
which the 2.0 API writes as one configuration with several nodes.
"""
from __future__ import annotations

from typing import Any


def is_nvd11(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("CVE_Items"), list)


def _match(m: dict) -> dict | None:
    uri = m.get("cpe23Uri")
    if not uri:
        return None
    out = {"vulnerable": bool(m.get("vulnerable", True)), "criteria": uri}
    for k in ("versionStartIncluding", "versionStartExcluding", "versionEndIncluding", "versionEndExcluding"):
        if m.get(k):
            out[k] = m[k]
    return out


def _node(n: dict) -> dict:
    return {"operator": n.get("operator", "OR"), "negate": bool(n.get("negate")),
            "cpeMatch": [x for x in (_match(m) for m in n.get("cpe_match") or []) if x]}


def _configurations(conf: dict | None) -> list[dict]:
    out = []
    for n in (conf or {}).get("nodes") or []:
        if not isinstance(n, dict):
            continue
        children = [c for c in n.get("children") or [] if isinstance(c, dict)]
        if children:  # AND/OR of several nodes: one 2.0 configuration with several nodes
            out.append({"operator": n.get("operator", "AND"), "negate": bool(n.get("negate")),
                        "nodes": [_node(c) for c in children]})
        elif n.get("cpe_match"):
            out.append({"nodes": [_node(n)]})
    return out


def _metrics(impact: dict | None) -> dict:
    impact = impact or {}
    metrics: dict[str, list] = {}
    v3 = (impact.get("baseMetricV3") or {}).get("cvssV3")
    if isinstance(v3, dict) and v3.get("vectorString"):
        key = "cvssMetricV31" if str(v3.get("version")) == "3.1" else "cvssMetricV30"
        metrics[key] = [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": v3}]
    bm2 = impact.get("baseMetricV2") or {}
    v2 = bm2.get("cvssV2")
    if isinstance(v2, dict) and v2.get("vectorString"):
        metrics["cvssMetricV2"] = [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": v2,
                                    "baseSeverity": bm2.get("severity")}]
    return metrics


def to_api20(item: dict) -> dict | None:
    """One CVE_Items entry -> the `cve` object of an API 2.0 `vulnerabilities` entry (None if unusable)."""
    cve = item.get("cve") if isinstance(item, dict) else None
    if not isinstance(cve, dict):
        return None
    cid = (cve.get("CVE_data_meta") or {}).get("ID")
    if not cid:
        return None
    descs = [{"lang": d.get("lang", "en"), "value": d.get("value", "")}
             for d in (cve.get("description") or {}).get("description_data") or [] if isinstance(d, dict)]
    refs = [{"url": r["url"], "source": r.get("refsource"), "tags": r.get("tags") or []}
            for r in (cve.get("references") or {}).get("reference_data") or [] if isinstance(r, dict) and r.get("url")]
    cwes = [{"source": "nvd@nist.gov", "type": "Primary", "description": [d for d in p.get("description") or []]}
            for p in (cve.get("problemtype") or {}).get("problemtype_data") or [] if isinstance(p, dict)]
    return {"id": cid, "published": item.get("publishedDate"), "lastModified": item.get("lastModifiedDate"),
            "descriptions": descs, "references": refs, "weaknesses": cwes,
            "metrics": _metrics(item.get("impact")), "configurations": _configurations(item.get("configurations"))}


def to_api20_feed(obj: dict) -> dict:
    """A whole 1.1 feed -> an API 2.0 response body (format NVD_CVE, version 2.0)."""
    vulns = [{"cve": c} for c in (to_api20(it) for it in obj.get("CVE_Items") or []) if c]
    return {"format": "NVD_CVE", "version": "2.0", "timestamp": obj.get("CVE_data_timestamp"),
            "totalResults": len(vulns), "vulnerabilities": vulns, "_converted_from": "NVD JSON 1.1"}
