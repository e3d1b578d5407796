"""Binary signature rules (rules/signatures.yaml, rules/field.yaml) and the matcher over a file's printable strings.

Written here rather than taken from a library: the maintained scanners that carry such tables
(cve-bin-tool's checkers, EMBA's version database) are whole applications with their own data model
and no stable library API; firmpass needs a small, precise, data-driven matcher whose every result
carries the rule and the matched text as evidence.

Precision is the design goal:
- only strings holding a "digit.digit" are ever compared, each pattern anchored to a whole string;
- a pattern listed under `owned` (or a `bare` version) only counts in a file whose name says it belongs
  to the product (libcurl.so.4 for libcurl);
- an `anywhere` banner found in a file owned by ANOTHER product is dropped unless the rule is
  `embeddable` (a statically linked zlib keeps its unmistakable copyright banner; an 'OpenSSL 3.0.x'
  quoted inside curl does not make an OpenSSL component).

Ownership by name also covers a library's unversioned name (libmemusage.so for a pattern written for
libmemusage.so.N).  A file no name claims may still sit in a directory that belongs to one product (its
private library directory /usr/lib/<product>/, a plugin tree /usr/lib/<triplet>/krb5/plugins/, or the
`dirs` a rule lists, such as glibc's gconv/): that gives only a version-less "directory" match, never
a version, and only when the file shows no version of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import yaml

from firmpass.identify.releases import release_for

# strings that can carry a version: "x.y", or an integer version after the word "version" (kmod 30)
_HAS_VERSION = re.compile(rb"(?m)^.*(?:\d\.\d|[Vv]ersion:? \d|from iputils \d|^less \d|^[6-9][a-z]? +\d\d?-[A-Z][a-z]{2}-\d{4}$).*$")
# zlib's version string is compiled into every caller of deflateInit_/inflateInit_: in a file that links
# libz, a bare "1.2.13" is zlib's, never the file's own version
_ZLIB_LIKE = re.compile(r"^1\.[23]\.\d{1,2}(?:\.\d+)?$")
_PLAIN_NUMBER = re.compile(r"^\d+$")
# an unversioned shared object: the development / plugin name of a library (libmemusage.so)
_UNVERSIONED_SO = re.compile(r"^[\w+.-]+\.so$")
# a library directory: /lib, /usr/lib, lib32/lib64, libexec, optionally with a multiarch triplet
_LIBDIR = r"(?:^|/)(?:usr/)?(?:lib|lib32|lib64|libexec)(?:/[a-z0-9_]+-linux-[a-z0-9_]+)?"


@dataclass
class Rule:
    id: str
    name: str
    cpe: str | None  # "vendor:product"
    cpe_aliases: list[str]
    purl: str  # type/name or type/namespace/name
    type: str
    supplier: str | None
    # the patterns as the table writes them; compiled on first use (the cached properties below): a scan
    # compiles only the rules its files reach, and loading the table costs no regex compilation
    files_src: str | None
    dirs_src: str | None  # the rule's own `dirs` (its private library / plugin directories are added)
    anywhere_src: tuple[str, ...]
    owned_src: tuple[str, ...]
    bare_src: str | None
    fname_src: str | None
    embeddable: bool
    debian: list[str]
    corpus: str | None = None
    sample: list[str] | None = None
    deb: list[str] | None = None  # [Debian binary package, path of the file in it] whose real strings prove the rule
    raw: dict[str, Any] = field(default_factory=dict)
    anywhere_lits: tuple[str | None, ...] = ()  # required_literal() of each `anywhere` pattern

    @cached_property
    def files(self) -> re.Pattern | None:
        return re.compile(self.files_src) if self.files_src else None

    @cached_property
    def dirs(self) -> re.Pattern:
        """Directories (dirname of a file) whose files belong to the product."""
        return _dir_pattern(list(self.dir_names), self.dirs_src)

    @cached_property
    def dir_names(self) -> frozenset[str]:
        """The names a directory of the product is called by (every match of `dirs` without the rule's
        own `dirs` holds one of them: the cheap pre-check of dir_owners)."""
        return frozenset(n.lower() for n in (self.id, self.name) if n)

    @cached_property
    def anywhere(self) -> list[re.Pattern]:
        return [_compile(p) for p in self.anywhere_src]

    @cached_property
    def owned(self) -> list[re.Pattern]:
        return [_compile(p) for p in self.owned_src]

    @cached_property
    def bare(self) -> re.Pattern | None:
        return re.compile(rf"^(?:{self.bare_src})$", re.M) if self.bare_src else None

    @cached_property
    def fname(self) -> re.Pattern | None:
        return _compile(self.fname_src) if self.fname_src else None

    def owns(self, basename: str) -> bool:
        if rules_by_id().get(self.id) is self:
            return self.id in _owner_ids(basename)
        return self._owns(basename)

    def _owns(self, basename: str) -> bool:
        if self.files is None:
            return False
        if self.files.search(basename):
            return True
        # libfoo.so stands for libfoo.so.N: a pattern written for the versioned names owns it too
        return bool(_UNVERSIONED_SO.match(basename)) and any(self.files.search(f"{basename}.{n}") for n in range(10))

    def owns_dir(self, dirname: str) -> bool:
        return bool(self.dirs and self.dirs.search(dirname))

    def cpe23(self, version: str | None) -> str | None:
        if not self.cpe:
            return None
        vendor, product = self.cpe.split(":", 1)
        return f"cpe:2.3:a:{vendor}:{product}:{cpe_escape(version) if version else '*'}:*:*:*:*:*:*:*".replace(
            "cpe:2.3:a:", f"cpe:2.3:{'o' if self.type == 'operating-system' else 'a'}:", 1)


def cpe_escape(v: str) -> str:
    """Quote a version for a CPE 2.3 formatted string (NIST IR 7695 section 6.2.2)."""
    return re.sub(r"([^A-Za-z0-9._\-])", r"\\\1", v)


def _dir_pattern(names: list[str], extra: str | None) -> re.Pattern:
    """The directories of a product: its private library directory (/usr/lib/<name>[-<version>]/, files
    directly in it), anything under its plugins/modules directory there, and the rule's own `dirs`."""
    alts = "|".join(sorted({re.escape(n.lower()) for n in names if n}, key=len, reverse=True))
    pats = [rf"{_LIBDIR}/(?:{alts})(?:-[\d.]+)?(?:/(?:plugins?|modules?)(?:/.*)?)?$"]
    if extra:
        pats.append(f"(?:{extra})")
    return re.compile("|".join(pats))


