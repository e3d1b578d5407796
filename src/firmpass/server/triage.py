"""Triage decisions carried into the next scan.

Finding decisions (accepted risk, fixed in version) go the same way: the newest per check of a
product is written as DATA/scans/<id>/triage.findings.json and given to the scan as its decisions
file (ScanOptions.decisions_file, firmpass.checks.decisions): findings.json, the report and the
evidence package show each decision beside its finding, with who, when and why.

The newest VEX decision per (vulnerability, component) of a product is written as an OpenVEX
document beside the next scan and given to it as `--vex` input (ScanOptions.vex_files): the vulns
stage applies it (firmpass.vulns.vex.parse_triage keys decisions by component without version, so
a decision recorded on one version holds for the next), and the evidence package's CSAF and
CycloneDX VEX carry it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from firmpass.vulns.vex import CDX_TO_CSAF


def latest(decisions: Iterable) -> dict[tuple[str, str], object]:
    """Newest decision per (vulnerability, component); `decisions` in any order."""
    out: dict[tuple[str, str], object] = {}
    for d in sorted(decisions, key=lambda d: (d.at, d.id)):
        out[(d.vuln_id, d.component)] = d
    return out


def openvex(decisions: Iterable, product_name: str, when: str) -> dict:
    stmts = []
    for (vid, comp), d in sorted(latest(decisions).items()):
        st = {"vulnerability": {"name": vid}, "products": [{"@id": comp}], "status": d.status,
              "timestamp": d.at}
        if d.status == "not_affected":
            st["justification"] = CDX_TO_CSAF.get(d.justification or "", "vulnerable_code_not_present")
            st["impact_statement"] = f"{d.note} ({d.who}, {d.at})".strip()
        elif d.note:
            st["status_notes"] = f"{d.note} ({d.who}, {d.at})"
        stmts.append(st)
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": f"firmpass-server:{product_name}:{when}",
            "author": "firmpass team server", "timestamp": when, "version": 1, "statements": stmts}


def write_vex(path: Path, decisions: list, product_name: str, when: str) -> Path | None:
    if not decisions:
        return None
    path.write_text(json.dumps(openvex(decisions, product_name, when), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_finding_decisions(path: Path, decisions: list) -> Path | None:
    """The newest decision per check (decisions follow the check across versions) as the scan's
    decisions file; None when there is none."""
    if not decisions:
        return None
    newest: dict[str, object] = {}
    for d in sorted(decisions, key=lambda d: (d.at, d.id)):
        newest[d.finding] = d
    doc = {"decisions": [{"check": c, "kind": d.kind, "fixed_in": d.fixed_in, "reason": (d.reason or "")[:4000],
                          "who": d.who[:320], "at": d.at[:40]} for c, d in sorted(newest.items())]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
