"""Every squashfs: 1.x, 2.x, 3.x in either byte order, the 4.x variants vendor SDKs shipped that
standard readers refuse (big-endian 4.0, non-standard magics, LZMA blocks whatever the compressor id
says), and standard 4.0 (handler `squashfs`; see unpack/handlers/squashfs.py for why it is read here
too rather than by dissect.squashfs, which the tests keep as an independent cross-check).

Why our own reader: no maintained Python library reads the old and vendor versions.  PySquashfsImage refuses anything but 4.0 (its superblock check wants s_major == 4 and the "hsqs" magic),
dissect.squashfs reads standard 4.0 little-endian only and trusts the compressor id, and the C tools either dropped LZMA for these versions (Debian's
unsquashfs reads 1.x-3.x with gzip only) or are unpackaged forks (sasquatch).  The layouts here are
taken from the published format (the Linux 2.6 squashfs 1/2/3 sources and squashfs-tools 3.x
headers), written from scratch.

How the on-disk structures are read: squashfs 1-3 declare their structures as packed C bitfields and
squashfs-tools swaps big-endian images field by field, so one structure is one integer of
len(bytes)*8 bits whose fields sit at fixed bit positions - counted from the least significant bit
of the little-endian integer on a little-endian image, from the most significant bit of the
big-endian integer on a big-endian one.  `_fields` does exactly that, so every inode, directory
header and entry below is a list of (name, width) in declaration order, the same for both orders.

Block compression: gzip (zlib) or LZMA in the variants vendor SDKs used - an LZMA-alone header
(props, dictionary, 64-bit size: sqlzma / OpenWrt / DD-WRT), props and dictionary only (Broadcom
CFE-era SDKs), or a headerless raw stream whose properties are fixed by the SDK (tried in a short
list of the ones seen: lc=3/lp=0/pb=2, lc=0/lp=2/pb=2, lc=1/lp=3/pb=0); xz blocks are recognised by
their magic.  The codec is chosen per block from its first bytes, the raw properties once per image
(firmpass.formats.squashfs_codec).

Hostile input: every offset and length is checked against the part, every decompression has a
maximum output (the block size, 8 KiB for metadata), metadata reads are bounded by the table's end
and a byte budget, and a directory is listed from a bounded byte range, so no loop can run away.
Pure parsing: no I/O outside the given buffer, no output files (the handler writes).
"""
from __future__ import annotations

import lzma
import struct
from dataclasses import dataclass, field

from firmpass.formats.inflate import ERRORS as INFLATE_ERRORS
from firmpass.formats.squashfs_codec import (  # noqa: F401 - re-exported (the handler and tests use them from here)
    RAW_PROPS,
    Codec,
    LegacyError,
    _props,
    _raw_lzma,
)

MAGICS = (b"hsqs", b"sqsh", b"shsq", b"qshs", b"hsqt", b"tqsh", b"sqlz", b"zlqs")
META_SIZE = 8192
INVALID_FRAG = 0xFFFFFFFF
MAX_META_READ = 1 << 24  # no directory or inode read is longer than this (16 MiB: half a million entries)

# flags (2.x/3.x; 1.x has the first three)
NOI, NOD, CHECK, NOF, NO_FRAG = 1, 2, 4, 8, 16

DIR, FILE, SYMLINK, BLKDEV, CHRDEV, FIFO, SOCKET, LDIR, LREG = 1, 2, 3, 4, 5, 6, 7, 8, 9
S_IF = {DIR: 0o040000, FILE: 0o100000, SYMLINK: 0o120000, BLKDEV: 0o060000, CHRDEV: 0o020000,
        FIFO: 0o010000, SOCKET: 0o140000, LDIR: 0o040000, LREG: 0o100000}