def _compile(p: str) -> re.Pattern:
    rx = re.compile(p, re.M)
    if "v" not in rx.groupindex:
        raise ValueError(f"signature pattern lacks a (?P<v>...) group: {p}")
    return rx


def _checked(p: str) -> str:
    """A version pattern as written, checked when the table loads for its (?P<v>...) group (compiled later)."""
    if "(?P<v>" not in p:
        raise ValueError(f"signature pattern lacks a (?P<v>...) group: {p}")
    return p


# signatures.yaml: the first table (products proven on the corpus or a string sample); field.yaml: products
# proven by the real strings of a Debian binary (tests/fixtures/identify/field/, made by make_samples.py there)
RULE_FILES = ("signatures.yaml", "field.yaml")


@lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = []
    for name in RULE_FILES:
        data += yaml.load(resources.files(__package__).joinpath(f"rules/{name}").read_text(encoding="utf-8"), Loader=loader) or []
    out: list[Rule] = []
    seen: set[str] = set()
    for d in data:
        rid = d["id"]
        if rid in seen:
            raise ValueError(f"duplicate signature rule id {rid}")
        seen.add(rid)
        name = d.get("name", rid)
        anywhere = tuple(_checked(p) for p in d.get("anywhere", []))
        out.append(Rule(
            id=rid, name=name, cpe=d.get("cpe") or None, cpe_aliases=list(d.get("cpe_aliases", [])),
            purl=d.get("purl", f"generic/{name}"), type=d.get("type", "application"),
            # an open-source product's supplier is its project unless the table names the maintainer
            supplier=d.get("supplier") or f"{name} project",
            files_src=d.get("files") or None, dirs_src=d.get("dirs") or None, anywhere_src=anywhere,
            owned_src=tuple(_checked(p) for p in d.get("owned", [])), bare_src=d.get("bare") or None,
            fname_src=_checked(d["fname"]) if d.get("fname") else None,
            embeddable=bool(d.get("embeddable", False)), debian=list(d.get("debian", [])),
            corpus=d.get("corpus"), sample=d.get("sample"), deb=d.get("deb"), raw=d,
            anywhere_lits=tuple(required_literal(p) for p in anywhere),
        ))
    return tuple(out)


