"""Reading a saved scan directory (findings.json, assessment.json, the profile) for `firmpass report`
and as a fallback when an earlier stage did not hand its data over in memory."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from firmpass.context import ScanContext
from firmpass.errors import UnusableInput
from firmpass.model import ScanResult, Text

MAX_JSON = 512 * 1024 * 1024


def load_result(out: Path) -> ScanResult:
    p = out / "findings.json"
    try:
        if not p.is_file() or p.stat().st_size > MAX_JSON:
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        return ScanResult.model_validate_json(p.read_bytes())
    except UnusableInput:
        raise
    except Exception:  # noqa: BLE001 - any parse/validation error is an unusable scan dir
        raise UnusableInput("err.bad_scan_dir", path=str(out)) from None


def load_assessment(out: Path) -> dict[str, Any] | None:
    p = out / "assessment.json"
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_profile_file(path: Path) -> dict[str, Any] | None:
    """The assess helper's validating loader when present; otherwise plain YAML (read defensively)."""
    try:
        from firmpass.profile import load_profile
    except ImportError:
        load_profile = None
    if load_profile is not None:
        return load_profile(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise UnusableInput("err.bad_profile", path=str(path), detail=str(e).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise UnusableInput("err.bad_profile", path=str(path), detail=Text(en="not a mapping", zh="不是 YAML 映射"))
    return data


def inputs(ctx: ScanContext) -> tuple[dict | None, dict | None]:
    """The assessment and profile from the context; if an earlier stage did not hand them over,
    from OUT/assessment.json and the --profile file."""
    assessment = ctx.assessment if ctx.assessment is not None else load_assessment(ctx.out)
    profile = ctx.profile
    path = getattr(ctx.options, "profile_path", None)
    if profile is None and path is not None and Path(path).is_file():
        profile = load_profile_file(Path(path))
    return assessment, profile


def recorded_profile(out: Path, notes: list | None = None) -> Path | None:
    """The profile the saved scan was assessed with (OUT/assessment.json), when it can still be
    read; a note says when it is gone or has changed since."""
    from firmpass.i18n import msg
    from firmpass.profile import profile_sha256

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
