"""Which provisions count as evidence for which, and how a provision is cited.

rules.yaml (a rule's `refs`, `checks`, `facts`, `answers`, `docs`), the V2 / V3 forms of one EN 303 645
provision, the established cross-walk links, and a ref as the chosen EN 303 645 version numbers it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import yaml

from firmpass import frameworks


@lru_cache(maxsize=None)
def rules() -> dict[str, dict[str, Any]]:
    """rules.yaml: provision ref -> its rule."""
    data = yaml.load(resources.files(__package__).joinpath("rules.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data["rules"]


_VARIANT = re.compile(r"^(.*\d)([AB])$")


def _etsi_variants(pid: str) -> set[str]:
    """V2/V3 forms of one EN 303 645 provision: 5.6-4 <-> 5.6-4A/5.6-4B, 4-1 <-> 5.0-1."""
    out = {pid}
    m = _VARIANT.match(pid)
    if m:
        out.add(m.group(1))
    else:
        out |= {pid + "A", pid + "B"}
    if pid in ("4-1", "5.0-1"):
        out |= {"4-1", "5.0-1"}
    return {f"en303645:{x}" for x in out}


@lru_cache(maxsize=None)
def _links() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Established cross-walk links only (the law or standard states them, e.g. PSTI Schedule 2 deeming
    EN 303 645 compliance): the reference's 'derived' links are its compilers' own reading and are not
    evidence - they made a command-injection finding fail MLPS anti-replay."""
    to_other: dict[str, set[str]] = {}
    established: dict[str, set[str]] = {}
    for l in frameworks.crosswalk()["links"]:
        if l["basis"] == "established":
            to_other.setdefault(l["to"], set()).add(l["from"])
            established.setdefault(l["from"], set()).add(l["to"])
    return to_other, established


def direct_refs(ref: str) -> set[str]:
    """The provision itself in every EN 303 645 version, plus the refs its rule names."""
    fw, pid = ref.split(":", 1)
    refs = {ref} | set(rules().get(ref, {}).get("refs", []))
    if fw == "en303645":
        refs |= _etsi_variants(pid)
    return refs


def evidence_refs(ref: str) -> set[str]:
    """direct_refs plus the provisions an established cross-walk link ties to it."""
    fw, pid = ref.split(":", 1)
    refs = direct_refs(ref)
    to_other, established = _links()
    if fw == "en303645":
        refs |= established.get(ref, set())
    else:
        for e in to_other.get(ref, set()):
            refs |= _etsi_variants(e.split(":", 1)[1])
    return refs

def etsi_cite(ref: str, version: str) -> str | None:
    """A provision ref as the chosen EN 303 645 version numbers it (5.6-4 in V3 -> 5.6-4A; 5.6-4A in V2 ->
    5.6-4; 4-1 <-> 5.0-1); None for a provision the version does not have (6-8 in V2).  Other frameworks
    and provisions present in the version are unchanged."""
    if not ref.startswith("en303645:"):
        return ref
    present = {it["ref"] for it in frameworks.items("en303645", version)}
    if ref in present:
        return ref
    pid = ref.split(":", 1)[1]
    for cand in (pid + "A", pid[:-1] if _VARIANT.match(pid) else None, "5.0-1" if pid == "4-1" else None,
                 "4-1" if pid == "5.0-1" else None):
        if cand and f"en303645:{cand}" in present:
            return f"en303645:{cand}"
    return None


def cite_all(refs: Iterable[str], version: str) -> list[str]:
    """etsi_cite over refs, without duplicates or refs the version does not have."""
    return [r for r in dict.fromkeys(etsi_cite(r, version) for r in refs) if r]
