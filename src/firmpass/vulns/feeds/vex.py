"""Triage files (CycloneDX VEX, OpenVEX, CSAF VEX) imported into the store (firmpass.vulns.vex parses them)."""
from __future__ import annotations

from typing import Any

FORMATS = ("cyclonedx-vex", "openvex", "csaf-vex")


def sniff(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if obj.get("bomFormat") == "CycloneDX":
        return "cyclonedx-vex"
    if str(obj.get("@context", "")).startswith("https://openvex.dev"):
        return "openvex"
    if isinstance(obj.get("document"), dict) and "csaf_version" in obj["document"]:
        return "csaf-vex"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    from firmpass.vulns import vex as vexmod

    stmts = vexmod.parse_triage(obj, origin)
    n = store.upsert_triage(s, stmts)
    store.touch_source(s, "triage", "vex", n, origin, add=True)
    return n
