"""Carving: the parts of a blob found by signature (a vendor header, concatenated images), each
unpacked as a child of the blob's node.  A signature scan of our own (each magic found window by
window with the mapping's own find(), the deadline checked between windows) is used instead of
unblob: unblob would bring ~40 dependencies and sasquatch for squashfs, while the formats here need
only their magic and a header check to be sized."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from firmpass.model import ContainerNode
from firmpass.unpack.handler import REGISTRY, Handler, _sig_magics, candidates, signatures
from firmpass.unpack.source import Src

if TYPE_CHECKING:
    from firmpass.unpack.engine import Unpacker

CARVE_WINDOW = 1 << 20


class _MagicHits:
    """The next (offset, group) at or after a position where any magic occurs, found window by
    window with the buffer's own find() (memchr speed; Python's regex alternation of the same
    literals costs about 1 us a byte: 128 MiB of zeros took a minute, uninterruptible).  Between
    windows `check_time` enforces --timeout (B8)."""

    def __init__(self, buf, end: int, magics: dict[str, bytes], check_time):
        self.buf, self.end, self.magics, self.check_time = buf, end, magics, check_time
        self.longest = max((len(m) for m in magics.values()), default=1)
        self.w0 = self.w1 = -1
        self.found: list[tuple[int, str]] = []
        self.i = 0

    def _fill(self, w0: int) -> None:
        self.check_time()
        w1 = min(self.end, w0 + CARVE_WINDOW)
        stop = min(self.end, w1 + self.longest - 1)  # a magic that starts in the window may end past it
        out = []
        for k, (g, mg) in enumerate(self.magics.items()):  # at one offset the first magic wins, as in the regex
            p = self.buf.find(mg, w0, stop)
            while p != -1 and p < w1:
                out.append((p, k, g))
                p = self.buf.find(mg, p + 1, stop)
        out.sort()
        self.w0, self.w1, self.found, self.i = w0, w1, [(p, g) for p, _k, g in out], 0

    def next(self, pos: int) -> tuple[int, str] | None:
        while pos < self.end:
            if not (self.w0 <= pos < self.w1):
                self._fill(pos)
            while self.i < len(self.found) and self.found[self.i][0] < pos:
                self.i += 1
            if self.i < len(self.found):
                return self.found[self.i]
            pos = self.w1
        return None


_PAD = re.compile(rb"\x00+|\xff+")  # one-or-more: a starred first branch would match empty before 0xFF


def _pad_len(buf, start: int, end: int) -> int:
    """Length of the 0x00 or 0xFF padding run at [start, end) (erased flash reads 0xFF)."""
    if start >= end:
        return 0
    m = _PAD.match(buf, start, end)
    return m.end() - start if m else 0



def _probe(h: Handler, buf, off: int, end: int) -> int | None:
    try:
        return h.probe(buf, off, end)
    except Exception:  # noqa: BLE001 - a probe failing means "not this format"
        return None


class _Scan:
    """The next part in a blob: the signature hits (_MagicHits) merged in offset order with the
    offsets that handlers whose magic is too common to scan for name themselves (YAFFS2 in a NAND
    dump: erase-block boundaries)."""

    def __init__(self, u: "Unpacker", src: Src, start: int):
        _pat, self.groups = signatures("carve")
        self.buf, self.end = src.buf, src.end
        self.hits = _MagicHits(self.buf, self.end, dict(_sig_magics["carve"]), u.check_time)
        self.extra = sorted((o, i, h) for i, h in enumerate(REGISTRY) if hasattr(h, "carve_offsets")
                            for o in h.carve_offsets(self.buf, src.off, start, self.end))

    def next(self, pos: int) -> tuple[tuple[Handler, int, int] | None, int | None]:
        """(the part (handler, offset, size) found at or after pos, or None; where to look next when
        it is None, or None when nothing is left)."""
        buf, end, extra = self.buf, self.end, self.extra
        m = self.hits.next(pos)
        while extra and extra[0][0] < pos:
            extra.pop(0)
        if extra and (m is None or extra[0][0] <= m[0]):
            off, _, h = extra.pop(0)
            size = _probe(h, buf, off, end)
            return ((h, off, size), None) if size is not None else (None, pos)
        if m is None:
            return None, None
        for h, moff in candidates(self.groups, buf, m[0]):
            off = m[0] - moff
            if off < pos:
                continue
            size = _probe(h, buf, off, end)
            if size is not None:
                return (h, off, size), None
        return None, m[0] + 1


def carve(u: "Unpacker", parent: ContainerNode, src: Src, start: int, depth: int) -> int:
    """Find parts by signature in src[start:], unpack each as a child of parent; returns their count."""
    scan = _Scan(u, src, start)
    pos, found, probes = start, 0, 0
    while pos < src.end:
        probes += 1
        if probes % 4096 == 0:
            u.check_time()  # a blob full of magics: the deadline holds between probes too
        hit, nxt = scan.next(pos)
        if hit is None:
            if nxt is None:
                break
            pos = nxt
            continue
        found += 1
        pos = _unpack_part(u, parent, src, *hit, depth)
    return found


def _unpack_part(u: "Unpacker", parent: ContainerNode, src: Src, h: Handler, off: int, size: int,
                 depth: int) -> int:
    """One carved part as a child of parent (its bytes kept as a blob unless its handler wrote one);
    returns where the scan goes on."""
    buf, end = src.buf, src.end
    stop = end if size < 0 else min(end, off + size)
    child = u.new_node(parent, h.name, offset=off, size=(stop - off) if size >= 0 else 0)
    if depth + 1 > u.lim.max_depth:
        child.status = "skipped"
        u.warn("depth", child, part=u.part_name(child), depth=u.lim.max_depth)
        return stop
    if size >= 0 and off + size > end:
        u.warn("truncated", child, part=u.part_name(child), size=size, have=end - off)
        child.status = "partial"
    consumed = u.run(h, child, Src(src.path, buf, off, stop), depth + 1)
    consumed = max(1, min(consumed, stop - off))
    child.size = consumed
    if child.blob is None:
        bp = u.blob_file(child)
        u.account(consumed)
        with open(bp, "wb") as fh:
            fh.write(memoryview(buf)[off: off + consumed])
        child.blob = os.path.relpath(bp, u.out)
    return off + consumed
