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
from firmpass.model import ScanResult
from firmpass.profile import load_profile, profile_sha256

__all__ = ["run", "assess", "assess_dir", "write_assessment"]


def __getattr__(name: str):
    """`assess` (the engine) loads on first use, not when `firmpass --help` imports the commands."""
    if name == "assess":
        from firmpass.assess.engine import assess

        return assess
    raise AttributeError(name)


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
    from firmpass.assess.engine import assess

    ctx.assessment = assess(ctx.result, profile, ctx.options.markets, profile_path=path, profile_sha256=sha)
    write_assessment(ctx.out, ctx.assessment)


def recorded_profile(out: Path, notes: list | None = None) -> Path | None:
    """The profile the saved scan was assessed with (OUT/assessment.json), when it can still be
    read; a note says when it is gone or has changed since."""
    from firmpass.i18n import msg

    try:
        prev = json.loads((Path(out) / "assessment.json").read_text(encoding="utf-8"))
        rec = prev.get("profile") or {}
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(rec, dict):
        return None
    names = [n for n in (rec.get("abs_path"), rec.get("path")) if n]
    if not names:
        return None
    for name in names:
        p = Path(name)
        if p.is_file():
            if rec.get("sha256") and profile_sha256(p) != rec["sha256"]:
                if notes is not None:
                    notes.append(msg("assess.warn.profile_changed", path=str(p)))
            elif notes is not None:
                notes.append(msg("assess.info.profile_reused", path=str(p)))
            return p
    if notes is not None:
        notes.append(msg("assess.warn.profile_gone", path=names[-1]))
    return None


def assess_dir(out: Path, profile_path: Path | None, markets: list[str] | None,
               en303645_version: str | None = None, notes: list | None = None) -> dict[str, Any]:
    """Re-run the assessment on a saved scan (OUT/findings.json) without rescanning.  Without
    `profile_path`, the profile recorded by the earlier assessment is used again (see
    recorded_profile); `notes` collects what the caller should tell the user."""
    from firmpass.errors import UnusableInput

    fj = Path(out) / "findings.json"
    try:
        result = ScanResult.model_validate_json(fj.read_bytes())
    except (OSError, ValueError):
        raise UnusableInput("err.bad_scan_dir", path=str(out)) from None
    if profile_path is None:
        profile_path = recorded_profile(out, notes)
    from firmpass.assess.engine import assess

    profile = load_profile(profile_path) if profile_path else None
    data = assess(result, profile, markets, profile_path=profile_path,
                  profile_sha256=profile_sha256(profile_path) if profile_path else None,
                  en303645_version=en303645_version)
    write_assessment(Path(out), data)
    return data
