"""Two saved scans of one product compared (components, vulnerabilities, findings, verdicts).

Uses the project's comparison library `firmpass.compare` when it is installed (the batch work
builds it); until then this module's own set arithmetic over findings.json and assessment.json
gives the same four sections, so the page and the API have one shape to show.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _load(out: Path) -> tuple[dict, dict]:
    f = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    try:
        a = json.loads((out / "assessment.json").read_text(encoding="utf-8"))
    except OSError:
        a = {}
    return f, a


def compare_dirs(old: Path, new: Path) -> dict[str, Any]:
    try:
        from firmpass import compare as lib  # the shared comparison library, when present
    except ImportError:
        lib = None
    if lib is not None and hasattr(lib, "compare_dirs"):
        return _normalise(lib.compare_dirs(old, new))
    return _own(old, new)


def _normalise(doc: Any) -> dict[str, Any]:
    return doc if isinstance(doc, dict) else dict(doc)


def _own(old: Path, new: Path) -> dict[str, Any]:
    fa, aa = _load(old)
    fb, ab = _load(new)
    ca = {c["name"]: c.get("version") for c in fa.get("components", [])}
    cb = {c["name"]: c.get("version") for c in fb.get("components", [])}
    open_states = ("affected", "under_investigation")
    va = {(v["id"], v["component_name"]) for v in fa.get("vulnerabilities", []) if v.get("vex", {}).get("state", "affected") in open_states}
    vb = {(v["id"], v["component_name"]) for v in fb.get("vulnerabilities", []) if v.get("vex", {}).get("state", "affected") in open_states}
    titles = {}
    for f in fa.get("findings", []) + fb.get("findings", []):
        titles.setdefault(f["check"], f.get("title") or {})
    fa_ids = {f["check"] for f in fa.get("findings", [])}
    fb_ids = {f["check"] for f in fb.get("findings", [])}
    vda = {v["ref"]: v for v in aa.get("verdicts", [])}
    vdb = {v["ref"]: v for v in ab.get("verdicts", [])}
    return {
        "components": {
            "added": [{"name": n, "version": cb[n]} for n in sorted(cb.keys() - ca.keys())],
            "removed": [{"name": n, "version": ca[n]} for n in sorted(ca.keys() - cb.keys())],
            "changed": [{"name": n, "from": ca[n], "to": cb[n]} for n in sorted(ca.keys() & cb.keys()) if ca[n] != cb[n]],
        },
        "vulnerabilities": {
            "fixed": [{"id": i, "component": c} for i, c in sorted(va - vb)],
            "introduced": [{"id": i, "component": c} for i, c in sorted(vb - va)],
        },
        "findings": {
            "fixed": [{"check": c, "title": titles.get(c)} for c in sorted(fa_ids - fb_ids)],
            "introduced": [{"check": c, "title": titles.get(c)} for c in sorted(fb_ids - fa_ids)],
        },
        "verdicts": {
            "changed": [{"ref": r, "title": vdb[r].get("title"), "from": vda[r]["verdict"], "to": vdb[r]["verdict"]}
                        for r in sorted(vda.keys() & vdb.keys()) if vda[r]["verdict"] != vdb[r]["verdict"]],
        },
    }
