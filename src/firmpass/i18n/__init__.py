"""Bilingual messages.  Every user-visible string lives in a YAML catalogue with `en` and `zh`.

Stages keep their own catalogues next to their code (checks, frameworks, report); this one holds
the CLI's and the pipeline's own messages.  `msg()` raises on a missing key or language so a
missing translation fails the tests rather than reaching a user.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml

from firmpass.model import Text


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - libyaml's safe loader: same data, ~7x faster
    for key, entry in data.items():
        if not isinstance(entry, dict) or not entry.get("en") or not entry.get("zh"):
            raise ValueError(f"i18n message {key!r} lacks en or zh")
    return data


def msg(key: str, **kw) -> Text:
    """The message `key` in both languages.  A keyword value that is itself a Text goes into each
    language in its own language, so a bilingual detail never puts English into the Chinese half."""
    entry = _catalogue()[key]
    return fill(entry["en"], entry["zh"], kw)


def fill(en: str, zh: str, kw: dict) -> Text:
    """Format an English and a Chinese template with the same arguments; a Text argument gives each
    language its own half (every catalogue of the project formats through this)."""
    if not kw:
        return Text(en=en, zh=zh)
    return Text(en=en.format(**{k: (v.en if isinstance(v, Text) else v) for k, v in kw.items()}),
                zh=zh.format(**{k: (v.zh if isinstance(v, Text) else v) for k, v in kw.items()}))


def one_line(text: str, limit: int = 300) -> str:
    """An exception's text as one line for a terminal or a warning (library errors often carry
    several lines and URLs)."""
    first = " ".join(str(text).split("\n")[0].split())
    return first if len(first) <= limit else first[: limit - 1] + "…"


# what library errors carry that says nothing to a user and leaks addresses: libarchive's
# "archive_p=94645490411600", reprs "<object object at 0x7f56...>", pydantic's docs links
_POINTER = re.compile(r",?\s*archive_p=\d+|\s+at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{8,}")
_PYDANTIC_URL = re.compile(r"\s*For further information visit \S+")


def clean_detail(text: str) -> str:
    """A library's message as one line without heap addresses or documentation links."""
    return one_line(_POINTER.sub("", _PYDANTIC_URL.sub("", str(text)))).replace(" ()", "")


def exc_detail(e: BaseException) -> str:
    """One line naming the error, without heap addresses.  A pydantic ValidationError is summed up
    from its structured errors (location: message) instead of its multi-line text."""
    errors = getattr(e, "errors", None)
    if type(e).__name__ == "ValidationError" and callable(errors):
        try:
            parts = [f"{'.'.join(map(str, er.get('loc', ()))) or '-'}: {er.get('msg', '')}" for er in errors()[:3]]
            text = f"{type(e).__name__}: " + "; ".join(parts)
        except Exception:  # noqa: BLE001 - fall back to the text
            text = f"{type(e).__name__}: {e}"
    else:
        text = f"{type(e).__name__}: {e}"
    return clean_detail(text)


def keys() -> list[str]:
    return list(_catalogue())


def both(t: Text) -> str:
    """One line for a terminal: English, then Chinese."""
    return f"{t.en} / {t.zh}"