# the table's `files` patterns searched in groups of this many at once: a name that no pattern of a group
# claims costs one search for the whole group (an ELF file name is claimed by one or two rules of hundreds)
_GROUP = 24


@lru_cache(maxsize=1)
def _files_groups() -> tuple[tuple[re.Pattern, tuple[Rule, ...]], ...]:
    """The rules that have a `files` pattern, in table order, in groups with one pattern for the whole
    group (the alternation of its members': it finds a name iff one of them does)."""
    with_files = [r for r in load_rules() if r.files_src]
    groups = [tuple(with_files[i:i + _GROUP]) for i in range(0, len(with_files), _GROUP)]
    return tuple((re.compile("|".join(f"(?:{r.files_src})" for r in g)), g) for g in groups)


@lru_cache(maxsize=8192)
def _owner_rules(basename: str) -> tuple[Rule, ...]:
    """The rules of the table whose `files` claim a base name, in table order (cached: a firmware repeats
    names).  Searched group by group (_files_groups): most names belong to no rule and the others to one
    or two, and asking each of the several hundred rules (eleven times for an unversioned libfoo.so) is
    what made this cost."""
    names = [basename, *(f"{basename}.{n}" for n in range(10))] if _UNVERSIONED_SO.match(basename) else [basename]
    if not any(any_files_rx().search(n) for n in names):
        return ()
    out: list[Rule] = []
    for rx, group in _files_groups():
        if any(rx.search(n) for n in names):
            out += [r for r in group if r._owns(basename)]
    return tuple(out)


@lru_cache(maxsize=8192)
def _owner_ids(basename: str) -> frozenset[str]:
    """The ids of the rules whose `files` claim a base name."""
    return frozenset(r.id for r in _owner_rules(basename))


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters every match of `pattern` contains (top level only:
    not inside a group, a branch or a repeat), or None when it has none of 3+ characters.  A text
    without it cannot match: `lit in text` is a C-speed pre-check that saves the regex call."""
    try:
        from re import _parser as sre_parse  # Python >= 3.11
    except ImportError:  # pragma: no cover
        import sre_parse  # type: ignore[no-redef]
    try:
        items = list(sre_parse.parse(pattern))
    except re.error:
        return None
    best, cur = "", ""
    for op, av in items:
        if op is sre_parse.LITERAL:
            cur += chr(av)
            continue
        if op is sre_parse.AT:  # ^ / $ / \b: zero-width, the run goes on
            continue
        best, cur = max(best, cur, key=len), ""
    best = max(best, cur, key=len)
    return best if len(best) >= 3 else None


@lru_cache(maxsize=1)
def any_files_rx() -> re.Pattern:
    """One pattern for every rule's `files` (a file some rule claims by name)."""
    return re.compile("|".join(f"(?:{r.files_src})" for r in load_rules() if r.files_src))


@lru_cache(maxsize=1)
def rules_by_id() -> dict[str, Rule]:
    return {r.id: r for r in load_rules()}


@lru_cache(maxsize=1)
def rule_for_source() -> dict[str, Rule]:
    """Debian source package name -> rule (the first rule naming it)."""
    out: dict[str, Rule] = {}
    for r in load_rules():
        for s in r.debian:
            out.setdefault(s, r)
    return out


# version_strings() finds its candidates with bytes.find (memchr-speed) on a translated copy of the data
# rather than with a regex over every byte (Python's re scans binary data at ~50 MB/s): non-printable
# bytes become NUL (string boundaries), digits '0', letters 'A' / 'a', other printable bytes stay
_T = bytes(0 if not 0x20 <= b <= 0x7e else 0x30 if 0x30 <= b <= 0x39 else 0x41 if 0x41 <= b <= 0x5a
           else 0x61 if 0x61 <= b <= 0x7a else b for b in range(256))
# every string _HAS_VERSION accepts holds one of these (in the translated copy / in the data itself)
_KEYS_T = (b"0.0", b"-Aaa-0000")
_KEYS_RAW = (b"ersion", b"from iputils ", b"less ")


