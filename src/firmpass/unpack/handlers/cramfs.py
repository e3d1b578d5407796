"""cramfs, both byte orders, read through the shared walk (walk_fs).

No maintained Python library reads cramfs (util-linux's fsck.cramfs is a C program that extracts to
disk), so the reader is ours, written from the layout in the Linux header
include/uapi/linux/cramfs_fs.h:

  superblock: magic 0x28cd3d45, size, flags, future, "Compressed ROMFS", crc, edition, blocks,
              files, name[16], then the root inode
  inode (12 bytes, bit fields in the writer's byte order):
              mode:16 uid:16 | size:24 gid:8 | namelen:6 offset:26   (namelen and offset in 4-byte units)
  directory:  offset*4 is its first child inode, size the bytes its entries (inode + name) take
  file:       offset*4 is a table of ceil(size/4096) block pointers, each the end of one
              zlib-compressed block; the first block starts right after the table
  symlink:    its target, stored like file content
  device:     size holds the old 16-bit dev_t (major:8 minor:8)

A big-endian writer stores the bit fields from the most significant bit, so the same field
extraction works on a word read big-endian with the fields taken from the top.
"""
from __future__ import annotations

import stat
import struct
import zlib

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import FsReader, Item, walk_fs

MAGIC = 0x28CD3D45
SIGNATURE = b"Compressed ROMFS"
BLOCK = 4096
FLAG_FSID_V2 = 0x1
FLAG_SORTED_DIRS = 0x2
FLAG_HOLES = 0x100
FLAG_WRONG_SIGNATURE = 0x200
FLAG_SHIFTED_ROOT = 0x400
FLAG_EXT_BLOCK_POINTERS = 0x800
MAX_DEPTH_ENTRIES = 1 << 20


def parse_inode(raw: bytes, endian: str) -> tuple[int, int, int, int, int, int]:
    """(mode, uid, size, gid, namelen_bytes, offset_bytes) of a 12-byte cramfs inode."""
    a, b, c = struct.unpack(endian + "III", raw)
    if endian == "<":
        return a & 0xFFFF, a >> 16, b & 0xFFFFFF, b >> 24, (c & 0x3F) * 4, (c >> 6) * 4
    return a >> 16, a & 0xFFFF, b >> 8, b & 0xFF, (c >> 26) * 4, (c & 0x3FFFFFF) * 4


def superblock(buf, off: int, end: int):
    """(endian, size, flags, files, name) of the cramfs superblock at off, or None."""
    if off + 76 > end:
        return None
    head = bytes(buf[off: off + 76])
    for endian in ("<", ">"):
        if struct.unpack(endian + "I", head[:4])[0] == MAGIC:
            break
    else:
        return None
    if head[16:32] != SIGNATURE:
        return None
    size, flags = struct.unpack(endian + "II", head[4:12])
    files = struct.unpack(endian + "I", head[44:48])[0]
    if not (flags & FLAG_FSID_V2):
        size = end - off  # version 1 images do not record their size
    if size < 76:
        return None
    return endian, size, flags, files, head[48:64].rstrip(b"\0").decode("latin-1")


class _CramfsReader(FsReader):
    hardlinks = False  # cramfs has no hard links (identical files may share data: written twice)

    def __init__(self, data, endian: str, flags: int):
        self.data, self.e, self.flags = data, endian, flags

    def root(self):
        return bytes(self.data[64:76])

    def children(self, raw):
        mode, _uid, size, _gid, _nl, offset = parse_inode(raw, self.e)
        if not stat.S_ISDIR(mode):
            return
        pos, stop = offset, offset + size
        if stop > len(self.data):
            raise PartError(f"directory at {offset:#x} runs past the end of the image")
        n = 0
        while pos + 12 <= stop and n < MAX_DEPTH_ENTRIES:
            ino = bytes(self.data[pos: pos + 12])
            m, uid, sz, gid, namelen, off = parse_inode(ino, self.e)
            name = bytes(self.data[pos + 12: pos + 12 + namelen]).rstrip(b"\0")
            pos += 12 + namelen
            n += 1
            if namelen == 0:
                raise PartError(f"entry with an empty name at {pos - 12:#x}")
            link = dev = None
            if stat.S_ISLNK(m):
                link = b"".join(self._blocks(sz, off)).decode("utf-8", "surrogateescape")
            elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
                dev = (sz >> 8) & 0xFF, sz & 0xFF
            yield Item(name.decode("utf-8", "surrogateescape"), m, uid, gid,
                       sz if stat.S_ISREG(m) else 0, key=("dir", off) if stat.S_ISDIR(m) else None,
                       link=link, dev=dev, ref=ino)

    def _blocks(self, size: int, offset: int):
        if size == 0:
            return
        if self.flags & FLAG_EXT_BLOCK_POINTERS:
            raise PartError("cramfs with extended (direct/uncompressed) block pointers is not supported")
        nblocks = (size + BLOCK - 1) // BLOCK
        table = offset
        if table + 4 * nblocks > len(self.data):
            raise PartError(f"block table at {table:#x} runs past the end of the image")
        ptrs = struct.unpack(f"{self.e}{nblocks}I", bytes(self.data[table: table + 4 * nblocks]))
        start = table + 4 * nblocks
        left = size
        for p in ptrs:
            want = min(BLOCK, left)
            if p == start:  # a hole: the block is all zeros
                out = bytes(want)
            else:
                if p < start or p > len(self.data):
                    raise PartError(f"block pointer {p:#x} out of range")
                d = zlib.decompressobj()
                out = d.decompress(bytes(self.data[start: p]), want)
            yield out
            left -= len(out)
            start = p

    def content(self, item):
        _m, _u, size, _g, _n, offset = parse_inode(item.ref, self.e)
        return self._blocks(size, offset)


class CramfsHandler(Handler):
    name = "cramfs"
    kind = "filesystem"
    magics = [(struct.pack("<I", MAGIC), 0), (struct.pack(">I", MAGIC), 0)]

    def probe(self, buf, off, end):
        sb = superblock(buf, off, end)
        return None if sb is None else sb[1]

    def unpack(self, u, node, src, depth):
        endian, size, flags, files, name = superblock(src.buf, src.off, src.end)
        node.meta.update({"endian": "little" if endian == "<" else "big", "size": size, "flags": flags,
                          "superblock_files": files, "name": name})
        if size > src.size:
            node.status = "partial"
            u.warn("truncated", node, part=u.part_name(node), size=size, have=src.size)
        walk_fs(u, node, src, depth, _CramfsReader(src.view(0, size), endian, flags))
        return min(size, src.size)
