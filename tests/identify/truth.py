"""Ground truth for identification, derived from the corpus' real .deb files (not from firmpass).

A package "carries its version" when its upstream version appears as a token in one of its own ELF
files in the rootfs (symbol-version nodes such as GLIBC_2.4 do not count).  Recall is measured over
those packages, over the packages that install an executable, and over every package (a package whose
files carry no version at all can only be found through a table that maps its file names to releases);
precision over every versioned component firmpass reports.  A component without a version is a miss.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from firmpass.identify import rule_for_package
from firmpass.identify.pkgdb import debian_upstream


def _deb_path(corpus: Path, recorded: str) -> Path | None:
    p = Path(recorded)
    if p.is_file():
        return p
    alt = corpus.parent / "work" / "debs" / p.name
    return alt if alt.is_file() else None


def _token_ok(before: bytes) -> bool:
    """The version is a token of its own: not inside a longer number or word, and not a symbol
    version node (GLIBC_2.4, OPENSSL_3.0.0, XZ_5.0); 'dropbear_2022.83' and 'libssh2_1.10.0' count."""
    if not before:
        return True
    if before.endswith(b"."):
        return False
    if before.endswith(b"_"):
        word = re.split(rb"[^\w]", before[:-1])[-1]
        return bool(word) and not word.isupper() and not word.replace(b"_", b"").isupper()
    return not re.search(rb"[\w]$", before)


def deb_files(deb: Path) -> list[str]:
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    files = []
    for line in out.splitlines():
        if line.startswith("-"):
            files.append(line.split(None, 5)[5].split(" -> ")[0].lstrip("."))
    return files


@lru_cache(maxsize=2)
def packages(corpus: Path) -> list[dict]:
    """GT packages with: upstream, rule (product id or None), carries (bool), elf files."""
    if shutil.which("dpkg-deb") is None:
        raise RuntimeError("dpkg-deb is needed to read the corpus .deb files")
    gt = json.loads((corpus / "ground_truth.json").read_text())
    debs = dict(line.split() for line in (corpus / "packages.txt").read_text().splitlines() if line.strip())
    root = corpus / "rootfs"
    out = []
    for p in gt["packages"]:
        up = debian_upstream(p["version"])
        src = p["source"].split()[0]
        rule = rule_for_package(p["package"], src)
        deb = _deb_path(corpus, debs[p["package"]])
        tok = re.compile(rb"([\w.]{0,24})" + re.escape(up.encode()) + rb"(?![\w]|\.\d(?!\d{7}\b))")
        elfs, carries = [], False
        for f in deb_files(deb) if deb else []:
            fp = root / f.lstrip("/")
            if fp.is_symlink() or not fp.is_file():
                continue
            b = fp.read_bytes()
            if b[:4] != b"\x7fELF":
                continue
            elfs.append(f)
            if any(_token_ok(m.group(1)) for m in tok.finditer(b)):
                carries = True
        out.append({"package": p["package"], "version": p["version"], "source": src, "upstream": up,
                    "rule": rule.id if rule else None, "carries": carries, "elfs": elfs})
    return out


def score(components, pkgs: list[dict]) -> dict:
    """recall over packages that carry their version; precision over versioned components."""
    by_rule: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for p in pkgs:
        if p["rule"]:
            by_rule.setdefault(p["rule"], set()).add(p["upstream"])
        for n in (p["package"], p["source"]):
            names.setdefault(n, set()).add(p["upstream"])
    found = set()
    correct, wrong = [], []
    for c in components:
        if not c.version or c.name == "linux":
            continue
        rid = c.properties.get("rule")
        ok = (rid in by_rule and c.version in by_rule[rid]) or (c.version in names.get(c.name, set()))
        (correct if ok else wrong).append(f"{c.name} {c.version}")
        if ok:
            found.add((rid or c.name, c.version))
    def is_hit(p):
        return (p["rule"], p["upstream"]) in found or (p["package"], p["upstream"]) in found

    carry = [p for p in pkgs if p["carries"]]
    hit = [p for p in carry if is_hit(p)]
    missed = [f"{p['package']} {p['upstream']}" for p in carry if p not in hit]
    # the measures: every package, and the packages that install an executable (bin/ or sbin/)
    exe = [p for p in pkgs if any(_is_exe(f) for f in p["elfs"])]
    n = len(correct) + len(wrong)
    return {"recall": len(hit) / len(carry) if carry else 1.0, "precision": len(correct) / n if n else 1.0,
            "carry": len(carry), "hit": len(hit), "missed": missed, "reported": n, "wrong": wrong,
            "all": len(pkgs), "all_hit": sum(map(is_hit, pkgs)),
            "all_recall": sum(map(is_hit, pkgs)) / len(pkgs) if pkgs else 1.0,
            "all_missed": [f"{p['package']} {p['upstream']}" for p in pkgs if not is_hit(p)],
            "exe": len(exe), "exe_hit": sum(map(is_hit, exe)),
            "exe_recall": sum(map(is_hit, exe)) / len(exe) if exe else 1.0}


def _is_exe(path: str) -> bool:
    """A program a user or an init script runs: an ELF file in a bin/ or sbin/ directory."""
    return "/bin/" in path or "/sbin/" in path
