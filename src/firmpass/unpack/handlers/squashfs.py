"""squashfs 4.0 (little-endian; gzip, lzma, lzo, xz, lz4, zstd) through dissect.squashfs, and squashfs
1.x-3.x (either byte order, vendor magics, gzip/LZMA variants) through firmpass.formats.squashfs_legacy."""
from __future__ import annotations

import os
import stat
import struct
import threading
from collections import OrderedDict

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import (
    FsReader,
    Item,
    linux_dev,
    walk_fs,
)

SQ_COMP = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}


_codecs_set = False


def _native_squashfs_codecs() -> None:
    """Once, before the first squashfs 4.0 image is read (not at import: importing dissect.squashfs
    costs about 30 ms that a scan of any other format need not pay).  dissect.squashfs wants backports.zstd for zstd and falls back to pure-Python LZO/LZ4; point it at
    the C bindings we depend on anyway (zstandard, lz4, lzallright for LZO, ISA-L for zlib): same output,
    far faster."""
    global _codecs_set
    if _codecs_set:
        return
    from dissect.squashfs import compression as c

    class Zstd(c.Compression):
        module = "zstandard"

        def decompress(self, data, expected):
            return self._module.ZstdDecompressor().decompress(data, max_output_size=max(expected, 1))

    class Lz4(c.Compression):
        module = "lz4.block"

        def decompress(self, data, expected):
            return self._module.decompress(data, uncompressed_size=expected)

    class Lzo(c.Compression):
        module = "firmpass.formats.lzo"

        def decompress(self, data, expected):
            return self._module.decompress(data, expected)

    class Zlib(c.Compression):
        # ISA-L's inflate (python-isal): the same bytes as zlib at about twice the speed, and it releases the
        # GIL; bounded by the block size, which dissect's own zlib.decompress(data) is not
        module = "firmpass.formats.inflate"

        def decompress(self, data, expected):
            return self._module.inflate(data, max(expected, 1))

    c.NativeZSTD, c.AvailableLZ4, c.AvailableLZO, c.NativeZlib = Zstd, Lz4, Lzo, Zlib
    _codecs_set = True


class _FilePlan:
    """Where a regular file's content is: its data blocks (start and dissect's block list) and its tail
    in a fragment block.  Made while listing, on the one thread that reads metadata; the threads that
    write content then read only data blocks (a corrupt inode's error is kept for that file)."""

    __slots__ = ("size", "start", "blocks", "frag", "error")

    def __init__(self, fs, inode):
        self.size, self.start, self.blocks, self.frag, self.error = inode.size or 0, 0, [], None, None
        try:
            self.start = inode.header.start_block
            self.blocks = inode.block_list
            if any(run is None for run, _ in self.blocks):
                entry = fs._lookup_fragment(inode.header.fragment)
                self.frag = (entry.start_block, entry.size, inode.header.offset)
        except Exception as ex:  # noqa: BLE001 - spoils this file only (raised when it is read)
            self.error = ex


