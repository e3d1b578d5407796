"""Value helpers shared by the report view and the evidence documents."""
from __future__ import annotations

from typing import Any

from firmpass.profile import get as profile_get


def human_size(n: int | None) -> str:
    if not n:
        return "0 B"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def get(d: Any, path: str, default: Any = None) -> Any:
    """Profile field by dotted path, defensively (the profile may be partial or None; null is absent)."""
    return profile_get(d, path, default, none_is_absent=True)


def _dicts(x: Any) -> list[dict]:
    """Entries of a list that are mappings (assessment.json read back from disk may be anything)."""
    return [e for e in x if isinstance(e, dict)] if isinstance(x, list) else []
