"""The project's one Chinese/English term base (terms.yaml next to this file).

Every template of the report and the evidence package, and the assessment's Chinese text, names a
regulation, a procedure or a value through here: the CRA is 《网络韧性法案》 and nothing else,
remediation is 整改, a profile value `true` reads 是 in a Chinese row.  `avoid` lists renderings that
must never appear (the tests scan every template and output for them).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from firmpass.model import Text


@lru_cache(maxsize=None)
def _base() -> dict[str, dict[str, dict[str, Any]]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("terms.yaml").read_text(encoding="utf-8"))
    for section in ("terms", "values"):
        for key, entry in data[section].items():
            if not entry.get("en") or not entry.get("zh"):
                raise ValueError(f"term {section}.{key} lacks en or zh")
    return data


def term(key: str) -> Text:
    """A fixed term in both languages; an unknown key raises (a typo must fail the tests)."""
    e = _base()["terms"][key]
    return Text(en=e["en"], zh=e["zh"])


def terms() -> dict[str, Text]:
    return {k: Text(en=e["en"], zh=e["zh"]) for k, e in _base()["terms"].items()}


def avoided() -> dict[str, str]:
    """Chinese renderings that must not appear -> the term key whose form replaces them."""
    return {bad: k for k, e in _base()["terms"].items() for bad in e.get("avoid") or []}


def value(v: Any) -> Text:
    """A value shown in a verdict row (profile answer, severity, verdict, enum) in both languages.
    Booleans read yes/no - 是/否; known enum values are translated; free text (a name, a URL) stays
    as it was written, in both halves (firmpass does not translate what the maker wrote)."""
    if isinstance(v, Text):
        return v
    if isinstance(v, bool):
        key = "true" if v else "false"
    elif isinstance(v, (list, tuple)):
        parts = [value(x) for x in v]
        return Text(en=", ".join(p.en for p in parts), zh="、".join(p.zh for p in parts))
    elif isinstance(v, dict):
        if "verdict" in v:  # a declaration: {verdict, evidence}
            verdict = value(v.get("verdict"))
            ev = str(v.get("evidence") or v.get("justification") or "")
            return Text(en=f"{verdict.en} ({ev})" if ev else verdict.en, zh=f"{verdict.zh}（{ev}）" if ev else verdict.zh)
        parts = [(str(k), value(x)) for k, x in v.items()]
        return Text(en="; ".join(f"{k}: {x.en}" for k, x in parts), zh="；".join(f"{k}：{x.zh}" for k, x in parts))
    elif v is None:
        return Text(en="-", zh="-")
    else:
        key = str(v)
    e = _base()["values"].get(key)
    if e is None:
        return Text(en=key, zh=key)
    return Text(en=e["en"], zh=e["zh"])


def severity(s: str) -> Text:
    return value(s)
