"""What a handler is (`Handler`, `register`, `REGISTRY`), the errors a handler raises to stop its own
part (`PartError`, `StreamLimit`), and the magic tables built from the registry: the carving scan's
(`signatures`, `candidates`) and the offset-0 identification's (`sniff_table`)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from firmpass.model import ContainerNode, Text
from firmpass.unpack.source import Src

if TYPE_CHECKING:
    from firmpass.unpack.engine import Unpacker


class PartError(Exception):
    """A corrupt / truncated / unsupported part: warn, keep going with the rest."""


class StreamLimit(Exception):
    """A per-stream limit (expansion ratio, size of one file) was hit: that part stops."""

    def __init__(self, detail: str, option: str, zh: str | None = None):
        super().__init__(detail)
        self.detail, self.option = detail, option
        self.text = Text(en=detail, zh=zh or detail)



class Handler:
    """One format.  `magics`: (bytes, offset of the magic from the start of the format).
    carve: found by the signature scan inside a blob; sniff: recognised at offset 0 of a file inside
    a filesystem.  probe() returns the part's size, -1 when only unpacking tells (streams), or None
    when the bytes are not this format."""

    name = "?"
    kind = "container"  # see firmpass.unpack.handlers: boot, kernel, container, filesystem, archive, stream, leaf
    aliases: tuple[str, ...] = ()  # other format names the handler may give its node (ext -> ext2/ext3/ext4)
    magics: list[tuple[bytes, int]] = []
    carve = True
    sniff = True
    leaf = False  # recognised and recorded, nothing inside (kernel, DTB, ELF)

    def probe(self, buf, off: int, end: int) -> int | None:
        raise NotImplementedError

    def unpack(self, u: "Unpacker", node: ContainerNode, src: Src, depth: int) -> int:
        """Unpack the part; returns the bytes consumed (<= src.size)."""
        return src.size


REGISTRY: list[Handler] = []


def register(cls):
    REGISTRY.append(cls())
    return cls


def kind_of(fmt: str | None) -> str | None:
    """The kind of a container node's format (its handler's `kind`), or None for the engine's own
    formats (vendor-header, concat, data, empty) and unknown names."""
    for h in REGISTRY:
        if fmt == h.name or fmt in h.aliases:
            return h.kind
    return None


_sig_cache: dict[str, tuple[re.Pattern, dict[int, list[tuple[bytes, list[tuple[Handler, int]]]]]]] = {}


def signatures(kind: str):
    """A compiled alternation of all magics (C speed over an mmap), and per first byte the magics and
    their handlers.  The alternation has no groups: with one named group per magic Python's regex
    engine tries every branch at every offset (about 1 MB/s); a plain alternation of literals is
    prefiltered by its first bytes (15-20x faster).  The handlers of a hit are found with
    candidates()."""
    if kind not in _sig_cache:
        groups: dict[bytes, list[tuple[Handler, int]]] = {}
        for h in REGISTRY:
            if kind == "carve" and not h.carve:
                continue
            for magic, moff in h.magics:
                groups.setdefault(magic, []).append((h, moff))
        mags = sorted(groups, key=len, reverse=True)
        pat = re.compile(b"|".join(re.escape(m) for m in mags), re.S)
        by_first: dict[int, list[tuple[bytes, list[tuple[Handler, int]]]]] = {}
        for m in mags:
            by_first.setdefault(m[0], []).append((m, groups[m]))
        _sig_cache[kind] = (pat, by_first)
        _sig_magics[kind] = {f"g{i}": m for i, m in enumerate(mags)}
    return _sig_cache[kind]


def candidates(by_first, buf, at: int) -> list[tuple[Handler, int]]:
    """Every (handler, magic offset) whose magic is at `at`, in registry order (a shorter magic that is
    a prefix of the one the regex matched is tried too)."""
    out: list[tuple[Handler, int]] = []
    for magic, hs in by_first.get(buf[at], ()):
        if buf[at: at + len(magic)] == magic:
            out.extend(hs)
    if len(out) > 1:
        out.sort(key=lambda hm: REGISTRY.index(hm[0]))
    return out


_sig_magics: dict[str, dict[str, bytes]] = {}


_sniff_cache: dict[str, tuple[int, list[tuple[Handler, bytes, int]], list[tuple[int, tuple[bytes, ...]]]]] = {}


def sniff_table(kind: str) -> tuple[int, list[tuple[Handler, bytes, int]], list[tuple[int, tuple[bytes, ...]]]]:
    """For identification at offset 0: how many leading bytes hold every magic; (handler, magic,
    offset) in registry order (kind "sniff" leaves out the handlers that are carved only); and the
    magics grouped by offset, for bytes.startswith(tuple, offset): whether any magic is there at all
    in about ten calls.  Built once: Unpacker.identify runs for every file of every filesystem."""
    if kind not in _sniff_cache:
        rows = [(h, magic, moff) for h in REGISTRY if kind != "sniff" or h.sniff for magic, moff in h.magics]
        by_off: dict[int, set[bytes]] = {}
        for _h, magic, moff in rows:
            by_off.setdefault(moff, set()).add(magic)
        _sniff_cache[kind] = (max((moff + len(m) for _h, m, moff in rows), default=0), rows,
                              sorted((o, tuple(sorted(ms))) for o, ms in by_off.items()))
    return _sniff_cache[kind]
