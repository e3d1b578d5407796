"""JFFS2 reader: walks the node log and rebuilds the tree with each inode's true metadata.

jefferson (a dependency) is used for the rtime/LZMA decompressors, but its tree builder is not: it
prints, keeps module-global endianness, is quadratic in the number of dirents and does not expose the
stored uid/gid/device numbers.  The node walk here is ~100 lines of the on-flash format (Linux
include/uapi/linux/jffs2.h).  Hostile input: every length is bounds-checked and CRCs are verified;
a bad node is skipped and counted.
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

MAGIC, OLD_MAGIC = 0x1985, 0x1984
DIRENT, INODE = 0xE001, 0xE002
KNOWN = {0xE001, 0xE002, 0x2003, 0x2004, 0x2006, 0xE008, 0xE009}
COMPR_NONE, COMPR_ZERO, COMPR_RTIME, COMPR_ZLIB, COMPR_LZO, COMPR_LZMA = 0, 1, 2, 6, 7, 8


class Jffs2Error(ValueError):
    pass


def crc(data) -> int:
    return (zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF


@dataclass
class Inode:
    ino: int
    version: int = -1
    mode: int = 0
    uid: int = 0
    gid: int = 0
    isize: int = 0
    mtime: int = 0
    frags: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)  # version, offset, dsize, compr, pos, csize


@dataclass
class Dirent:
    pino: int
    ino: int
    version: int
    type: int
    name: bytes


@dataclass
class Jffs2:
    endian: str
    size: int  # bytes of the image that hold jffs2 nodes (carving)
    inodes: dict[int, Inode]
    dirents: dict[tuple[int, bytes], Dirent]
    bad_nodes: int
    buf: object

    def children(self) -> dict[int, list[Dirent]]:
        out: dict[int, list[Dirent]] = {}
        for d in self.dirents.values():
            if d.ino:
                out.setdefault(d.pino, []).append(d)
        for v in out.values():
            v.sort(key=lambda d: d.name)
        return out

    def read(self, ino: Inode, max_bytes: int) -> bytes:
        """The inode's content: its data nodes applied in version order, cut at isize."""
        if ino.isize > max_bytes:
            raise Jffs2Error(f"inode {ino.ino} is {ino.isize} bytes, over the limit")
        out = bytearray(ino.isize)
        for _v, off, dsize, compr, pos, csize in sorted(ino.frags):
            if off >= ino.isize or dsize == 0:
                continue
            data = decompress(compr, bytes(self.buf[pos: pos + csize]), dsize)
            n = min(len(data), ino.isize - off)
            out[off: off + n] = data[:n]
        return bytes(out)

    def iter_read(self, ino: Inode, chunk: int = 1 << 20):
        """The same content as read(), one `chunk`-sized window at a time: each window gets the data
        nodes overlapping it, applied in version order, so memory stays ~one window whatever isize is."""
        size = ino.isize
        windows: dict[int, list[tuple[int, int, int, int, int, int]]] = {}
        for fr in sorted(ino.frags):
            _v, off, dsize, _compr, _pos, csize = fr
            if off >= size or dsize == 0:
                continue
            stop = min(size, off + max(dsize, csize))
            for w in range(off // chunk, (stop - 1) // chunk + 1):
                windows.setdefault(w, []).append(fr)
        cache: tuple[tuple, bytes] | None = None
        for w in range((size + chunk - 1) // chunk):
            start = w * chunk
            out = bytearray(min(chunk, size - start))
            for fr in windows.get(w, ()):
                _v, off, dsize, compr, pos, csize = fr
                if cache is not None and cache[0] is fr:
                    data = cache[1]
                else:
                    data = decompress(compr, bytes(self.buf[pos: pos + csize]), dsize)
                    cache = (fr, data)
                a, b = max(off, start), min(off + len(data), start + len(out), size)
                if b > a:
                    out[a - start: b - start] = data[a - off: b - off]
            yield bytes(out)

    def raw_data(self, ino: Inode) -> bytes:
        """Data of the newest node (symlink target, device number)."""
        if not ino.frags:
            return b""
        _v, _off, dsize, compr, pos, csize = max(ino.frags)
        return decompress(compr, bytes(self.buf[pos: pos + csize]), dsize)


MAX_NODE_DATA = 1 << 16


def decompress(compr: int, data: bytes, dsize: int) -> bytes:
    if compr == COMPR_NONE:
        return data
    if compr == COMPR_ZERO:
        return b"\0" * dsize
    if compr == COMPR_ZLIB:
        d = zlib.decompressobj()
        return d.decompress(data, dsize)
    if compr == COMPR_RTIME:
        from jefferson.compression import rtime
        return bytes(rtime.decompress(data, dsize))
    if compr == COMPR_LZMA:
        from jefferson.compression import jffs2_lzma
        return jffs2_lzma.decompress(data, dsize)
    if compr == COMPR_LZO:
        from firmpass.formats.lzo import decompress as lzo_decompress
        return lzo_decompress(data, dsize)
    raise Jffs2Error(f"unsupported JFFS2 compression {compr}")


def detect(buf, off: int = 0) -> str | None:
    """'<' or '>' when a valid JFFS2 node header starts at off."""
    if off + 12 > len(buf):
        return None
    for e in "<>":
        magic, ntype, totlen, hcrc = struct.unpack(e + "HHII", buf[off: off + 12])
        if magic in (MAGIC, OLD_MAGIC) and ntype in KNOWN and totlen >= 12 and crc(buf[off: off + 8]) == hcrc:
            return e
    return None


_NOT_FF = re.compile(rb"[^\xff]")


def parse(buf, off: int = 0, end: int | None = None, max_nodes: int = 5_000_000) -> Jffs2:
    """Walk nodes from off while they are valid (erased 0xFF runs between erase blocks are skipped).
    The end of the filesystem is the first byte that is neither a node nor erased flash."""
    end = len(buf) if end is None else end
    e = detect(buf, off)
    if e is None:
        raise Jffs2Error("no JFFS2 node")
    hdr = struct.Struct(e + "HHII")
    ino_s = struct.Struct(e + "IIIHHIIIIIIIBBHII")  # after the common header
    dir_s = struct.Struct(e + "IIIIBB2xII")
    inodes: dict[int, Inode] = {}
    dirents: dict[tuple[int, bytes], Dirent] = {}
    pos, last_end, bad, count = off, off, 0, 0
    while pos + 12 <= end:
        if buf[pos] == 0xFF:
            after = _after_erased(buf, pos, end)
            if after is None:
                last_end = end  # erased to the end: part of the filesystem
                break
            pos = after
            continue
        magic, ntype, totlen, hcrc = hdr.unpack_from(buf, pos)
        if magic not in (MAGIC, OLD_MAGIC) or crc(buf[pos: pos + 8]) != hcrc or totlen < 12:
            if magic in (MAGIC, OLD_MAGIC):
                bad += 1
                pos += 4
                continue
            break
        count += 1
        if count > max_nodes:
            raise Jffs2Error("too many nodes")
        nend = pos + totlen
        if nend > end:
            bad += 1
            break
        if ntype == INODE and totlen >= 12 + ino_s.size:
            bad += not _add_inode(inodes, ino_s, buf, pos, totlen)
        elif ntype == DIRENT and totlen >= 12 + dir_s.size:
            bad += not _add_dirent(dirents, dir_s, buf, pos, nend)
        pos = (nend + 3) & ~3
        last_end = min(pos, end)
    return Jffs2(e, last_end - off, inodes, dirents, bad, buf)


def _after_erased(buf, pos: int, end: int) -> int | None:
    """Where the node log goes on after the erased (0xFF) flash at `pos`: the first 4-byte-aligned word
    that is not all 0xFF, or None when the flash is erased up to `end`."""
    m = _NOT_FF.search(buf, pos, end)
    if m is None:
        return None
    pos = m.start() & ~3
    return pos + 4 if buf[pos] == 0xFF else pos


def _add_inode(inodes: dict[int, Inode], ino_s: struct.Struct, buf, pos: int, totlen: int) -> bool:
    """Record the inode node at `pos`: its metadata when it is the newest version, and its data fragment.
    False (nothing recorded) when its CRC or its sizes are wrong."""
    (ino, ver, mode, uid, gid, isize, _at, mtime, _ct, doff, csize, dsize, compr, _uc, _fl, _dcrc,
     ncrc) = ino_s.unpack_from(buf, pos + 12)
    if crc(buf[pos: pos + 12 + ino_s.size - 8]) != ncrc or 12 + ino_s.size + csize > totlen:
        return False
    node = inodes.setdefault(ino, Inode(ino))
    if ver > node.version:
        node.version, node.mode, node.uid, node.gid, node.isize, node.mtime = ver, mode, uid, gid, isize, mtime
    # a data node covers at most one page (PAGE_SIZE; 64 KiB on the largest-page kernels):
    # a larger declared size is hostile and would be allocated on decompression
    node.frags.append((ver, doff, min(dsize, MAX_NODE_DATA), compr, pos + 12 + ino_s.size, csize))
    return True


def _add_dirent(dirents: dict[tuple[int, bytes], Dirent], dir_s: struct.Struct, buf, pos: int, nend: int) -> bool:
    """Record the directory entry node at `pos` when it is the newest for its (parent, name).
    False (nothing recorded) when its CRC is wrong or its name runs past the node."""
    pino, ver, ino, _mct, nsize, dtype, ncrc, _namecrc = dir_s.unpack_from(buf, pos + 12)
    npos = pos + 12 + dir_s.size
    if crc(buf[pos: pos + 12 + dir_s.size - 8]) != ncrc or npos + nsize > nend:
        return False
    name = bytes(buf[npos: npos + nsize])
    key = (pino, name)
    old = dirents.get(key)
    if old is None or ver > old.version:
        dirents[key] = Dirent(pino, ino, ver, dtype, name)
    return True
