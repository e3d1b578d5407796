"""Version comparison for firmware components.

Ranges that name their own scheme (OSV ecosystems, PURL types, CVE 5 ``versionType``) are compared
with univers' class for that scheme.  CPE criteria carry no scheme, and univers' GenericVersion
orders "3.0.11" before "3.0.9" and "1.0.0-rc1" after "1.0.0", so CPE ranges use `generic_key`
below: a comparator written for the versions firmware actually ships (1.1.1k, 2022.83, 2.6.36.4,
0.9.33.2, 7.4p1, 1.0.0-rc1, 1.1.1zh) -- nothing in the ecosystem orders all of those right.
"""
from __future__ import annotations

import re
from functools import lru_cache, total_ordering
from typing import Any

PRE_RELEASE = {"dev": -5, "devel": -5, "snapshot": -5, "alpha": -4, "beta": -3, "pre": -2, "preview": -2, "rc": -1, "cr": -1}
_TOKEN = re.compile(r"\d+|[a-z]+")
_EPOCH = re.compile(r"^\d+:")


def strip_epoch(v: str) -> str:
    return _EPOCH.sub("", v.strip())


def debian_upstream(v: str) -> str:
    """'1:1.35.0-4+deb12u1+b1' -> '1.35.0' (epoch and Debian revision removed)."""
    v = strip_epoch(v)
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return v


@total_ordering
class GenericKey:
    """Ordering key of a version string; see module docstring."""

    __slots__ = ("tokens", "text")

    def __init__(self, text: str):
        self.text = text
        self.tokens = tuple(int(t) if t.isdigit() else t for t in _TOKEN.findall(strip_epoch(text).lower()))

    @staticmethod
    def _rank(tok: Any) -> tuple:
        # order of one token: pre-release words < end-of-version < letters < numbers
        if isinstance(tok, int):
            return (3, tok, "")
        if tok in PRE_RELEASE:
            return (0, PRE_RELEASE[tok], "")
        return (2, 0, tok)

    def _cmp(self, other: "GenericKey") -> int:
        a, b = self.tokens, other.tokens
        for i in range(max(len(a), len(b))):
            ra = self._rank(a[i]) if i < len(a) else (1, 0, "")
            rb = self._rank(b[i]) if i < len(b) else (1, 0, "")
            if ra != rb:
                return -1 if ra < rb else 1
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenericKey) and self._cmp(other) == 0

    def __lt__(self, other: "GenericKey") -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self.tokens)

    def __repr__(self) -> str:
        return f"GenericKey({self.text!r})"


@lru_cache(maxsize=65536)
def generic_key(v: str) -> GenericKey:
    return GenericKey(v)


_KEY_PRE, _KEY_END, _KEY_ALPHA, _KEY_NUM = b"\x01", b"\x02", b"\x03", b"\x04"
SORT_KEY_MAX = 255  # bytes; longer keys are not stored (the range falls back to the Python comparator)


@lru_cache(maxsize=131072)
def sortable_key(v: str) -> bytes | None:
    """A byte string whose plain byte order (memcmp: SQLite BLOB, PostgreSQL bytea) is exactly the
    order of `generic_key`, so the store can filter CPE ranges in SQL.

    Each token of `GenericKey` is written so that the encoding is prefix-free and ordered like
    `GenericKey._rank`: pre-release word (its rank) < end of version < letters < number, then the
    end-of-version mark.  Numbers are written as length + digits without leading zeros (numeric
    order); letters end with a 0 byte (so "z" < "za").  None when the key would be longer than
    SORT_KEY_MAX or a number has more than 255 digits: the caller then compares in Python.
    """
    out = bytearray()
    for tok in _TOKEN.findall(strip_epoch(v).lower()):
        if tok.isdigit():
            if len(tok) > 255:
                return None
            d = str(int(tok))  # like GenericKey: leading zeros dropped, any Unicode digit as its value
            out += _KEY_NUM + bytes((len(d),)) + d.encode("ascii")
        elif tok in PRE_RELEASE:
            out += _KEY_PRE + bytes((16 + PRE_RELEASE[tok],))
        else:
            out += _KEY_ALPHA + tok.encode("ascii") + b"\x00"
    out += _KEY_END
    return bytes(out) if len(out) <= SORT_KEY_MAX else None


# OSV ecosystem / CVE5 versionType / purl type -> univers scheme
SCHEMES = {
    "debian": "deb", "ubuntu": "deb", "deb": "deb",
    "pypi": "pypi", "npm": "npm", "maven": "maven", "nuget": "nuget", "rubygems": "gem", "gem": "gem",
    "packagist": "composer", "composer": "composer", "go": "golang", "golang": "golang",
    "crates.io": "cargo", "cargo": "cargo", "alpine": "apk", "apk": "apk", "rpm": "rpm",
    "red hat": "rpm", "rocky linux": "rpm", "almalinux": "rpm", "suse": "rpm", "opensuse": "rpm",
    "semver": "semver", "hex": "hex", "openssl": "openssl",
}


