"""The checks registry: one typed contract for every firmware check.

A check is two halves joined by its id (e.g. ``CRED-001``):

* the catalogue entry (DATA): ``catalogue/<family>.yaml`` holds the version, severity, the
  provisions it serves and the bilingual title / description / remediation;
* the logic (CODE): a small function in ``<family>.py`` registered with ``@check("CRED-001")``,
  taking a :class:`firmpass.checks.base.CheckRun` and yielding :class:`~firmpass.checks.base.Hit`.

``all_checks()`` is the public entry point (CONTRACTS.md): the assess stage reads ``.id``,
``.title``, ``.severity`` and ``.provisions`` from it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable, Iterable

import yaml

from firmpass.frameworks.registry import framework_ids
from firmpass.model import SEVERITY_ORDER, Text

# check families, in the order they run; each is a module and a catalogue file of the same name
FAMILIES = ["credentials", "keys", "services", "hardening", "secureboot", "updates", "logging", "filesystem", "eol"]


@dataclass
class Check:
    id: str
    family: str
    version: int
    severity: str
    title: Text  # generic name of the check (catalogue, assessment)
    finding_title: Text  # template for a finding's title ({placeholders} filled from the details)
    description: Text
    remediation: Text
    provisions: list[str]
    func: Callable[..., Iterable] | None = None
    tags: list[str] = field(default_factory=list)

    def text(self, lang: str) -> dict[str, str]:
        return {k: getattr(getattr(self, k), lang) for k in ("title", "description", "remediation")}


_FUNCS: dict[str, Callable] = {}


def check(check_id: str):
    """Decorator binding a logic function to the catalogue entry `check_id`."""

    def deco(fn):
        if check_id in _FUNCS:
            raise ValueError(f"check {check_id} registered twice")
        _FUNCS[check_id] = fn
        return fn

    return deco


def _load_family(family: str) -> list[Check]:
    raw = yaml.load(resources.files("firmpass.checks").joinpath("catalogue", f"{family}.yaml")  # noqa: S506
                    .read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: ~7x faster
    out = []
    for cid, e in raw.items():
        for k in ("title", "finding_title", "description", "remediation"):
            if not (isinstance(e.get(k), dict) and e[k].get("en") and e[k].get("zh")):
                raise ValueError(f"catalogue {family}.yaml: {cid}.{k} lacks en or zh")
        if e.get("severity") not in SEVERITY_ORDER:
            raise ValueError(f"catalogue {family}.yaml: {cid} bad severity {e.get('severity')!r}")
        for p in e.get("provisions", []):
            fw, _, pid = p.partition(":")
            if fw not in framework_ids() or not pid:
                raise ValueError(f"catalogue {family}.yaml: {cid} bad provision ref {p!r}")
        out.append(Check(id=cid, family=family, version=int(e.get("version", 1)), severity=e["severity"],
                         title=Text(**e["title"]), finding_title=Text(**e["finding_title"]), description=Text(**e["description"]),
                         remediation=Text(**e["remediation"]), provisions=list(e.get("provisions", [])),
                         tags=list(e.get("tags", []))))
    return out


@lru_cache(maxsize=None)
def _registry() -> tuple[Check, ...]:
    checks: list[Check] = []
    for fam in FAMILIES:
        importlib.import_module(f"firmpass.checks.{fam}")  # registers the logic functions
        checks.extend(_load_family(fam))
    ids = [c.id for c in checks]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate check id in the catalogue")
    for c in checks:
        c.func = _FUNCS.get(c.id)
        if c.func is None:
            raise ValueError(f"check {c.id} has a catalogue entry but no logic")
    missing = set(_FUNCS) - set(ids)
    if missing:
        raise ValueError(f"checks without catalogue entry: {sorted(missing)}")
    return tuple(checks)


def all_checks() -> list[Check]:
    return list(_registry())


def get(check_id: str) -> Check:
    for c in _registry():
        if c.id == check_id:
            return c
    raise KeyError(check_id)
