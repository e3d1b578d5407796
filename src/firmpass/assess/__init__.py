"""Stage `assess`: per-market readiness from the scan result and the product profile.

Writes OUT/assessment.json (shape in CONTRACTS.md) and sets ctx.assessment.  See engine.py for the
market -> framework mapping, the verdict rules and the score.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from firmpass.context import ScanContext
from firmpass.model import Assessment
from firmpass.present.load import recorded_profile  # noqa: F401 - firmpass.assess.recorded_profile as before
from firmpass.profile import load_profile, profile_sha256

__all__ = ["run", "assess", "write_assessment", "recorded_profile"]


def __getattr__(name: str):
    """`assess` (the engine) loads on first use, not when `firmpass --help` imports the commands."""
    if name == "assess":
        from firmpass.assess.engine import assess

        return assess
    raise AttributeError(name)


def write_assessment(out: Path, data: dict[str, Any]) -> Path:
    """OUT/assessment.json; the data is checked against the Assessment model first (model/assessment.py): what
    this stage hands to report, evidence and later runs has the shape it says."""
    Assessment.model_validate(data)
    p = Path(out) / "assessment.json"
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, p)
    return p


def run(ctx: ScanContext) -> None:
    profile = ctx.profile
    path = ctx.options.profile_path
    if profile is None and path is not None:
        profile = load_profile(path)
        ctx.profile = profile
    sha = profile_sha256(path) if path is not None else None
    from firmpass.assess.engine import assess

    ctx.assessment = assess(ctx.result, profile, ctx.options.markets, profile_path=path, profile_sha256=sha,
                            en303645_version=getattr(ctx.options, "en303645_version", None))
    write_assessment(ctx.out, ctx.assessment)