def version_strings(data: bytes) -> str:
    """The printable strings (>= 3 chars) of a blob that hold a 'digit.digit' (or one of the other
    forms _HAS_VERSION lists), one per line, in file order."""
    t = data.translate(_T)
    n = len(t)
    runs: dict[int, int] = {}
    for keys, hay in ((_KEYS_T, t), (_KEYS_RAW, data)):
        for k in keys:
            i = hay.find(k)
            while i >= 0:
                s = t.rfind(b"\0", 0, i) + 1
                e = t.find(b"\0", i)
                e = n if e < 0 else e
                if e - s >= 3:
                    runs[s] = e
                i = hay.find(k, e)
    out = [data[s: runs[s]] for s in sorted(runs)]
    return b"\n".join(x for x in out if _HAS_VERSION.match(x)).decode("ascii", "replace")


# match kinds whose text names the product (a banner, an owned pattern with the product's name in it);
# a bare number or a file name does not
_NAMING = ("signature-banner", "signature-owned")


@dataclass
class Match:
    rule: Rule
    version: str | None
    text: str  # the matched string (evidence)
    method: str  # "signature-banner", "signature-owned", "signature-bare", "file-name"
    confidence: float
    owned: bool  # the file's name belongs to the rule's product


def _line(text: str, m: re.Match) -> str:
    s = text.rfind("\n", 0, m.start()) + 1
    e = text.find("\n", m.end())
    return text[s: e if e >= 0 else len(text)][:200]


@lru_cache(maxsize=4096)
def dir_owners(dirname: str) -> tuple[Rule, ...]:
    """The rules whose product directory holds files of `dirname` (see Rule.owns_dir)."""
    return tuple(r for r in load_rules()
                 if (r.dirs_src or any(n in dirname for n in r.dir_names)) and r.owns_dir(dirname))


@lru_cache(maxsize=1)
def _banner_plan() -> tuple[tuple[Rule, ...], tuple[int, ...], tuple[tuple[str, tuple[int, ...]], ...]]:
    """The table's `anywhere` rules in table order; the positions of those that have a pattern without
    a required literal (always tried); each distinct literal once with the positions of the rules that
    have a pattern needing it.  A file's text is searched once per literal, not once per rule."""
    with_banner = tuple(r for r in load_rules() if r.anywhere_src)
    always = tuple(i for i, r in enumerate(with_banner) if None in r.anywhere_lits)
    by_lit: dict[str, list[int]] = {}
    for i, r in enumerate(with_banner):
        for lit in set(r.anywhere_lits) - {None}:
            by_lit.setdefault(lit, []).append(i)
    return with_banner, always, tuple((lit, tuple(ix)) for lit, ix in sorted(by_lit.items()))


def _banner_candidates(text: str) -> list[Rule]:
    """The `anywhere` rules of the table that can match `text` (a pattern whose literal it holds), in table order."""
    with_banner, always, by_lit = _banner_plan()
    idx = set(always)
    for lit, ix in by_lit:
        if lit in text:
            idx.update(ix)
    return [with_banner[i] for i in sorted(idx)]


