"""VEX out as CycloneDX 1.5: the scan's vulnerabilities with their analysis, ratings and firmpass's
match facts, on the components they affect."""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from firmpass import __version__
from firmpass.model import Component, ScanResult, Vulnerability
from firmpass.vulns.vex.common import STATE_TO_CDX, detail_str, now_iso


def to_cyclonedx_vex(result: ScanResult) -> dict:
    """The scan's vulnerabilities as a CycloneDX 1.5 VEX document on the firmware image."""
    comps = {c.bom_ref: c for c in result.components}
    used = sorted({v.component for v in result.vulnerabilities})
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
            "metadata": {"timestamp": now_iso(), "tools": {"components": [{"type": "application", "name": "firmpass",
                                                                            "version": __version__}]},
                         "component": {"type": "firmware", "bom-ref": "firmware-image", "name": result.image.name,
                                       "hashes": [{"alg": "SHA-256", "content": result.image.sha256}]}},
            "components": [_component(ref, comps.get(ref)) for ref in used],
            "vulnerabilities": [_vulnerability(v) for v in result.vulnerabilities]}


def _component(ref: str, c: Component | None) -> dict[str, Any]:
    """The affected component REF (its name, version, purl and CPE when in the inventory)."""
    d: dict[str, Any] = {"type": c.type if c else "application", "bom-ref": ref,
                         "name": c.name if c else ref}
    if c and c.version:
        d["version"] = c.version
    if c and c.purl:
        d["purl"] = c.purl
    if c and c.cpe:
        d["cpe"] = c.cpe
    return d


def _vulnerability(v: Vulnerability) -> dict[str, Any]:
    """One vulnerability on one component: source, ratings, CWEs, analysis and firmpass's facts."""
    d: dict[str, Any] = {"bom-ref": f"{v.id}@{v.component}", "id": v.id,
                         "source": {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{v.id}"}
                         if v.id.startswith("CVE-") else {"name": str(v.match.get("source", "firmpass"))}}
    ratings = _ratings(v)
    if ratings:
        d["ratings"] = ratings
    cwes = sorted({int(c["id"][4:]) for c in v.cwes if str(c.get("id", "")).upper().startswith("CWE-")
                   and str(c["id"])[4:].isdigit()})
    if cwes:
        d["cwes"] = cwes
    if v.description:
        d["description"] = v.description
    if v.published:
        d["published"] = _iso(v.published)
    an: dict[str, Any] = {"state": STATE_TO_CDX[v.vex.state]}
    if v.vex.state == "not_affected" and v.vex.justification:
        an["justification"] = v.vex.justification
    det = detail_str(v.vex.detail)
    if det:
        an["detail"] = det
    d["analysis"] = an
    d["affects"] = [{"ref": v.component}]
    d["properties"] = _properties(v)
    return d


def _ratings(v: Vulnerability) -> list[dict[str, Any]]:
    """The CVSS scores, then each vendor's own qualitative rating (no score, method "other")."""
    ratings = []
    for s in v.cvss:
        method = {"2.0": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}.get(s.version, "other")
        r = {"score": s.base_score, "method": method, "vector": s.vector}
        if s.severity in ("critical", "high", "medium", "low", "info", "none"):
            r["severity"] = s.severity
        ratings.append(r)
    for vs_ in v.vendor_severity:
        ratings.append({"source": {"name": str(vs_.get("source"))}, "severity": vs_.get("severity"),
                        "method": "other"})
    return ratings


def _properties(v: Vulnerability) -> list[dict[str, str]]:
    """firmpass's facts as JSON-valued properties: the match, and KEV, exploitation and EPSS when known."""
    props = [{"name": "firmpass:match", "value": json.dumps(v.match, ensure_ascii=False, sort_keys=True)}]
    if v.kev:
        props.append({"name": "firmpass:kev", "value": json.dumps(v.kev, sort_keys=True)})
    if v.is_exploited:
        props.append({"name": "firmpass:exploited", "value": json.dumps(v.exploitation(), sort_keys=True)})
    if v.epss:
        props.append({"name": "firmpass:epss", "value": json.dumps(v.epss, sort_keys=True)})
    return props


def _iso(s: str) -> str:
    """A feed's date or date-time as an ISO 8601 date-time with a zone (UTC when none)."""
    s = s.strip()
    if len(s) == 10:
        return s + "T00:00:00Z"
    if re.search(r"(Z|[+-]\d\d:\d\d)$", s):
        return s
    return s.split(".")[0] + "Z"
