"""What the identify stage's sources share: the component being built (_Builder), the name
normalisation that matches packages, files and rules, and the rule a package name belongs to."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from firmpass.identify.signatures import Rule, load_rules, rules_by_id
from firmpass.model import ComponentEvidence, FileEntry

STAGE = "identify"


@dataclass
class _Builder:
    name: str
    version: str | None
    type: str = "application"
    rule: Rule | None = None
    supplier: str | None = None
    cpe: str | None = None
    purl: str | None = None
    licenses: list[str] = field(default_factory=list)
    confidence: float = 0.0
    evidence: list[ComponentEvidence] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    main: FileEntry | None = None
    main_rank: int = 9
    deps: set = field(default_factory=set)  # builder keys
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.version)

    def add(self, ev: ComponentEvidence, conf: float, entry: FileEntry | None = None, rank: int = 5) -> None:
        if not any(e.path == ev.path and e.container == ev.container and e.method == ev.method for e in self.evidence):
            self.evidence.append(ev)
        self.confidence = max(self.confidence, conf)
        if entry is not None:
            if entry.path not in self.files:
                self.files.append(entry.path)
            if rank < self.main_rank:
                self.main, self.main_rank = entry, rank


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _stem(soname_or_pkg: str) -> str:
    """libnl-genl-3.so.200 -> libnlgenl3 ; libnl-genl-3-200 -> libnlgenl3 ; libbrotli1 -> libbrotli"""
    s = soname_or_pkg.split(".so")[0]
    s = re.sub(r"(?<=[a-z])-?\d+(?:[.-]\d+)*$", "", s) if ".so" not in soname_or_pkg else s
    return _norm(s)



def rule_for_package(name: str, source: str | None) -> Rule | None:
    by_id = rules_by_id()
    n = _norm(name)
    for r in load_rules():
        if _norm(r.name) == n or _norm(r.id) == n:
            return r
    cands = [r for r in load_rules() if source and source in r.debian]
    if not cands:
        return None
    for r in cands:
        if n.startswith(_norm(r.name)) or n.startswith(_norm(r.id)):
            return r
    return cands[0] if len(cands) == 1 or not by_id else cands[0]
