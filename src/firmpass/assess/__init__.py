"""Stage `assess`: per-market readiness from the scan result and the product profile.

Writes OUT/assessment.json (shape in CONTRACTS.md) and sets ctx.assessment.  See engine.py for the
market -> framework mapping, the verdict rules and the score.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from firmpass.assess.engine import assess
from firmpass.context import ScanContext
from firmpass.model import ScanResult
from firmpass.profile import load_profile, profile_sha256

__all__ = ["run", "assess", "assess_dir", "write_assessment"]


def write_assessment(out: Path, data: dict[str, Any]) -> Path:
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
    ctx.assessment = assess(ctx.result, profile, ctx.options.markets, profile_path=path, profile_sha256=sha)
    write_assessment(ctx.out, ctx.assessment)


def assess_dir(out: Path, profile_path: Path | None, markets: list[str] | None,
               en303645_version: str | None = None) -> dict[str, Any]:
    """Re-run the assessment on a saved scan (OUT/findings.json) without rescanning."""
    from firmpass.errors import UnusableInput

    fj = Path(out) / "findings.json"
    try:
        result = ScanResult.model_validate_json(fj.read_bytes())
    except (OSError, ValueError):
        raise UnusableInput("err.bad_scan_dir", path=str(out)) from None
    profile = load_profile(profile_path) if profile_path else None
    data = assess(result, profile, markets, profile_path=profile_path,
                  profile_sha256=profile_sha256(profile_path) if profile_path else None,
                  en303645_version=en303645_version)
    write_assessment(Path(out), data)
    return data
