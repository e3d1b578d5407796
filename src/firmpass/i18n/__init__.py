"""Bilingual messages.  Every user-visible string lives in a YAML catalogue with `en` and `zh`.

Stages keep their own catalogues next to their code (checks, frameworks, report); this one holds
the CLI's and the pipeline's own messages.  `msg()` raises on a missing key or language so a
missing translation fails the tests rather than reaching a user.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from firmpass.model import Text


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8"))
    for key, entry in data.items():
        if not isinstance(entry, dict) or not entry.get("en") or not entry.get("zh"):
            raise ValueError(f"i18n message {key!r} lacks en or zh")
    return data


def msg(key: str, **kw) -> Text:
    entry = _catalogue()[key]
    return Text(en=entry["en"].format(**kw), zh=entry["zh"].format(**kw))


def keys() -> list[str]:
    return list(_catalogue())


def both(t: Text) -> str:
    """One line for a terminal: English, then Chinese."""
    return f"{t.en} / {t.zh}"
