"""What every part of the result model shares: the base model, bilingual text, warnings, severities
and the handling of file names that are not UTF-8."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class _M(BaseModel):
    # defer_build: each model's validator is built on first use, not at import (start-up of `firmpass --help`)
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


def name_bytes(name: str) -> bytes:
    """The raw bytes of a name read with surrogateescape (a non-UTF-8 file name from an image)."""
    return name.encode("utf-8", "surrogateescape")


def readable_name(name: str) -> str:
    """A name that is valid UTF-8 text: itself when it already is, else every byte that was not
    UTF-8 shown as \\xNN (a GBK name stays readable as escapes, and JSON and reports
    stay valid).  The raw bytes are kept beside it (FileEntry.path_bytes)."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte (e.g. from UTF-16 names)
        return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name)


def valid_text(obj: Any) -> Any:
    """A JSON-ready structure with every string made valid UTF-8 (readable_name)."""
    if isinstance(obj, str):
        return readable_name(obj)
    if isinstance(obj, dict):
        return {valid_text(k): valid_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [valid_text(v) for v in obj]
    return obj


class Text(_M):
    """A user-visible string in English and Chinese."""

    en: str
    zh: str


class Warning_(_M):
    """A problem met while scanning that did not stop the scan (a corrupt part, a limit hit)."""

    stage: str
    code: str
    message: Text
    part: str | None = None  # the container / file concerned
