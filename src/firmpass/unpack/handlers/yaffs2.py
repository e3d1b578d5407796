"""YAFFS2 NAND images (pages with their spare/OOB areas), read through the shared walk (walk_fs).

No Python library reads YAFFS2 images and Debian has no YAFFS tool, so the reader is ours, from the
published YAFFS2 layout (yaffs_guts.h, yaffs_packedtags2.h, yaffs_packedtags1.h of the YAFFS
project, and the image writer mkyaffs2image):

  the image is a sequence of chunks: `page` data bytes then `spare` bytes (the NAND OOB area)
  the spare holds the chunk's tags, either YAFFS2 packed tags (seq_number, obj_id, chunk_id, n_bytes,
  four 32-bit words, optionally followed by their ECC) at offset 0, or after the two bad-block-marker
  bytes (offset 2, the MTD "auto" OOB layout many vendors use), or further in where a controller's
  ECC bytes come first (any even offset is tried), or, on 512+16 pages, the YAFFS1 packed
  tags (8 bytes bit-packed around the page status and ECC bytes of the 16-byte spare)
  chunk_id 0 is an object header (type, parent id, name[256], mode, uid, gid, times, size, equiv_id
  for hard links, alias[160] for symlinks, rdev for devices); chunk_id n >= 1 is the n-th data chunk
  of obj_id, n_bytes of it used.  In header tags the top bits of chunk_id (0x80000000 and the shrink
  and shadow flags) and of obj_id (the object type) carry extra information.
  When a chunk was rewritten, the copy with the highest sequence number is the live one.

The geometry (page 512/2048/4096/8192 with spare 16/64/128/256), the tag position and the byte order
are found by trying each on the first chunks and keeping the one whose tags and headers agree.
"""
from __future__ import annotations

import stat
import struct

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import FsReader, Item, linux_dev, walk_fs

GEOMETRIES = [(2048, 64), (512, 16), (4096, 128), (8192, 256), (4096, 224), (4096, 218)]
TAG_OFFSETS = [0, 2, 4]
ROOT = 1
T_FILE, T_SYMLINK, T_DIR, T_HARDLINK, T_SPECIAL = 1, 2, 3, 4, 5
FLAG_HEADER = 0x80000000
EXTRA_FLAGS = 0xF0000000
MIN_SEQ = 0x1000
MAX_SEQ = 0xEFFFFF00
PROBE_CHUNKS = 16


def _yaffs1_tags(sp: bytes, endian: str):
    """(seq, obj_id, chunk_id, n_bytes) from the YAFFS1 packed tags of a 16-byte spare: tag bytes
    0-3, 6-7 and 11-12 (bytes 4-5 are page/block status, 8-10 and 13-15 ECC)."""
    t = sp[0:4] + sp[6:8] + sp[11:13]
    a, b = struct.unpack("<II", t)  # YAFFS1 bit fields are little-endian in practice
    chunk_id = a & 0xFFFFF
    n_bytes = (a >> 22) & 0x3FF
    obj_id = b & 0x3FFFF
    n_bytes |= ((b >> 30) & 3) << 10
    return 0, obj_id, chunk_id, n_bytes  # YAFFS1 has no sequence numbers: later chunks win


class Layout:
    def __init__(self, page: int, spare: int, tag_off: int, endian: str, yaffs1: bool = False):
        self.page, self.spare, self.tag_off, self.e, self.yaffs1 = page, spare, tag_off, endian, yaffs1
        self.chunk = page + spare

    def tags(self, sp: bytes):
        if self.yaffs1:
            return _yaffs1_tags(sp, self.e)
        return struct.unpack(self.e + "IIII", sp[self.tag_off: self.tag_off + 16])

    def describe(self) -> dict:
        return {"page": self.page, "spare": self.spare, "tags": "yaffs1" if self.yaffs1 else "yaffs2",
                "tag_offset": self.tag_off, "endian": "little" if self.e == "<" else "big"}


def _header_ok(page: bytes, e: str) -> bool:
    typ, parent = struct.unpack(e + "II", page[:8])
    name = page[10:266]
    return 1 <= typ <= 5 and parent < 1 << 28 and name[:1] not in (b"\0", b"\xff") and b"\0" in name


