"""CISA Known Exploited Vulnerabilities catalogue (JSON): replaces the KEV table as a whole."""
from __future__ import annotations

import re
from typing import Any

FORMATS = ("kev",)
LABEL = "KEV"
UPDATE_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def sniff(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    vs = obj.get("vulnerabilities")
    if "catalogVersion" in obj or (isinstance(vs, list) and vs and isinstance(vs[0], dict) and "cveID" in vs[0]):
        return "kev"
    return None


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    """A file that only looks like the catalogue (`{"catalogVersion": "x"}`) must never empty the table."""
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
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    rows = [{"cve": v["cveID"], "date_added": v.get("dateAdded"), "due_date": v.get("dueDate"),
             "ransomware": v.get("knownRansomwareCampaignUse"), "name": v.get("vulnerabilityName"),
             "required_action": v.get("requiredAction")} for v in obj.get("vulnerabilities") or [] if v.get("cveID")]
    rows = list({r["cve"]: r for r in rows}.values())
    store.replace_kev(s, rows)
    store.touch_source(s, "kev", "kev", len(rows), origin, obj.get("dateReleased") or obj.get("catalogVersion"))
    return len(rows)


def update(store, url: str, progress=None) -> int:
    from firmpass.vulns.update import update_file

    return update_file(store, url, "kev")