def match_file(basename: str, text: str, rules: tuple[Rule, ...] | None = None,
               needed: list[str] | None = None, dirname: str | None = None) -> list[Match]:
    """All rule matches for one file (its base name, its directory and its version_strings()).

    At most one match per rule: the strongest kind found (banner > owned > bare > file name > directory).
    """
    rules = rules or load_rules()
    table = rules is load_rules()
    if table:
        owners = list(_owner_rules(basename))
    else:
        owners = [r for r in rules if r.owns(basename)]
    owner_ids = {r.id for r in owners}
    links_zlib = any(n.startswith("libz.so") for n in needed or ())
    out: list[Match] = []
    for r in owners:
        found = match_rule(r, basename, text, True, True, links_zlib=links_zlib)
        if found is not None:
            out.append(found)
    # the file's name claims it only when the binary does not say otherwise: a name owner whose version
    # comes from no text naming it (a bare number, the file name, nothing) does not silence another
    # product's self-identifying banner (telnetd that is a copy of BusyBox: BusyBox, not inetutils)
    named = any(m.version and m.method in _NAMING for m in out)
    if table:
        cands = _banner_candidates(text)
    else:
        cands = [r for r in rules if r.anywhere_src and any(lit is None or lit in text for lit in r.anywhere_lits)]
    for r in cands:
        if r.id in owner_ids:
            continue
        found = match_rule(r, basename, text, False, named, links_zlib=links_zlib)
        if found is not None:
            out.append(found)
    if not named and any(m.version and not m.owned and not m.rule.embeddable for m in out):
        out = [m for m in out if not (m.owned and m.method not in _NAMING)]
    # a rule that yields to another product found in the same file (libjpeg-turbo keeps IJG's
    # "6b  27-Mar-1998" string for compatibility: that is not IJG libjpeg 6b)
    ids = {m.rule.id for m in out if m.version}
    out = [m for m in out if not (set(m.rule.raw.get("unless", ())) & ids)]
    # a file named like several products (zebra: quagga or frr): keep the ones with a version if any
    if any(m.version for m in out):
        out = [m for m in out if m.version or not m.owned]
    # no name claims the file and it shows no version: the directory it sits in may belong to a product
    # (krb5's plugins/preauth/spake.so); a weak, version-less match, resolved against that product's
    # versioned component like a name-only one
    # A product's own directory is more specific than a generic file name: /usr/lib/proftpd/mod_ban.so is
    # proftpd's although lighttpd also names its modules mod_*.so
    if dirname and not any(m.version for m in out):
        by_dir = dir_owners(dirname) if table else tuple(r for r in rules if r.owns_dir(dirname))
        if by_dir and not owners:
            seen = {m.rule.id for m in out}
            out += [Match(r, None, dirname, "directory", 0.3, True) for r in by_dir if r.id not in seen]
        elif by_dir and not ({r.id for r in by_dir} & owner_ids):
            out = [m for m in out if not m.owned] + [Match(r, None, dirname, "directory", 0.3, True) for r in by_dir]
    return out


def _best(rx: re.Pattern, text: str) -> re.Match | None:
    """The most specific match of a pattern: 'OpenSSH_9.2p1' over 'OpenSSH_9.2' (a prefix of it).
    Versions that contradict each other (neither a prefix of the other) make the pattern inconclusive."""
    ms = list(rx.finditer(text))
    if len(ms) <= 1:
        return ms[0] if ms else None
    best = max(ms, key=lambda m: len(m.group("v")))
    v = best.group("v")
    if all(v.startswith(m.group("v")) for m in ms):
        return best
    return None


def match_rule(r: Rule, basename: str, text: str, is_owner: bool, other_owner: bool,
               links_zlib: bool = False) -> Match | None:
    """One rule against one file: the strongest kind of match (banner > owned > bare > file name)."""
    for rx in r.anywhere:
        m = _best(rx, text)
        if m:
            if other_owner and not is_owner and not r.embeddable:
                break  # quoted inside another product's binary: not evidence of this product
            conf = 0.95 if is_owner else (0.6 if other_owner else 0.8)
            return Match(r, m.group("v"), _line(text, m), "signature-banner", conf, is_owner)
    if not is_owner:
        return None
    for rx in r.owned:
        m = _best(rx, text)
        if m:
            return Match(r, m.group("v"), _line(text, m), "signature-owned", 0.9, True)
    if r.bare is not None:
        cands = {(m.group("v") if "v" in r.bare.groupindex and m.group("v") else m.group(0)): m.group(0)
                 for m in r.bare.finditer(text)}
        if links_zlib and r.id != "zlib":
            cands = {v: t for v, t in cands.items() if not _ZLIB_LIKE.match(v)}
        if len(cands) == 1:
            v, s = next(iter(cands.items()))
            return Match(r, v, s, "signature-bare", 0.7, True)
    # the file name through the table of library file names and the releases that ship them (releases.py):
    # one release => its version; several => none (libxtables.so.12.7.0 is iptables 1.8.9 and 1.8.11)
    rel = release_for(r.id, basename)
    if rel is not None:
        if rel.version is not None:
            return Match(r, rel.version, basename, f"soname-release-{rel.how}", 0.6, True)
        return Match(r, None, f"{basename} (shipped by {', '.join(rel.releases)})", "file-name", 0.3, True)
    if r.fname is not None:
        m = r.fname.search(basename)
        if m:
            return Match(r, m.group("v"), basename, "file-name-version", 0.6, True)
    # the name says which product; no version in the file: a weak signal, kept
    return Match(r, None, basename, "file-name", 0.3, True)
