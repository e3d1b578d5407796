"""The server's bilingual strings (messages.yaml beside this module), formatted like firmpass.i18n."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from firmpass.i18n import fill

LANGS = ("en", "zh")


@lru_cache(maxsize=None)
def catalogue() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8"))
    for key, entry in data.items():
        if not isinstance(entry, dict) or not entry.get("en") or not entry.get("zh"):
            raise ValueError(f"server message {key!r} lacks en or zh")
    return data


def t(key: str, lang: str, **kw: Any) -> str:
    e = catalogue()[key]
    return getattr(fill(e["en"], e["zh"], kw), lang)


def pick(text: Any, lang: str) -> str:
    """A Text-like dict {'en':..,'zh':..} (as assessment.json stores them) in one language."""
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("en") or "")
    if hasattr(text, lang):
        return getattr(text, lang)
    return "" if text is None else str(text)
