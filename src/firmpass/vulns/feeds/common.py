"""What several feeds share: vendor severities, CWE entries, the record shape, counting a source."""
from __future__ import annotations

import re
from typing import Any, TypedDict


class VulnRecord(TypedDict, total=False):
    """One vulnerability as a feed parses it, the shape Store.ingest_vulns writes.

    vuln:     {id, description, published, modified, cvss, references, aliases, vendor_severity, cwes}
    affected: applicability rows (vendor/product or ecosystem/package, version range, scheme)
    configs:  NVD configurations with several nodes (AND / platform), kept whole
    exploited: exploitation evidence rows (EUVD)"""

    vuln: dict[str, Any]
    affected: list[dict[str, Any]]
    configs: list[dict[str, Any]]
    exploited: list[dict[str, Any]]


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


def cwe_name(desc: Any, cwe_id: Any) -> str | None:
    """CVE 5 problem type text: "CWE-125 Out-of-bounds Read" -> "Out-of-bounds Read"."""
    d = str(desc or "").strip()
    d = re.sub(rf"^{re.escape(str(cwe_id or ''))}\s*[:\-]?\s*", "", d, flags=re.I) if cwe_id else d
    return d or None


def newest_modified(recs: list[dict]) -> str | None:
    """The newest `modified` date among imported records (ISO strings compare as dates), or None."""
    dates = [str(r["vuln"]["modified"]) for r in recs if r.get("vuln", {}).get("modified")]
    return max(dates) if dates else None


CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def english(descs: list[dict] | None) -> str | None:
    for d in descs or []:
        if d.get("lang", "en").startswith("en"):
            return d.get("value")
    return (descs or [{}])[0].get("value") if descs else None


def count_vulns(store, s, source: str) -> int:
    """Vulnerabilities the store holds from one source (after an import into it)."""
    from sqlalchemy import distinct, func, select

    from firmpass.vulns.store import AffectedRow
    return s.scalar(select(func.count(distinct(AffectedRow.vuln_id))).where(AffectedRow.source == source)) or 0
