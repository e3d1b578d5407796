"""What a check function gets (:class:`CheckRun`) and gives back (:class:`Hit`), and how hits
become :class:`firmpass.model.Finding` objects.

A firmware image often holds the same filesystem several times (a vendor image with a squashfs, a
jffs2 copy and a FIT ramdisk).  Checks look at every container, and every hit carries a ``key``
naming the defect (e.g. ``("user", "root")``); hits with the same check and key are merged into
ONE finding whose evidence lists each container where the defect was seen.
"""
from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Iterator

from firmpass.context import ScanContext
from firmpass.roots import find_roots
from firmpass.model import Evidence, FileEntry, Finding, SEVERITY_ORDER, Text

TEXT_LIMIT = 2 * 1024 * 1024  # config/text files bigger than this are not parsed line by line


def mask(secret: str) -> str:
    """Never show a secret whole: first 2 characters (1 when short), then its length."""
    if not secret:
        return "<empty>"
    keep = 2 if len(secret) >= 6 else 1
    return f"{secret[:keep]}***({len(secret)} chars)"


def mask_text(secret: str) -> Text:
    """The masked secret for a user-facing sentence, in both languages."""
    if not secret:
        return Text(en="<empty>", zh="<空>")
    keep = 2 if len(secret) >= 6 else 1
    return Text(en=f"{secret[:keep]}*** ({len(secret)} characters)", zh=f"{secret[:keep]}***（共 {len(secret)} 个字符）")


def mask_line(line: str, secret: str) -> str:
    return line.replace(secret, mask(secret)) if secret else line


@dataclass
class Hit:
    """One defect seen by a check. Hits with equal (check, key) are merged into one finding."""

    key: Hashable
    evidence: list[Evidence] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # fills {placeholders} in title/description (str or Text)
    data: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # overrides the catalogue severity (e.g. by evidence strength)