B1 = [("type", 4), ("mode", 12), ("uid", 4), ("guid", 4)]
B2 = [("type", 4), ("mode", 12), ("uid", 8), ("guid", 8)]
B3 = B2 + [("mtime", 32), ("inode_number", 32)]
B4 = [("type", 16), ("mode", 16), ("uid", 16), ("guid", 16), ("mtime", 32), ("inode_number", 32)]
HEAD = {1: B1, 2: B2, 3: B2, 4: B4}
INODES = {
    1: {DIR: B1 + [("file_size", 19), ("offset", 13), ("mtime", 32), ("start_block", 24)],
        FILE: B1 + [("mtime", 32), ("start_block", 32), ("file_size", 32)],
        SYMLINK: B1 + [("symlink_size", 16)], BLKDEV: B1 + [("rdev", 16)], CHRDEV: B1 + [("rdev", 16)],
        0: B1 + [("ipc_type", 4), ("ipc_offset", 4)]},
    2: {DIR: B2 + [("file_size", 19), ("offset", 13), ("mtime", 32), ("start_block", 24)],
        LDIR: B2 + [("file_size", 27), ("offset", 13), ("mtime", 32), ("start_block", 24), ("i_count", 16)],
        FILE: B2 + [("mtime", 32), ("start_block", 32), ("fragment", 32), ("frag_offset", 32), ("file_size", 32)],
        SYMLINK: B2 + [("symlink_size", 16)], BLKDEV: B2 + [("rdev", 16)], CHRDEV: B2 + [("rdev", 16)],
        FIFO: B2, SOCKET: B2},
    3: {DIR: B3 + [("nlink", 32), ("file_size", 19), ("offset", 13), ("start_block", 32), ("parent", 32)],
        LDIR: B3 + [("nlink", 32), ("file_size", 27), ("offset", 13), ("start_block", 32), ("i_count", 16),
                    ("parent", 32)],
        FILE: B3 + [("start_block", 64), ("fragment", 32), ("frag_offset", 32), ("file_size", 32)],
        LREG: B3 + [("nlink", 32), ("start_block", 64), ("fragment", 32), ("frag_offset", 32), ("file_size", 64)],
        SYMLINK: B3 + [("nlink", 32), ("symlink_size", 16)], BLKDEV: B3 + [("nlink", 32), ("rdev", 16)],
        CHRDEV: B3 + [("nlink", 32), ("rdev", 16)], FIFO: B3 + [("nlink", 32)], SOCKET: B3 + [("nlink", 32)]},
    4: {DIR: B4 + [("start_block", 32), ("nlink", 32), ("file_size", 16), ("offset", 16), ("parent", 32)],
        LDIR: B4 + [("nlink", 32), ("file_size", 32), ("start_block", 32), ("parent", 32), ("i_count", 16),
                    ("offset", 16), ("xattr", 32)],
        FILE: B4 + [("start_block", 32), ("fragment", 32), ("frag_offset", 32), ("file_size", 32)],
        LREG: B4 + [("start_block", 64), ("file_size", 64), ("sparse", 64), ("nlink", 32), ("fragment", 32),
                    ("frag_offset", 32), ("xattr", 32)],
        SYMLINK: B4 + [("nlink", 32), ("symlink_size", 32)], 10: B4 + [("nlink", 32), ("symlink_size", 32)],
        BLKDEV: B4 + [("nlink", 32), ("rdev", 32)], CHRDEV: B4 + [("nlink", 32), ("rdev", 32)],
        11: B4 + [("nlink", 32), ("rdev", 32), ("xattr", 32)], 12: B4 + [("nlink", 32), ("rdev", 32), ("xattr", 32)],
        FIFO: B4 + [("nlink", 32)], SOCKET: B4 + [("nlink", 32)],
        13: B4 + [("nlink", 32), ("xattr", 32)], 14: B4 + [("nlink", 32), ("xattr", 32)]},
}
LONG4 = {10: SYMLINK, 11: BLKDEV, 12: CHRDEV, 13: FIFO, 14: SOCKET}  # 4.x "extended" types carry an xattr index
DIR_HEADER = {1: [("count", 8), ("start_block", 24)], 2: [("count", 8), ("start_block", 24)],
              3: [("count", 8), ("start_block", 32), ("inode_number", 32)],
              4: [("count", 32), ("start_block", 32), ("inode_number", 32)]}
DIR_ENTRY = {1: [("offset", 13), ("type", 3), ("size", 8)], 2: [("offset", 13), ("type", 3), ("size", 8)],
             3: [("offset", 13), ("type", 3), ("size", 8), ("inode_number", 16)],
             4: [("offset", 16), ("inode_number", 16), ("type", 16), ("size", 16)]}
SQ4_COMP = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}


def _nbytes(spec) -> int:
    return sum(w for _, w in spec) // 8


def _fields(b: bytes, spec, be: bool) -> dict[str, int]:
    total = len(b) * 8
    v = int.from_bytes(b, "big" if be else "little")
    out, pos = {}, 0
    for name, w in spec:
        out[name] = (v >> (total - pos - w) if be else v >> pos) & ((1 << w) - 1)
        pos += w
    return out


