"""The product profile: what the maker declares about a product that firmware cannot show.

YAML validated against the JSON schema in this package (schema.json, draft 2020-12, via the
`jsonschema` library).  `load_profile(path)` returns a plain dict or raises
errors.UnusableInput("err.bad_profile", ...) with one clear line naming the first problem.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from firmpass.errors import UnusableInput

MAX_PROFILE_BYTES = 1024 * 1024
_MISSING = object()


@lru_cache(maxsize=None)
def schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


def _plain(obj: Any) -> Any:
    """YAML dates/datetimes -> ISO strings, so the JSON schema sees what a JSON file would carry."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    return obj


def validate(data: Any) -> list[str]:
    """Schema errors as short lines `where: what` (empty when the profile is valid)."""
    from jsonschema import Draft202012Validator  # lazy: importing jsonschema costs ~1 s (format checkers)

    v = Draft202012Validator(schema())
    out = []
    for e in sorted(v.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))):
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        out.append(f"{where}: {e.message}")
    return out


def parse_profile(text: str, path: str = "<profile>") -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        raise UnusableInput("err.bad_profile", path=path, detail=f"{where}: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise UnusableInput("err.bad_profile", path=path, detail="expected a YAML mapping at the top level")
    data = _plain(data)
    errs = validate(data)
    if errs:
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise UnusableInput("err.bad_profile", path=path, detail=errs[0] + more)
    return data


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate a profile; raise UnusableInput('err.bad_profile') with one clear line."""
    p = Path(path)
    try:
        if not p.is_file():
            raise UnusableInput("err.bad_profile", path=str(p), detail="no such file")
        if p.stat().st_size > MAX_PROFILE_BYTES:
            raise UnusableInput("err.bad_profile", path=str(p), detail=f"larger than {MAX_PROFILE_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UnusableInput("err.bad_profile", path=str(p), detail="not UTF-8 text") from None
    except OSError as e:
        raise UnusableInput("err.bad_profile", path=str(p), detail=e.strerror or str(e)) from None
    return parse_profile(text, str(p))


def profile_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def get(profile: dict[str, Any] | None, field: str, default: Any = None) -> Any:
    """A dotted field of the profile (`support.end_date`), or `default` when absent."""
    cur: Any = profile
    for part in field.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def has(profile: dict[str, Any] | None, field: str) -> bool:
    return get(profile, field, _MISSING) is not _MISSING
