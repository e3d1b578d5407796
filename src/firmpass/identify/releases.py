"""Shared-library file names -> releases, only through the table rules/soname-releases.yaml.

A library's file-name version is its ABI (libtool's current-age.age.revision), not its release:
libnettle.so.8.6 is nettle 3.8.1, and libxtables.so.12.7.0 is shipped by iptables 1.8.9 and 1.8.11
alike.  So a file name gives a version only when the table lists exactly one release for it (or the
table's `pattern` says the product's build writes its release into the name, as libbsd and libseccomp
do).  A name that several releases ship stays without a version.

Written here (a table and a dictionary look-up): no maintained library maps library file names to
releases; the table's every row says in which real packages it was checked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Release:
    rule: str
    version: str | None  # None: several releases ship this name (ambiguous, no version)
    releases: tuple[str, ...]
    how: str  # "table" (a listed file name) or "pattern" (the build derives the name from the release)


@lru_cache(maxsize=1)
def _table() -> tuple[dict[tuple[str, str], Release], tuple[tuple[str, re.Pattern], ...]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = yaml.load(resources.files(__package__).joinpath("rules/soname-releases.yaml").read_text(encoding="utf-8"),
                     Loader=loader) or []
    names: dict[tuple[str, str], Release] = {}
    pats: list[tuple[str, re.Pattern]] = []
    for row in rows:
        rule = row["rule"]
        if not row.get("seen"):
            raise ValueError(f"soname-releases row for {rule} says nowhere where it was checked")
        if "pattern" in row:
            rx = re.compile(row["pattern"])
            if "v" not in rx.groupindex:
                raise ValueError(f"soname-releases pattern for {rule} lacks a (?P<v>...) group")
            pats.append((rule, rx))
            continue
        rels = tuple(str(v) for v in row["releases"])
        for f in row["files"]:
            key = (rule, f)
            if key in names:  # the same name under two rows: every release of both, so never a guess
                rels = tuple(sorted(set(rels) | set(names[key].releases)))
            names[key] = Release(rule, rels[0] if len(rels) == 1 else None, rels, "table")
    return names, tuple(pats)


def release_for(rule_id: str, basename: str) -> Release | None:
    """The table's verdict for a file of `rule_id`'s product named `basename` (a real file name, not a
    SONAME link); None when the table does not know the name."""
    names, pats = _table()
    got = names.get((rule_id, basename))
    if got is not None:
        return got
    for rid, rx in pats:
        if rid == rule_id:
            m = rx.match(basename)
            if m:
                return Release(rule_id, m.group("v"), (m.group("v"),), "pattern")
    return None


def rows() -> list[dict]:
    """The table's rows as written (tests and docs)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(resources.files(__package__).joinpath("rules/soname-releases.yaml").read_text(encoding="utf-8"),
                     Loader=loader) or []


# Symbol version nodes that name a release of the product defining them (System V symbol versioning):
# a library that defines GLIBC_2.36 is glibc 2.36 or later, one that defines OPENSSL_3.0.9 is OpenSSL
# 3.0.9 or later.  A node says "at least", never "exactly" (glibc 2.37 adds no GLIBC_2.37): it bounds a
# version from below and contradicts a lower one, it never gives one.  Nodes named after an ABI rather than
# a release (LIBMNL_1.2 in libmnl 1.0.4, NETTLE_8) are not listed.
_NODE_FLOOR = {
    "glibc": re.compile(r"^GLIBC_(?P<v>2\.\d+(?:\.\d+)?)$"),
    "openssl": re.compile(r"^OPENSSL_(?P<v>[13][._]\d+[._]\d+[a-z]?)$"),
    "libxcrypt": re.compile(r"^XCRYPT_(?P<v>\d+\.\d+)$"),
    "zlib": re.compile(r"^ZLIB_(?P<v>1\.\d+(?:\.\d+){0,2})$"),
    "xz": re.compile(r"^XZ_(?P<v>5\.\d+(?:\.\d+)?)$"),
}


def nums(v: str) -> tuple[int, ...]:
    """The numeric parts of a version, for comparison ('1.1.1w' -> (1, 1, 1))."""
    return tuple(int(x) for x in re.findall(r"\d+", v.split("-")[0]))


def symbol_floor(verdefs: list[str]) -> dict[str, tuple[str, str]]:
    """rule id -> (lowest release, node) from the version nodes a library defines: the highest node
    that names a release of a listed product."""
    out: dict[str, tuple[str, str]] = {}
    for node in verdefs:
        for rid, rx in _NODE_FLOOR.items():
            m = rx.match(node)
            if m:
                v = m.group("v").replace("_", ".")
                if rid not in out or nums(v) > nums(out[rid][0]):
                    out[rid] = (v, node)
    return out


def below_floor(version: str, floor: str) -> bool:
    """True when `version` is older than the release a symbol version node proves (a contradiction)."""
    a, b = nums(version), nums(floor)
    return bool(a) and a < b[: len(a)]  # '3.0' (a series) is not below OPENSSL_3.0.9; '2.35' is below GLIBC_2.36