@dataclass
class Super:
    major: int
    minor: int
    be: bool
    magic: bytes
    inodes: int
    bytes_used: int
    uid_start: int
    guid_start: int
    inode_table: int
    dir_table: int
    block_size: int
    block_log: int
    flags: int
    no_uids: int
    no_guids: int
    mkfs_time: int
    root_inode: int
    fragments: int = 0
    frag_table: int = 0
    compression: int = 0  # 4.x: the superblock's compressor id (vendors did not always tell the truth)
    id_table: int = 0  # 4.x: one id table (uid and gid indexes into it)

    @property
    def endian(self) -> str:
        return ">" if self.be else "<"


def detect(buf, off: int, end: int) -> Super | None:
    """The superblock of a squashfs 1.x-3.x at buf[off:], or None.  Checks every field that sizes
    or places anything against itself (tables in order, inside bytes_used)."""
    if off + 64 > end or bytes(buf[off: off + 4]) not in MAGICS:
        return None
    guess = bytes(buf[off: off + 4]) in (b"sqsh", b"qshs", b"tqsh", b"zlqs")
    for be in (guess, not guess):  # vendors wrote their magics in either order: the version field decides
        e = ">" if be else "<"
        major, minor = struct.unpack_from(e + "HH", buf, off + 28)
        if major == 4:
            if off + 96 > end:
                continue
            inodes, mkfs, bsize, frags, comp, blog, flags, nids = struct.unpack_from(e + "IiIIHHHH", buf, off + 4)
            root, used, idt, _xt, itab, dtab, ftab, _lt = struct.unpack_from(e + "8Q", buf, off + 32)
            if not 12 <= blog <= 20 or bsize != 1 << blog or used < 96 or not 0 < itab < dtab <= used \
                    or idt > used or (ftab > used and ftab != (1 << 64) - 1) or nids == 0:
                continue
            return Super(4, minor, be, bytes(buf[off: off + 4]), inodes, used, 0, 0, itab, dtab, bsize, blog, flags,
                         nids, nids, mkfs, root, frags, ftab if ftab <= used else 0, comp, idt)
        if major not in (1, 2, 3):
            continue
        inodes, used2, uid_s, guid_s, itab, dtab = struct.unpack_from(e + "6I", buf, off + 4)
        bs1, blog, flags, nuid, ngid, mkfs, root = struct.unpack_from(e + "HHBBBiQ", buf, off + 32)
        if major == 1:
            bsize, frags, ftab, used = bs1, 0, 0, used2
        else:
            bsize, frags, ftab = struct.unpack_from(e + "III", buf, off + 51)
            used = used2
            if major == 3:
                if off + 119 > end:
                    continue
                used, uid_s, guid_s, itab, dtab, ftab = struct.unpack_from(e + "6Q", buf, off + 63)
        if not 9 <= blog <= 20 or bsize != 1 << blog or used < 64 or nuid > 255:
            continue
        if not 0 < itab < dtab <= used or uid_s > used or guid_s > used or ftab > used:
            continue
        return Super(major, minor, be, bytes(buf[off: off + 4]), inodes, used, uid_s, guid_s, itab, dtab, bsize,
                     blog, flags, nuid, ngid, mkfs, root, frags, ftab)
    return None


def standard_v4(buf, off: int, end: int, sb: Super | None = None) -> bool:
    """True when a 4.x image is the standard one (any standard reader reads it): the "hsqs" magic,
    little-endian, and a compressor id its first compressed metadata block agrees with.  A vendor
    image that says gzip (or LZMA) and holds something else goes to this module's reader instead."""
    sb = sb or detect(buf, off, end)
    if sb is None or sb.major != 4 or sb.be or sb.magic != b"hsqs" or sb.compression not in SQ4_COMP:
        return False
    pos = off + sb.inode_table
    if pos + 16 > end:
        return True  # cut: the standard reader's own error is as good as ours
    (h,) = struct.unpack_from("<H", buf, pos)
    b = bytes(buf[pos + 2: pos + 16])
    if h & 0x8000:
        return True  # stored uncompressed: nothing to tell
    if sb.compression == 1:
        return b[0] & 0x0F == 8 and (b[0] << 8 | b[1]) % 31 == 0
    if sb.compression == 2:
        usize = struct.unpack_from("<Q", b, 5)[0]
        return _props(b[0]) is not None and (usize <= META_SIZE or usize == (1 << 64) - 1) and b[13] == 0
    if sb.compression == 4:
        return b[:6] == b"\xfd7zXZ\x00"
    if sb.compression == 6:
        return b[:4] == b"\x28\xb5\x2f\xfd"
    return True