def _score(buf, off: int, end: int, lay: Layout) -> int:
    """How many of the first chunks read consistently under this layout (0: not this layout)."""
    good = 0
    for i in range(PROBE_CHUNKS):
        pos = off + i * lay.chunk
        if pos + lay.chunk > end:
            break
        sp = bytes(buf[pos + lay.page: pos + lay.chunk])
        if sp == b"\xff" * lay.spare:
            continue  # erased
        seq, obj, chunk, nbytes = lay.tags(sp)
        obj &= 0x0FFFFFFF
        if not lay.yaffs1 and not MIN_SEQ <= seq <= MAX_SEQ:
            return 0 if i == 0 else good
        if obj == 0 or obj > 1 << 24:
            return 0 if i == 0 else good
        if chunk == 0 or chunk & FLAG_HEADER:
            if not _header_ok(bytes(buf[pos: pos + 266]), lay.e):
                return 0 if i == 0 else good
        elif nbytes > lay.page or chunk > 1 << 24:
            return 0 if i == 0 else good
        elif i == 0:
            return 0  # an image starts with an object header
        good += 1
    return good


def detect(buf, off: int, end: int) -> Layout | None:
    """The layout under which the most of the first chunks read consistently; at equal counts the one
    with its tags nearer the start of the spare area (a larger page can show a smaller page's tags at
    a far offset: 2112 = 4 x 528 bytes puts the fourth 512+16 chunk's tags at 48 of a 64-byte spare)."""
    best, score = None, (0, 0)
    for page, spare in GEOMETRIES:
        if off + page + spare > end:
            continue
        # the tags at 0 or 2 (after the bad-block marker) first; then any even offset, for OOB layouts
        # that put ECC bytes before the free area (at equal scores the earlier layout wins)
        offs = TAG_OFFSETS + [t for t in range(6, spare - 15, 2)]
        cands = [Layout(page, spare, t, e) for t in offs for e in ("<", ">") if t + 16 <= spare]
        if spare == 16:
            cands.append(Layout(page, spare, 0, "<", yaffs1=True))
        for lay in cands:
            s = (_score(buf, off, end, lay), -lay.tag_off)
            if s[0] and s > score:
                best, score = lay, s
    return best


class _Obj:
    __slots__ = ("alias", "equiv", "gid", "id", "mode", "name", "parent", "pos", "rdev", "seq", "size", "type",
                 "uid")


class _Yaffs2Reader(FsReader):
    def __init__(self, buf, off: int, end: int, lay: Layout):
        self.buf, self.off, self.lay = buf, off, lay
        self.objs: dict[int, _Obj] = {}
        self.chunks: dict[int, dict[int, tuple[int, int, int]]] = {}  # obj -> chunk -> (seq, pos, n_bytes)
        self.kids: dict[int, list[int]] = {}
        self.bad = 0
        self.size = 0
        self._scan(end)

    def _scan(self, end: int) -> None:
        lay, buf, e = self.lay, self.buf, self.lay.e
        pos, order = self.off, 0
        while pos + lay.chunk <= end:
            sp = bytes(buf[pos + lay.page: pos + lay.chunk])
            here = pos
            pos += lay.chunk
            order += 1
            if sp == b"\xff" * lay.spare:
                continue
            seq, obj, chunk, nbytes = lay.tags(sp)
            seq = seq if not lay.yaffs1 else order
            obj &= 0x0FFFFFFF
            self.size = pos - self.off
            if obj == 0 or (not lay.yaffs1 and not MIN_SEQ <= seq <= MAX_SEQ):
                self.bad += 1
                continue
            if chunk == 0 or chunk & FLAG_HEADER:
                page = bytes(buf[here: here + 516])
                if len(page) < 516 or not _header_ok(page, e):
                    self.bad += 1
                    continue
                old = self.objs.get(obj)
                if old is not None and old.seq > seq:
                    continue
                o = _Obj()
                o.id, o.seq, o.pos = obj, seq, here
                o.type, o.parent = struct.unpack(e + "II", page[:8])
                o.name = page[10:266].split(b"\0", 1)[0]
                o.mode, o.uid, o.gid = struct.unpack(e + "III", page[268:280])
                o.size, o.equiv = struct.unpack(e + "Ii", page[292:300])
                o.alias = page[300:460].split(b"\0", 1)[0]
                o.rdev = struct.unpack(e + "I", page[464:468])[0]
                high = struct.unpack(e + "I", page[500:504])[0]
                if high not in (0, 0xFFFFFFFF):
                    o.size |= high << 32
                self.objs[obj] = o
            else:
                if nbytes > lay.page:
                    self.bad += 1
                    continue
                c = self.chunks.setdefault(obj, {})
                old = c.get(chunk)
                if old is None or old[0] <= seq:
                    c[chunk] = (seq, here, nbytes)
        for o in self.objs.values():
            if o.id != ROOT:
                self.kids.setdefault(o.parent, []).append(o.id)

    def root(self):
        return ROOT

    def children(self, ref):
        for oid in sorted(self.kids.get(ref, [])):
            o = self.objs[oid]
            t = o
            if o.type == T_HARDLINK:  # the target's kind and content under this name
                t = self.objs.get(o.equiv)
                if t is None or t.type == T_HARDLINK:
                    continue
            mode = t.mode
            kind = {T_FILE: stat.S_IFREG, T_SYMLINK: stat.S_IFLNK, T_DIR: stat.S_IFDIR}.get(t.type)
            if kind is not None and stat.S_IFMT(mode) != kind:
                mode = kind | stat.S_IMODE(mode)
            link = dev = None
            if t.type == T_SYMLINK:
                link = t.alias.decode("utf-8", "surrogateescape")
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                dev = linux_dev(t.rdev)
            yield Item(o.name.decode("utf-8", "surrogateescape"), mode, t.uid, t.gid,
                       t.size if t.type == T_FILE else 0, key=t.id, link=link, dev=dev, ref=t.id)

    def content(self, item):
        lay = self.lay
        chunks = self.chunks.get(item.ref, {})
        left = item.size
        n = 1
        while left > 0:
            c = chunks.get(n)
            if c is None:  # a chunk not in the image (a hole, or lost): zeros, as YAFFS reads it
                out = bytes(min(lay.page, left))
            else:
                _seq, pos, nbytes = c
                out = bytes(self.buf[pos: pos + min(nbytes, lay.page, left)])
                if len(out) < min(lay.page, left) and n < len(chunks):
                    out += bytes(min(lay.page, left) - len(out))
            if not out:
                break
            yield out
            left -= len(out)
            n += 1


