"""The Debian security tracker JSON ({source package: {CVE: {"releases": {...}}}}): fixed versions per
release, replacing the Debian rows as a whole."""
from __future__ import annotations

from typing import Any

FORMATS = ("debian-tracker",)


def sniff(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for k, v in list(obj.items())[:5]:
        if isinstance(v, dict) and v:
            inner = next(iter(v.values()))
            if isinstance(inner, dict) and "releases" in inner:
                return "debian-tracker"
    return None


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    if any(not isinstance(v, dict) or any(not isinstance(i, dict) for i in v.values()) for v in obj.values()):
        return "a package entry is not an object of CVE objects"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    from sqlalchemy import func, select

    from firmpass.vulns.store import DistroFixRow

    rows = _debian_rows(obj)
    store.replace_distro_fix(s, "debian", rows)
    store.touch_source(s, "debian-tracker", "distro", s.scalar(select(func.count()).select_from(DistroFixRow)), origin)
    return len(rows)


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