@lru_cache(maxsize=64)
def _version_class(scheme: str):
    from univers import versions as V
    from univers.version_range import RANGE_CLASS_BY_SCHEMES

    if scheme == "semver":
        return V.SemverVersion
    rc = RANGE_CLASS_BY_SCHEMES.get(scheme)
    vc = getattr(rc, "version_class", None) if rc else None
    if vc is None or vc is V.GenericVersion:
        return None
    return vc


def scheme_for(name: str | None) -> str | None:
    if not name:
        return None
    base = name.split(":", 1)[0].strip().lower()
    return SCHEMES.get(base)


@lru_cache(maxsize=131072)
def make_key(v: str, scheme: str | None = None):
    """An orderable key for `v` in `scheme` (univers class), falling back to `generic_key`.

    Returns (kind, key) so keys of different kinds are never compared with each other.
    """
    if scheme:
        vc = _version_class(scheme)
        if vc is not None:
            try:
                return ("u:" + scheme, vc(v))
            except Exception:  # noqa: BLE001 - univers raises several types on odd versions
                pass
    return ("g", generic_key(v))


def compare(a: str, b: str, scheme: str | None = None) -> int:
    ka, kb = make_key(a, scheme), make_key(b, scheme)
    if ka[0] != kb[0]:  # one side not valid in the scheme: compare both generically
        ka, kb = ("g", generic_key(a)), ("g", generic_key(b))
    x, y = ka[1], kb[1]
    return 0 if x == y else (-1 if x < y else 1)


def in_range(v: str, *, exact: str | None = None, start_incl: str | None = None, start_excl: str | None = None,
             end_incl: str | None = None, end_excl: str | None = None, scheme: str | None = None) -> bool:
    if exact is not None:
        return compare(v, exact, scheme) == 0
    if start_incl and compare(v, start_incl, scheme) < 0:
        return False
    if start_excl and compare(v, start_excl, scheme) <= 0:
        return False
    if end_incl and compare(v, end_incl, scheme) > 0:
        return False
    if end_excl and compare(v, end_excl, scheme) >= 0:
        return False
    return True


def range_keys(exact: str | None = None, start_incl: str | None = None, start_excl: str | None = None,
               end_incl: str | None = None, end_excl: str | None = None, scheme: str | None = None) -> dict:
    """The stored form of a range for SQL filtering: {keyed, key_lo, lo_incl, key_hi, hi_incl}.

    `keyed` is True only when `in_range` would use `generic_key` for every comparison (no scheme
    with its own univers class) and every bound has a `sortable_key`; then, for a version key k,
    ``in_range(v, ...)`` == (key_lo is NULL or key_lo < k or (lo_incl and key_lo == k)) and
    (key_hi is NULL or k < key_hi or (hi_incl and k == key_hi)).  Otherwise keyed is False and the
    matcher compares in Python.  Bounds are tested for truth exactly as `in_range` does.
    """
    none = {"keyed": False, "key_lo": None, "lo_incl": None, "key_hi": None, "hi_incl": None}
    if scheme and _version_class(scheme) is not None:
        return none
    if exact is not None:
        k = sortable_key(exact)
        return none if k is None else {"keyed": True, "key_lo": k, "lo_incl": True, "key_hi": k, "hi_incl": True}
    lo: tuple[bytes, bool] | None = None
    hi: tuple[bytes, bool] | None = None
    for text, incl, low in ((start_incl, True, True), (start_excl, False, True), (end_incl, True, False),
                            (end_excl, False, False)):
        if not text:
            continue
        k = sortable_key(text)
        if k is None:
            return none
        if low:  # both start bounds given: the stricter one decides (the larger; excluding on a tie)
            if lo is None or k > lo[0] or (k == lo[0] and not incl):
                lo = (k, incl)
        elif hi is None or k < hi[0] or (k == hi[0] and not incl):
            hi = (k, incl)
    return {"keyed": True, "key_lo": lo[0] if lo else None, "lo_incl": lo[1] if lo else None,
            "key_hi": hi[0] if hi else None, "hi_incl": hi[1] if hi else None}


def key_in_range(k: bytes, keys: dict) -> bool:
    """`range_keys` evaluated in Python (the same test the store's SQL makes)."""
    lo, hi = keys["key_lo"], keys["key_hi"]
    if lo is not None and not (lo < k or (keys["lo_incl"] and lo == k)):
        return False
    if hi is not None and not (k < hi or (keys["hi_incl"] and k == hi)):
        return False
    return True


def describe_range(exact=None, start_incl=None, start_excl=None, end_incl=None, end_excl=None) -> str:
    if exact is not None:
        return f"= {exact}"
    parts = []
    if start_incl:
        parts.append(f">= {start_incl}")
    if start_excl:
        parts.append(f"> {start_excl}")
    if end_incl:
        parts.append(f"<= {end_incl}")
    if end_excl:
        parts.append(f"< {end_excl}")
    return ", ".join(parts) or "all versions"