_HEADER_STARTS = {struct.pack(e + "II", t, p) for e in "<>" for t in range(1, 6) for p in range(1, 5)}
MAX_NAND_SCAN = 4 << 30


class Yaffs2Handler(Handler):
    """No magic of its own: tried at offset 0 of a file or payload, and at the erase-block boundaries of
    a raw NAND dump (carve_offsets), where the first chunk must be an object header whose spare holds
    consistent tags."""

    name = "yaffs2"
    kind = "filesystem"
    # the first object header: type 1-5 (LE or BE), then its parent id (1, the root, for top entries)
    # (parents 1-4: the root, lost+found, and the unlinked and deleted pseudo-directories)
    magics = [(struct.pack(e + "II", t, p), 0) for e in "<>" for t in range(1, 6) for p in range(1, 5)]
    carve = False  # the 8-byte pattern is too common to scan for; see carve_offsets for NAND dumps

    def carve_offsets(self, buf, base: int, start: int, end: int) -> list[int]:
        """Where a YAFFS2 partition may start inside a raw NAND dump (every page followed by its spare
        area, so the dump is a whole number of page+spare chunks from `base`): at an erase-block
        boundary (32 pages of 512 bytes, 64 of 2048 or more; a 128-page block's boundaries are among
        them) whose first 8 bytes are an object header's type and parent.  At most a few thousand
        candidates for a large dump; the engine probes each (detect) like a signature hit."""
        out: set[int] = set()
        if end - base > MAX_NAND_SCAN:
            return []
        for page, spare in GEOMETRIES:
            chunk = page + spare
            if (end - base) % chunk or end - base < 2 * chunk:
                continue
            step = chunk * (32 if page == 512 else 64)
            first = base + -(-(start - base) // step) * step
            for off in range(max(first, base + step), end - chunk + 1, step):  # base itself: offset 0, identify's
                if buf[off: off + 8] in _HEADER_STARTS:
                    out.add(off)
        return sorted(out)

    def probe(self, buf, off, end):
        lay = detect(buf, off, end)
        if lay is None:
            return None
        return end - off

    def unpack(self, u, node, src, depth):
        lay = detect(src.buf, src.off, src.end)
        if lay is None:
            raise PartError("no consistent YAFFS2 page/spare layout")
        r = _Yaffs2Reader(src.buf, src.off, src.end, lay)
        node.meta.update(lay.describe())
        node.meta.update({"objects": len(r.objs), "bad_chunks": r.bad})
        if ROOT not in r.objs and not r.kids.get(ROOT):
            raise PartError("no object under the root directory")
        if r.bad:
            u.warn("bad_chunks", node, part=u.part_name(node), count=r.bad)
        walk_fs(u, node, src, depth, r)
        return src.size