class CheckRun:
    """Shared, cached access to the scanned image for all checks of one scan."""

    def __init__(self, ctx: ScanContext):
        self.ctx = ctx
        self.memo: dict[Any, Any] = {}  # shared parse results between checks of one run
        self._bytes: dict[tuple[str, str], bytes] = {}
        self._sha: dict[tuple[str, str], str] = {}
        self.containers = ctx.filesystems()
        self.regular = [f for f in ctx.result.files if f.type == "file"]
        # a device's system to judge for what is missing (no updater, no local logs, no integrity
        # protection): not when the image is one bare binary (unpack's single_binary tree)
        single = {n.id for n in ctx.result.image.container_chain if n.meta.get("single_binary")}
        self.system = bool(self.regular) and not (single and set(self.containers) <= single)
        self.roots = find_roots(ctx.result.files)  # container -> root prefixes ("" = the top), deepest first
        self._rel: dict[tuple[str, str], str] = {}
        # the tree does not change while the checks run: init-script walks ask for the same few
        # paths (/etc/rc.common, /lib/functions.sh ...) tens of thousands of times on OpenWrt
        self._found: dict[tuple[str, str, str, bool], FileEntry | None] = {}

    # -------------------------------------------------------------- root filesystems
    def root_of(self, e: FileEntry) -> str:
        """The prefix of the root filesystem `e` lives in ("" when it is the container's top)."""
        for pre in self.roots.get(e.container, ("",)):
            if not pre or e.path.startswith(pre + "/"):
                return pre
        return ""

    def rel(self, e: FileEntry) -> str:
        """`e`'s path as the device sees it: relative to its root filesystem (``/etc/shadow`` for
        ``/squashfs-root/etc/shadow``).  Evidence keeps the image path (``e.path``)."""
        k = (e.container, e.path)
        r = self._rel.get(k)
        if r is None:
            pre = self.root_of(e)
            r = self._rel[k] = e.path[len(pre):] if pre else e.path
        return r

    def lookup(self, path: str, near: FileEntry | str, follow: bool = True) -> FileEntry | None:
        """`path` (as the device sees it) in the root filesystem of `near` (an entry, or a container id
        for its top); absolute symlinks resolve inside that root, never above it."""
        container, pre = (near, "") if isinstance(near, str) else (near.container, self.root_of(near))
        k = (container, pre, path, follow)
        if k not in self._found:
            self._found[k] = (self.ctx.lookup(path, near, follow) if isinstance(near, str)
                              else self._lookup_in(container, pre, path, follow))
        return self._found[k]

    def _lookup_in(self, container: str, pre: str, path: str, follow: bool = True, depth: int = 0):
        if not pre:
            return self.ctx.lookup(path, container, follow)
        idx = self.ctx.index()
        path = posixpath.normpath("/" + path.lstrip("/"))
        ent = idx.get((container, pre + path if path != "/" else pre))
        if ent is None:
            parent, name = posixpath.split(path)
            if parent != path and depth < 40:
                p = self._lookup_in(container, pre, parent, True, depth + 1)
                if p is not None and p.path != pre + parent and p.path.startswith(pre + "/"):
                    return self._lookup_in(container, pre, posixpath.join(p.path[len(pre):], name), follow, depth + 1)
            return None
        if follow and ent.type == "symlink" and ent.link_target and depth < 40:
            tgt = ent.link_target
            if not tgt.startswith("/"):
                tgt = posixpath.join(posixpath.dirname(path), tgt)
            return self._lookup_in(container, pre, tgt, True, depth + 1)
        return ent

    # -------------------------------------------------------------- file access
    def find(self, path: str) -> list[FileEntry]:
        """The regular file at `path` in each filesystem (symlinks resolved inside that filesystem)."""
        out = []
        for c in self.containers:
            for pre in self.roots.get(c, ("",)):
                e = self._lookup_in(c, pre, path)
                if e is not None and e.type == "file" and e not in out:
                    out.append(e)
        return out

    def glob(self, pattern: str) -> list[FileEntry]:
        """Regular files whose path (relative to their root filesystem, see :meth:`rel`) matches."""
        rx = re.compile(pattern)
        return [f for f in self.regular if rx.search(self.rel(f))]

    def read(self, e: FileEntry) -> bytes:
        """The first TEXT_LIMIT bytes of a file (cached: config files are read by several checks)."""
        k = (e.container, e.path)
        b = self._bytes.get(k)
        if b is None:
            try:
                b = self.ctx.read(e, TEXT_LIMIT)
            except OSError:
                b = b""
            self._bytes[k] = b
        return b

    def head(self, e: FileEntry, n: int = 8192) -> bytes:
        b = self._bytes.get((e.container, e.path))
        if b is not None:
            return b[:n]
        try:
            return self.ctx.read(e, n)
        except OSError:
            return b""

    def is_text(self, e: FileEntry) -> bool:
        k = ("is_text", e.container, e.path)
        if k not in self.memo:
            if e.size > TEXT_LIMIT or e.elf is not None:
                self.memo[k] = False
            else:
                h = self.head(e)
                self.memo[k] = b"\0" not in h and not h.startswith(b"\x7fELF")
        return self.memo[k]

    def lines(self, e: FileEntry) -> list[str]:
        return self.read(e).decode("utf-8", "replace").splitlines()

    def sha256(self, e: FileEntry) -> str | None:
        if e.sha256:
            return e.sha256
        k = (e.container, e.path)
        if k not in self._sha:
            p = self.ctx.disk(e)
            if p is None:
                return None
            h = hashlib.sha256()
            try:
                with open(p, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
            except OSError:
                return None
            self._sha[k] = h.hexdigest()
        return self._sha[k]

    def content_key(self, e: FileEntry) -> Hashable:
        """Cache key for analyses of a file's content (same bytes in several containers -> once)."""
        return e.sha256 or (e.size, e.container, e.path)

    def ev(self, e: FileEntry, line: int | None = None, excerpt: str | None = None,
           detail: Text | None = None) -> Evidence:
        """Evidence for a file; `detail` says in both languages what it shows (prose is never English only)."""
        return Evidence(path=e.path, container=e.container, line=line,
                        excerpt=(excerpt[:300] if excerpt else excerpt), sha256=self.sha256(e), detail=detail)

    def config_lines(self, paths: Iterable[FileEntry]) -> Iterator[tuple[FileEntry, int, str]]:
        """(entry, 1-based line number, stripped line) of non-comment lines of text files."""
        for e in paths:
            if not self.is_text(e):
                continue
            for n, line in enumerate(self.lines(e), 1):
                s = line.strip()
                if s and not s.startswith("#"):
                    yield e, n, s


def in_dir(path: str, *dirs: str) -> bool:
    p = posixpath.normpath(path)
    return any(p == d or p.startswith(d.rstrip("/") + "/") for d in dirs)


class _Safe(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def _fmt(tmpl: str, params: dict[str, Any], lang: str) -> str:
    vals = _Safe({k: (getattr(v, lang) if isinstance(v, Text) else
                      ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in params.items()})
    return tmpl.format_map(vals)


def _ev_key(e: Evidence) -> tuple:
    return e.path, e.container, e.line, (e.detail.en, e.detail.zh) if e.detail else None


def merge_hits(hits: Iterable[Hit]) -> list[Hit]:
    merged: dict[Hashable, Hit] = {}
    for h in hits:
        cur = merged.get(h.key)
        if cur is None:
            merged[h.key] = Hit(key=h.key, evidence=list(h.evidence), params=dict(h.params), data=dict(h.data),
                                severity=h.severity)
            continue
        seen = {_ev_key(e) for e in cur.evidence}
        for e in h.evidence:
            if _ev_key(e) not in seen:
                cur.evidence.append(e)
                seen.add(_ev_key(e))
        if h.severity and (cur.severity is None or SEVERITY_ORDER[h.severity] < SEVERITY_ORDER[cur.severity]):
            cur.severity = h.severity
    return list(merged.values())


def to_findings(check, hits: Iterable[Hit], start: int = 1) -> list[Finding]:
    out = []
    for n, h in enumerate(merge_hits(hits), start):
        data = dict(h.data)
        data.setdefault("containers", sorted({e.container for e in h.evidence if e.container}))
        data["check_version"] = check.version
        out.append(Finding(
            id=f"{check.id}-{n}", check=check.id, severity=h.severity or check.severity,
            title=Text(en=_fmt(check.finding_title.en, h.params, "en"), zh=_fmt(check.finding_title.zh, h.params, "zh")),
            description=Text(en=_fmt(check.description.en, h.params, "en"),
                             zh=_fmt(check.description.zh, h.params, "zh")),
            remediation=Text(en=_fmt(check.remediation.en, h.params, "en"),
                             zh=_fmt(check.remediation.zh, h.params, "zh")),
            evidence=h.evidence, provisions=list(check.provisions), data=data))
    return out