class _SquashfsReader(FsReader):
    """Listing through dissect.squashfs; content on several threads (xz/zlib/zstd/lz4 release the GIL)
    from the data blocks in the mapped image, decompressed by dissect's codec object (the C bindings
    set by _native_squashfs_codecs).  Not through dissect's block reader: it seeks and reads a
    shared file object (one reader per thread had to parse every inode a second time) and keeps every
    data block it decompressed in its cache; here only fragment blocks, which many files share, are
    cached (FRAG_CACHE_BYTES)."""

    hardlinks = False  # squashfs stores a hard link as a second entry of the same inode: written twice
    FRAG_CACHE_BYTES = 32 << 20

    def __init__(self, fs, src):
        self.fs, self.src = fs, src
        self.codec, self.bsize = fs._compression, fs.block_size
        self.frags: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self.frag_max = max(4, self.FRAG_CACHE_BYTES // self.bsize)
        self.lock = threading.Lock()

    def root(self):
        return self.fs.get("/")

    def children(self, d):
        for c in d.iterdir():
            mode = c.mode
            link = dev = None
            ref = c
            if stat.S_ISLNK(mode):
                link = c.link
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                dev = linux_dev(c.header.rdev)
            elif stat.S_ISREG(mode):
                ref = _FilePlan(self.fs, c)
            yield Item(c.name, mode, c.uid, c.gid, c.size or 0, key=(c.block, c.offset), link=link, dev=dev,
                       ref=ref)

    def block(self, pos: int, stored: int) -> bytes:
        """The data block stored at pos (its length word from the block list: bit 24 set = stored raw)."""
        n = stored & ~SQ_UNCOMPRESSED
        if pos < 0 or pos + n > self.src.size:
            raise ValueError(f"data block at {pos} (+{n}) past the end of the image ({self.src.size})")
        raw = bytes(self.src.view(pos, pos + n))
        return raw if stored & SQ_UNCOMPRESSED else self.codec.decompress(raw, self.bsize)

    def fragment(self, pos: int, stored: int) -> bytes:
        key = (pos, stored)
        with self.lock:
            data = self.frags.get(key)
            if data is not None:
                self.frags.move_to_end(key)
                return data
        data = self.block(pos, stored)  # outside the lock: two threads may decode one block, both right
        with self.lock:
            self.frags[key] = data
            if len(self.frags) > self.frag_max:
                self.frags.popitem(last=False)
        return data

    def content(self, item):
        return _blocks(self, item.ref)


SQ_UNCOMPRESSED = 1 << 24  # SQUASHFS_COMPRESSED_BIT_BLOCK: a data block's length word with it set is stored raw


def _blocks(reader: _SquashfsReader, plan: _FilePlan):
    """A regular file's content, one data block (or the tail fragment) at a time.  Not through
    dissect's FileStream: its _read does not step past a fragment run, so a read rounded up to the
    block size appends the same fragment again until the length is used up (dissect.squashfs 1.x:
    81,000 fragment copies for the corpus image's 199 files, half of the unpack time)."""
    if plan.error is not None:
        raise plan.error
    bsize, left, pos = reader.bsize, plan.size, plan.start
    for run, count in plan.blocks:
        if left <= 0:
            break
        if run is None:  # the tail in a fragment block: `count` bytes
            fpos, fstored, foff = plan.frag
            data = reader.fragment(fpos, fstored)[foff: foff + count]
        elif run == 0:  # a sparse block
            data = bytes(min(bsize, left))
        else:
            data = reader.block(pos, run)[:min(bsize, left)]
            pos += run & ~SQ_UNCOMPRESSED
        if not data:
            break
        left -= len(data)
        yield data


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
        from dissect.squashfs import SquashFS

        _native_squashfs_codecs()
        fs = SquashFS(src.window())
        sb = fs.sb
        node.meta.update({"version": f"{sb.s_major}.{sb.s_minor}", "compression": SQ_COMP.get(sb.compression),
                          "block_size": sb.block_size, "inodes": sb.inodes, "bytes_used": sb.bytes_used})
        if sb.bytes_used > src.size:
            raise PartError(f"truncated: superblock says {sb.bytes_used} bytes, {src.size} present")
        # checked here too, not only by probe: a 2 GiB block size made dissect.squashfs inflate every
        # block to 2 GiB (minutes past --timeout, found by fuzzing the handler directly)
        if not 4096 <= sb.block_size <= 1 << 20 or sb.block_size != 1 << sb.block_log:
            raise PartError(f"block size {sb.block_size} (log {sb.block_log}) outside 4 KiB-1 MiB")
        walk_fs(u, node, src, depth, _SquashfsReader(fs, src), threads=min(4, os.cpu_count() or 1))
        return min(src.size, (sb.bytes_used + 4095) & ~4095)


# ------------------------------------------------------------------------ squashfs 1.x-3.x (vendor SDKs)
def _text(b: bytes) -> str:
    """A stored name or link target as text: bytes that are not UTF-8 are written as \\xNN (findings.json
    cannot carry the surrogates a surrogateescape decoding would give; a corrupt image has such names)."""
    return b.decode("utf-8", "backslashreplace")


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