# ---------------------------------------------------------------------------- the filesystem
@dataclass
class Inode:
    ref: int
    type: int  # DIR..LREG, LDIR/LREG folded into DIR/FILE
    mode: int  # with S_IF bits
    uid: int
    gid: int
    size: int = 0
    start_block: int = 0
    offset: int = 0  # directory: offset in its metadata block
    fragment: int = INVALID_FRAG
    frag_offset: int = 0
    blocks: list[int] = field(default_factory=list)
    block_list: tuple[int, int, int, int] | None = None  # (metadata block, offset, count, width): read on first use
    link: bytes | None = None
    rdev: tuple[int, int] | None = None  # (major, minor)


class LegacySquashfs:
    """One squashfs 1.x-3.x image in buf[off:end] (end = off + bytes_used at most)."""

    def __init__(self, buf, off: int, end: int, sb: Super | None = None):
        self.buf, self.off = buf, off
        self.sb = sb or detect(buf, off, end)
        if self.sb is None:
            raise LegacyError("not a squashfs 1.x-3.x superblock")
        self.end = min(end, off + self.sb.bytes_used)
        if off + self.sb.bytes_used > end:
            self.truncated = True
        else:
            self.truncated = False
        self.e = self.sb.endian
        self.codec = Codec(self.sb.block_size)
        self.meta_cache: dict[int, tuple[bytes, int]] = {}
        self.codec.hint = self.sb.compression
        if self.sb.major == 4:
            self.uids = self.gids = self._ids4()
        else:
            self.uids = self._table(self.sb.uid_start, self.sb.no_uids)
            self.gids = self._table(self.sb.guid_start, self.sb.no_guids)
        self._frags: list[tuple[int, int]] | None = None
        self.frag_cache: dict[int, bytes] = {}

    # --- raw access, bounded
    def _raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or self.off + pos + n > self.end:
            raise LegacyError(f"read of {n} bytes at {pos:#x} is outside the image ({self.end - self.off} bytes)")
        return bytes(self.buf[self.off + pos: self.off + pos + n])

    def _table(self, pos: int, count: int) -> list[int]:
        if not count:
            return []
        try:
            return list(struct.unpack(self.e + f"{count}I", self._raw(pos, 4 * count)))
        except LegacyError:
            return []

    def _ids4(self) -> list[int]:
        n = self.sb.no_uids
        nidx = -(-n * 4 // META_SIZE)
        try:
            idx = struct.unpack(self.e + f"{nidx}Q", self._raw(self.sb.id_table, 8 * nidx))
            raw = bytearray()
            for loc in idx:
                data, _, _ = self.meta_read(loc, 0, min(META_SIZE, 4 * n - len(raw)))
                raw += data
            return list(struct.unpack(self.e + f"{n}I", raw))
        except (LegacyError, struct.error, lzma.LZMAError, *INFLATE_ERRORS):
            return []

    def meta_block(self, pos: int) -> tuple[bytes, int]:
        """The metadata block at pos (from the image start): its bytes and where the next one starts."""
        hit = self.meta_cache.get(pos)  # (get: another thread may clear the cache)
        if hit is not None:
            return hit
        (h,) = struct.unpack(self.e + "H", self._raw(pos, 2))
        n = h & 0x7FFF
        start = pos + 2 + (1 if self.sb.major < 4 and self.sb.flags & CHECK else 0)
        if n == 0:
            raise LegacyError(f"empty metadata block at {pos:#x}")
        raw = self._raw(start, n)
        data = raw[:META_SIZE] if h & 0x8000 else self.codec(raw, META_SIZE)
        if len(self.meta_cache) > 4096:
            self.meta_cache.clear()
        self.meta_cache[pos] = (data, start + n)
        return data, start + n

    def meta_read(self, pos: int, offset: int, n: int) -> tuple[bytes, int, int]:
        """n bytes of the metadata stream starting at block pos, byte offset; and where reading stopped."""
        if n > MAX_META_READ:
            raise LegacyError(f"metadata read of {n} bytes")
        out = bytearray()
        while True:
            data, nxt = self.meta_block(pos)
            if offset > len(data):
                raise LegacyError(f"offset {offset} past metadata block at {pos:#x}")
            take = data[offset: offset + n - len(out)]
            out += take
            offset += len(take)
            if len(out) >= n:
                return bytes(out), pos, offset
            pos, offset = nxt, 0

    # --- inodes
    def inode(self, ref: int) -> Inode:
        sb = self.sb
        blk, offset = ref >> 16, ref & 0xFFFF
        pos = sb.inode_table + blk
        if not sb.inode_table <= pos < sb.dir_table:
            raise LegacyError(f"inode {ref:#x} outside the inode table")
        specs = INODES[sb.major]
        head, _, _ = self.meta_read(pos, offset, _nbytes(HEAD[sb.major]))
        t = _fields(head, HEAD[sb.major], sb.be)["type"]
        uid_hi = 0
        if sb.major == 1 and t:
            # 1.x: types past the five real ones carry the high bits of the uid index; 0 is a fifo/socket
            uid_hi, t = (t - 1) // 5, (t - 1) % 5 + 1
        if t not in specs:
            raise LegacyError(f"inode {ref:#x}: unknown type {t}")
        spec = specs[t]
        raw, bpos, boff = self.meta_read(pos, offset, _nbytes(spec))
        f = _fields(raw, spec, sb.be)
        if sb.major == 1 and t == 0:
            t = FIFO if f["ipc_type"] == 0 else SOCKET
            uid_hi = f["ipc_offset"]
        uidx = f["uid"] + uid_hi * 16
        uid = self.uids[uidx] if uidx < len(self.uids) else 0
        nog = {1: 15, 2: 255, 3: 255}.get(sb.major, -1)
        gid = uid if f["guid"] == nog else (self.gids[f["guid"]] if f["guid"] < len(self.gids) else 0)
        t = LONG4.get(t, t) if sb.major == 4 else t
        ino = Inode(ref, DIR if t == LDIR else FILE if t == LREG else t, S_IF[t] | (f["mode"] & 0o7777), uid, gid)
        if t in (DIR, LDIR):
            ino.size, ino.start_block, ino.offset = f["file_size"], f["start_block"], f["offset"]
        elif t in (FILE, LREG):
            ino.size, ino.start_block = f["file_size"], f["start_block"]
            ino.fragment, ino.frag_offset = f.get("fragment", INVALID_FRAG), f.get("frag_offset", 0)
            if sb.major == 1 or ino.fragment == INVALID_FRAG:
                ino.fragment = INVALID_FRAG
                nblocks = -(-ino.size // sb.block_size)
            else:
                nblocks = ino.size // sb.block_size
            width = 2 if sb.major == 1 else 4
            # the block list sits in compressed metadata: a sparse file's list of zeros (6 GiB: 24 KiB)
            # fits in a few bytes of the image, so the bound is what metadata can expand to (a block of
            # 8 KiB from no fewer than 8 bytes), and the list is read when the content is, not to list
            if nblocks * width > (self.end - self.off) * 1024:
                raise LegacyError(f"inode {ref:#x}: {ino.size} bytes need more block sizes than the image holds")
            ino.block_list = (bpos, boff, nblocks, width)
        elif t == SYMLINK:
            raw, _, _ = self.meta_read(bpos, boff, f["symlink_size"])
            ino.link = raw
        elif t in (BLKDEV, CHRDEV):
            v = f["rdev"]  # 1.x-3.x: the old 16-bit dev_t; 4.x: Linux's new_encode_dev
            ino.rdev = ((v & 0xFFF00) >> 8, (v & 0xFF) | ((v >> 12) & 0xFFF00)) if sb.major == 4 else (v >> 8, v & 0xFF)
        return ino

    def root(self) -> Inode:
        return self.inode(self.sb.root_inode)

    # --- directories
    def listdir(self, d: Inode) -> list[tuple[bytes, int]]:
        """(name, inode ref) of every entry of directory d, read from its bounded byte range."""
        sb = self.sb
        if d.size <= 3:
            return []
        pos = sb.dir_table + d.start_block
        if not sb.dir_table <= pos < self.end - self.off:
            raise LegacyError(f"directory at {d.start_block:#x} outside the directory table")
        # 3.x/4.x count 3 bytes more than the listing holds (for "." and ".."), 1.x/2.x the listing itself
        raw, _, _ = self.meta_read(pos, d.offset, d.size - 3 if sb.major >= 3 else d.size)
        hspec, espec = DIR_HEADER[sb.major], DIR_ENTRY[sb.major]
        hn, en = _nbytes(hspec), _nbytes(espec)
        out, p = [], 0
        while p + hn <= len(raw):
            h = _fields(raw[p: p + hn], hspec, sb.be)
            p += hn
            for _ in range(h["count"] + 1):
                if p + en > len(raw):
                    raise LegacyError("directory entry runs past the directory's size")
                ent = _fields(raw[p: p + en], espec, sb.be)
                p += en
                name = raw[p: p + ent["size"] + 1]
                p += ent["size"] + 1
                if len(name) != ent["size"] + 1:
                    raise LegacyError("directory name runs past the directory's size")
                out.append((name, (h["start_block"] << 16) | ent["offset"]))
        return out

    # --- file content
    def fragments(self) -> list[tuple[int, int]]:
        if self._frags is None:
            sb, frags = self.sb, []
            if sb.major >= 2 and sb.fragments and sb.frag_table and not sb.flags & NO_FRAG:
                esz, isz = (16, 8) if sb.major >= 3 else (8, 4)
                if sb.fragments * esz > self.end - self.off:
                    raise LegacyError(f"{sb.fragments} fragments cannot fit the image")
                nidx = -(-sb.fragments * esz // META_SIZE)
                idx = struct.unpack(self.e + ("Q" if isz == 8 else "I") * nidx, self._raw(sb.frag_table, isz * nidx))
                raw = bytearray()
                for i, loc in enumerate(idx):
                    want = min(META_SIZE, sb.fragments * esz - len(raw))
                    data, _, _ = self.meta_read(loc, 0, want)
                    raw += data
                fmt = self.e + ("QI4x" if sb.major >= 3 else "II")
                frags = [struct.unpack_from(fmt, raw, i * esz) for i in range(sb.fragments)]
            self._frags = frags
        return self._frags

    def _block(self, pos: int, stored: int, want: int) -> bytes:
        bit = 1 << 15 if self.sb.major == 1 else 1 << 24
        n = stored & (bit - 1) or (bit if stored & bit else 0)  # an uncompressed 32 KiB 1.x block is stored as 0x8000
        if n == 0:
            return bytes(want)  # a sparse block
        raw = self._raw(pos, n)
        if stored & bit:
            return raw[:want]
        out = self.codec(raw, want, exact=want)
        if len(out) < want:
            raise LegacyError(f"block at {pos:#x} gives {len(out)} of {want} bytes")
        return out

    def read(self, ino: Inode):
        """The file's content as chunks (one block each), never more than its size."""
        sb, left, pos = self.sb, ino.size, ino.start_block
        bit = 1 << 15 if sb.major == 1 else 1 << 24
        if ino.block_list is not None:
            bpos, boff, nblocks, width = ino.block_list
            raw, _, _ = self.meta_read(bpos, boff, nblocks * width)
            ino.blocks, ino.block_list = list(struct.unpack(self.e + ("H" if width == 2 else "I") * nblocks, raw)), None
        for stored in ino.blocks:
            want = min(sb.block_size, left)
            yield self._block(pos, stored, want)
            pos += stored & (bit - 1) or (bit if stored & bit else 0)
            left -= want
        if left > 0 and ino.fragment != INVALID_FRAG:
            frags = self.fragments()
            if ino.fragment >= len(frags):
                raise LegacyError(f"fragment {ino.fragment} of {len(frags)}")
            start, size = frags[ino.fragment][0], frags[ino.fragment][1]
            block = self.frag_cache.get(ino.fragment)
            if block is None:
                if len(self.frag_cache) > 64:
                    self.frag_cache.clear()
                block = self.frag_cache[ino.fragment] = self._fragment(start, size)
            data = block[ino.frag_offset: ino.frag_offset + left]
            if len(data) < left:
                raise LegacyError(f"fragment {ino.fragment} holds {len(data)} of {left} bytes")
            yield data

    def _fragment(self, start: int, size: int) -> bytes:
        n = size & ((1 << 24) - 1)
        raw = self._raw(start, n)
        return raw[: self.sb.block_size] if size & (1 << 24) else self.codec(raw, self.sb.block_size)
