"""squashfs: 4.0 (little-endian; gzip, lzma, lzo, xz, lz4, zstd), 1.x-3.x and the vendor 4.x variants (either
byte order, vendor magics, gzip/LZMA variants), all read by firmpass.formats.squashfs_legacy."""
from __future__ import annotations

import os
import struct

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import (
    FsReader,
    Item,
    walk_fs,
)

SQ_COMP = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}


class SquashfsHandler(Handler):
    name = "squashfs"
    kind = "filesystem"
    magics = [(b"hsqs", 0)]

    def probe(self, buf, off, end):
        if off + 96 > end:
            return None
        (_m, _inodes, _t, bsize, _frags, comp, blog, _fl, _ids, major, _minor, _root,
         used) = struct.unpack("<IIIIIHHHHHHQQ", buf[off: off + 48])
        if major != 4 or comp not in SQ_COMP or bsize != 1 << blog or not 4096 <= bsize <= 1 << 20 or used < 96:
            return None
        from firmpass.formats import squashfs_legacy as sl

        if not sl.standard_v4(buf, off, end):  # a vendor variant (compressor id that lies): LegacySquashfsHandler
            return None
        padded = (used + 4095) & ~4095
        return padded if off + padded <= end else used

    def unpack(self, u, node, src, depth):
        # Read by the project's own reader (firmpass.formats.squashfs_legacy), not dissect.squashfs.  The
        # reader has to exist for 1.x-3.x and the vendor 4.x variants, which no library reads, and on
        # standard 4.0 it is the faster of the two: dissect.squashfs costs ~37 ms to import (its
        # structure definitions are compiled at start) and ~37 ms to list the corpus image's 637 entries,
        # which put lz4/lzo/zstd images at 2.0-2.4x unsquashfs; the own reader measured 1.05-1.5x in the
        # same run (bench/bench_formats.py).  dissect.squashfs stays the independent cross-check in
        # tests/unpack/test_squashfs_crosscheck.py, so the two readers cannot share one misunderstanding.
        size = read_squashfs(u, node, src, depth)
        comp = struct.unpack_from("<H", src.buf, src.off + 20)[0]
        node.meta["compression"] = SQ_COMP.get(comp)
        for k in ("endian", "magic", "compression_id"):
            node.meta.pop(k, None)
        return size


# ------------------------------------------------------------------------ the reader behind both handlers
def _text(b: bytes) -> str:
    """A stored name or link target as text, with surrogateescape as every reader does (Item.name): the
    shared walk keeps the raw bytes (path_bytes) and makes the name readable for findings.json."""
    return b.decode("utf-8", "surrogateescape")


class _LegacyReader(FsReader):
    """Listing and content through firmpass.formats.squashfs_legacy (no library reads these versions)."""

    hardlinks = False  # as squashfs 4: a hard link is a second entry of the same inode, written twice

    def __init__(self, fs, tick=None):
        self.fs, self.tick = fs, tick

    def root(self):
        return self.fs.root()

    def children(self, d):
        from firmpass.formats import squashfs_legacy as sl

        for i, (name, ref) in enumerate(self.fs.listdir(d)):
            if self.tick is not None and i % 1024 == 1023:
                self.tick()  # a hostile directory of millions of entries stops at --timeout
            c = self.fs.inode(ref)
            link = dev = None
            if c.type == sl.SYMLINK:
                link = _text(c.link or b"")
            elif c.rdev is not None:
                dev = c.rdev
            yield Item(_text(name), c.mode, c.uid, c.gid,
                       c.size if c.type == sl.FILE else 0, key=("ino", ref), link=link, dev=dev, ref=c)

    def content(self, item):
        return self.fs.read(item.ref)


class LegacySquashfsHandler(Handler):
    """squashfs 1.x, 2.x and 3.x in either byte order, and the 4.x variants the standard reader
    refuses (big-endian, vendor magics, blocks that are not what the compressor id says), with the
    magics vendors used, gzip or LZMA in every header variant (see firmpass.formats.squashfs_legacy)."""

    name = "squashfs-legacy"
    kind = "filesystem"
    magics = [(m, 0) for m in (b"hsqs", b"sqsh", b"shsq", b"qshs", b"hsqt", b"tqsh", b"sqlz", b"zlqs")]

    def probe(self, buf, off, end):
        from firmpass.formats import squashfs_legacy as sl

        sb = sl.detect(buf, off, end)
        if sb is None or (sb.major == 4 and sl.standard_v4(buf, off, end, sb)):
            return None
        padded = (sb.bytes_used + 4095) & ~4095
        return padded if off + padded <= end else sb.bytes_used

    def unpack(self, u, node, src, depth):
        return read_squashfs(u, node, src, depth)


def read_squashfs(u, node, src, depth) -> int:
    """Unpack any squashfs (1.x-4.x, either byte order, vendor magics) through the own reader; returns
    the bytes of the image it spans."""
    from firmpass.formats import squashfs_legacy as sl

    try:
        fs = sl.LegacySquashfs(src.buf, src.off, src.end)
    except sl.LegacyError as ex:
        raise PartError(str(ex)) from None
    sb = fs.sb
    if sb.major == 4:
        node.meta["compression_id"] = sl.SQ4_COMP.get(sb.compression, sb.compression)
    node.meta.update({"version": f"{sb.major}.{sb.minor}", "endian": "big" if sb.be else "little",
                      "magic": sb.magic.decode("latin-1"), "block_size": sb.block_size, "inodes": sb.inodes,
                      "bytes_used": sb.bytes_used})
    if fs.truncated and node.status == "ok":  # (a carved part was already warned about)
        node.status = "partial"
        u.warn("truncated", node, part=u.part_name(node), size=sb.bytes_used, have=src.size)
    try:
        walk_fs(u, node, src, depth, _LegacyReader(fs, u.check_time), threads=min(4, os.cpu_count() or 1))
    finally:
        node.meta["compression"] = ", ".join(sorted(fs.codec.seen)) or None
    return min(src.size, (sb.bytes_used + 4095) & ~4095)
