"""The report's and the evidence package's bilingual chrome: every heading, label and sentence the
report adds around the scan data lives in messages.yaml next to this file, with `en` and `zh`."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from firmpass.frameworks import registry
from firmpass.frameworks.registry import derived
from firmpass.i18n import fill
from firmpass.model import Text


@derived
@lru_cache(maxsize=None)
def catalogue() -> dict[str, dict[str, str]]:
    """messages.yaml, plus `market.<id>` for every market of the registry (its label is written once,
    in frameworks/registry.yaml)."""
    text = resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    for m in registry.current().markets:
        data.setdefault(f"market.{m.id}", {"en": m.label.en, "zh": m.label.zh})
    return data


def t(key: str, **kw: Any) -> Text:
    """A chrome string in both languages; a missing key or language raises (tests catch it)."""
    entry = catalogue()[key]
    return fill(entry["en"], entry["zh"], kw)


def as_text(value: Any) -> Text:
    """Text, {'en','zh'} dict, plain string or None -> Text (a missing language falls back to the other)."""
    if isinstance(value, Text):
        en, zh = value.en, value.zh
    elif isinstance(value, dict):
        en, zh = str(value.get("en") or ""), str(value.get("zh") or "")
    elif value is None:
        en = zh = ""
    else:
        en = zh = str(value)
    return Text(en=en or zh, zh=zh or en)
