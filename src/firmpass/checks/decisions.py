"""People's decisions on findings, given to a scan as a side input (`firmpass scan --decisions FILE`,
the team server writes one beside every scan from its triage): per check id, "accepted_risk" (with
a reason) or "fixed_in_version" (the version that fixes it).  The checks stage puts the decision on
each finding of that check (Finding.decision: kind, fixed_in, reason, who, at), so findings.json, the
report and the evidence package show it beside the finding; the finding itself stays (a decision
explains an open finding, it does not remove it, and the verdicts do not change because of it).

The file is JSON: {"decisions": [{"check": "CRED-002", "kind": "accepted_risk", "reason": "...",
"who": "a@example.com", "at": "2026-12-06T20:00:00+00:00", "fixed_in": null}, ...]}; the last
entry per check wins.  It is read with bounds (size, count, field lengths) like any other input.
"""
from __future__ import annotations

import json
from pathlib import Path

from firmpass.errors import UnusableInput
from firmpass.model import FindingDecision

MAX_BYTES = 4 * 1024 * 1024
MAX_DECISIONS = 10_000
KINDS = ("accepted_risk", "fixed_in_version")
_LIMITS = {"check": 200, "fixed_in": 200, "reason": 4000, "who": 320, "at": 40}


def load_decisions(path: Path) -> dict[str, FindingDecision]:
    """check id -> the decision; UnusableInput (one bilingual line) when the file is not usable."""
    def bad(detail: str) -> UnusableInput:
        return UnusableInput("err.decisions", path=str(path), detail=detail)

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as e:
        raise bad(e.strerror or str(e)) from None
    if len(raw) > MAX_BYTES:
        raise bad(f"larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"not JSON: {e}") from None
    items = doc.get("decisions") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise bad('no "decisions" list')
    if len(items) > MAX_DECISIONS:
        raise bad(f"more than {MAX_DECISIONS} decisions")
    out: dict[str, FindingDecision] = {}
    for n, d in enumerate(items, 1):
        if not isinstance(d, dict):
            raise bad(f"decision {n} is not an object")
        for key, limit in _LIMITS.items():
            v = d.get(key)
            if v is not None and (not isinstance(v, str) or len(v) > limit):
                raise bad(f"decision {n}: {key} must be a string of at most {limit} characters")
        if not d.get("check") or not d.get("who") or not d.get("at"):
            raise bad(f"decision {n}: check, who and at are required")
        if d.get("kind") not in KINDS:
            raise bad(f"decision {n}: kind must be one of {', '.join(KINDS)}")
        out[d["check"]] = FindingDecision(kind=d["kind"], fixed_in=d.get("fixed_in") or None,
                                          reason=d.get("reason") or "", who=d["who"], at=d["at"])
    return out


def apply(ctx) -> int:
    """Put the decisions of ctx.options.decisions_file on the findings; returns how many got one."""
    path = ctx.options.decisions_file
    if path is None:
        return 0
    decisions = load_decisions(Path(path))
    n = 0
    for f in ctx.result.findings:
        d = decisions.get(f.check)
        if d is not None:
            f.decision = d
            n += 1
    ctx.result.extra["finding_decisions"] = {"file": str(path), "decisions": len(decisions), "applied": n}
    return n
