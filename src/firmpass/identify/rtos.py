"""The operating system of a firmware blob from its strings (rules/rtos.yaml): ThreadX, FreeRTOS, Zephyr,
VxWorks, eCos, Nucleus, µC/OS.

A blob here is a part that is not a filesystem: the image itself when nothing opened it, a carved part,
a decompressed stream.  Its printable strings are matched against each rule's `detect` patterns (the
first match is the evidence) and `version` patterns (named group v).  Written here: no library names
RTOSes from strings; the rules are data, like the binary signatures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

# printable ASCII plus µ (Latin-1 0xB5, or UTF-8 0xC2 0xB5): "µC/OS-II"
_STRINGS = re.compile(rb"[\x20-\x7e\xb5\xc2]{4,}")


@dataclass
class Rtos:
    id: str
    name: str
    version: str | None
    evidence: str  # the matched string
    cpe: str | None
    supplier: str | None


@lru_cache(maxsize=1)
def rules() -> list[dict]:
    data = yaml.safe_load(resources.files(__package__).joinpath("rules/rtos.yaml").read_text(encoding="utf-8"))
    for r in data:
        r["_detect"] = [re.compile(p, re.M) for p in r["detect"]]
        r["_version"] = [re.compile(p, re.M) for p in r.get("version", [])]
        for rx in r["_version"]:
            if "v" not in rx.groupindex:
                raise ValueError(f"rtos rule {r['id']}: version pattern lacks (?P<v>...): {rx.pattern}")
    return data


def strings(data: bytes) -> str:
    """The blob's printable strings, one per line (µ kept)."""
    text = b"\n".join(_STRINGS.findall(data)).decode("latin-1")
    return text.replace("\u00c2\u00b5", "µ")


def _line(text: str, m: re.Match) -> str:
    s = text.rfind("\n", 0, m.start()) + 1
    e = text.find("\n", m.end())
    return text[s: e if e >= 0 else len(text)][:200]


def detect(text: str) -> list[Rtos]:
    """Every operating system the strings show, with its version where a string gives it."""
    out = []
    for r in rules():
        hit = next((m for rx in r["_detect"] if (m := rx.search(text))), None)
        if hit is None:
            continue
        name = r["name"]
        if r.get("name_group") and hit.groupdict().get(r["name_group"]):
            name = f"{name}-{hit.group(r['name_group'])}"
        ver = next((m for rx in r["_version"] if (m := rx.search(text))), None)
        out.append(Rtos(id=r["id"], name=name, version=ver.group("v") if ver else None,
                        evidence=_line(text, ver or hit), cpe=r.get("cpe") or None, supplier=r.get("supplier")))
    return out
