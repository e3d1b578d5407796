"""ext2/3/4 filesystems: the superblock, group descriptors, inodes, directory entries and in-inode
extents read here (see _ExtReader for why), every other layout through dissect.extfs."""
from __future__ import annotations

import os
import stat
import struct
import threading

from firmpass.unpack.engine import Handler
from firmpass.unpack.handlers.common import (
    OUT_CHUNK,
    FsReader,
    Item,
    linux_dev,
    stream_of,
    walk_fs,
)

# the ext4_inode fields the walk needs: i_mode, i_uid, i_size_lo @0; i_gid @24; i_flags @32; i_block @40 (60
# bytes); i_size_high @108; l_i_uid_high, l_i_gid_high @120
_I_HEAD = struct.Struct("<HHI")
_DIRENT = struct.Struct("<IHBB")  # inode, rec_len, name_len, file_type (ext2_dir_entry_2)
_EXTENTS_FL, _INLINE_DATA_FL = 0x80000, 0x10000000
_EXT_HDR = struct.Struct("<HHHH")  # eh_magic, eh_entries, eh_max, eh_depth
_EXT_LEAF = struct.Struct("<IHHI")  # ee_block, ee_len, ee_start_hi, ee_start_lo


class _Ino:
    __slots__ = ("inum", "mode", "uid", "gid", "size", "flags", "block", "off")

    def __init__(self, inum, mode, uid, gid, size, flags, block, off):
        self.inum, self.mode, self.uid, self.gid, self.size, self.flags, self.block, self.off = \
            inum, mode, uid, gid, size, flags, block, off


class _ExtReader(FsReader):
    """Why not all through dissect.extfs: listing an image through it parsed each inode and each
    directory entry with dissect.cstruct (about 55 us an inode), and importing it compiles its
    structures (about 50 ms); together they cost more than writing every file's content and put ext4
    at 4.6x debugfs (bench/bench_formats.py 'ext4' row).  So what the walk needs is read here with
    struct, every offset checked against the image: the superblock fields, the inode table's place
    (group descriptors laid out as dissect lays them), the few inode fields, directory entries, and
    the extents held in the inode itself (depth 0: up to four, the common case).  The content of any
    other layout (extent trees, ext2/3 indirect blocks, inline data in a regular file) is read
    through dissect's INode.open(), imported only then.  Content on several threads (writes release
    the GIL; dissect's readers seek a shared stream, so one per thread)."""

    def __init__(self, src):
        self.src = src
        self.local = threading.local()
        sb = src.view(1024, 2048)
        if len(sb) < 1024 or struct.unpack_from("<H", sb, 56)[0] != 0xEF53:
            raise ValueError("no ext superblock")
        (self.count, blocks_lo, _, _, _, first_data, log_bs, _, bpg, _, self.ipg) = struct.unpack_from("<11I", sb, 0)
        self.rev, = struct.unpack_from("<I", sb, 76)
        inode_size, = struct.unpack_from("<H", sb, 88)
        self.compat, self.incompat = struct.unpack_from("<II", sb, 92)
        self.volume = bytes(sb[120:136]).split(b"\0")[0].decode("utf-8", "replace")
        desc_size, = struct.unpack_from("<H", sb, 254)
        blocks_hi, = struct.unpack_from("<I", sb, 0x150)
        if log_bs > 6 or not bpg or not self.ipg:
            raise ValueError("implausible ext superblock")
        self.bs = 1024 << log_bs
        self.isize = inode_size if self.rev else 128
        if self.isize < 128:
            raise ValueError(f"inode size {self.isize} < 128")
        self.blocks_lo = blocks_lo
        self.last_block = ((blocks_hi << 32) | blocks_lo) - 1
        self.filetype = bool(self.incompat & 0x2)
        # group descriptors as dissect.extfs places them: 64-byte ones (with the high halves) on a 64-bit ext4
        self.gd64 = bool(self.incompat & 0x40 and self.incompat & 0x80 and desc_size >= 64)
        self.gd_size = desc_size or (64 if self.gd64 else 32)
        goff = 1024 + self.gd_size
        self.gd_off = -(-goff // self.bs) * self.bs
        self.groups = (self.last_block - first_data) // bpg + 1
        self.tables: dict[int, int] = {}

    def _table(self, group: int) -> int:
        t = self.tables.get(group)
        if t is None:
            if group >= self.groups:
                raise ValueError(f"group {group} past the last ({self.groups})")
            o = self.gd_off + group * self.gd_size
            if o + (0x2C if self.gd64 else 12) > self.src.size:
                raise ValueError(f"group descriptor {group} past the end of the image")
            t, = struct.unpack_from("<I", self.src.buf, self.src.off + o + 8)
            if self.gd64:
                t |= struct.unpack_from("<I", self.src.buf, self.src.off + o + 0x28)[0] << 32
            if t > self.last_block:
                raise ValueError(f"inode table of group {group} past the last block")
            self.tables[group] = t
        return t

    def _inode(self, inum: int) -> _Ino:
        if not 0 < inum <= self.count:
            raise ValueError(f"inode {inum} out of range")
        group, index = divmod(inum - 1, self.ipg)
        off = self._table(group) * self.bs + index * self.isize
        if off + 128 > self.src.size:
            raise ValueError(f"inode {inum} lies past the end of the image")
        buf, base = self.src.buf, self.src.off + off
        mode, uid, size_lo = _I_HEAD.unpack_from(buf, base)
        gid, = struct.unpack_from("<H", buf, base + 24)
        flags, = struct.unpack_from("<I", buf, base + 32)
        size_hi, = struct.unpack_from("<I", buf, base + 108)
        uid_hi, gid_hi = struct.unpack_from("<HH", buf, base + 120)
        return _Ino(inum, mode, uid | (uid_hi << 16), gid | (gid_hi << 16), size_lo | (size_hi << 32), flags,
                    bytes(buf[base + 40: base + 100]), off)

    def _inline(self, ino: _Ino) -> bytes:
        """An inline-data inode's bytes: the 60 in i_block, then the value of its in-inode extended
        attribute system.data (name index 7, "data") for the rest.  A directory's begin with the
        parent's inode number (4 bytes), then entries."""
        data = ino.block
        if ino.size > 60 and self.isize > 132:
            base = self.src.off + ino.off
            extra, = struct.unpack_from("<H", self.src.buf, base + 128)
            start = 128 + extra  # the in-inode xattrs: a 4-byte magic, then entries; values after the magic
            end = self.isize
            if start + 4 <= end and struct.unpack_from("<I", self.src.buf, base + start)[0] == 0xEA020000:
                first = pos = start + 4
                while pos + 16 <= end:
                    name_len, index, voff, _, vsize = struct.unpack_from("<BBHII", self.src.buf, base + pos)
                    if name_len == 0 and index == 0 and voff == 0:
                        break
                    name = bytes(self.src.buf[base + pos + 16: base + pos + 16 + name_len])
                    if index == 7 and name == b"data":
                        if first + voff + vsize > end:
                            raise ValueError(f"inode {ino.inum}: inline data past the inode")
                        data += bytes(self.src.buf[base + first + voff: base + first + voff + vsize])
                        break
                    pos += (16 + name_len + 3) & ~3
        return data[: ino.size]

    def root(self):
        return self._inode(2)

    def _runs(self, ino: _Ino):
        """(first block or None for a hole, blocks) of a depth-0 extent inode; None for any other layout."""
        if ino.flags & _INLINE_DATA_FL or not ino.flags & _EXTENTS_FL:
            return None
        magic, entries, _, depth = _EXT_HDR.unpack_from(ino.block, 0)
        if magic != 0xF30A:
            raise ValueError("bad extent header")
        if depth:
            return None
        runs, pos, last = [], 0, self.src.size // self.bs
        for i in range(min(entries, 4)):
            lblock, n, hi, lo = _EXT_LEAF.unpack_from(ino.block, 12 + 12 * i)
            if lblock < pos:
                raise ValueError("extents overlap or go backwards")
            if lblock > pos:
                runs.append((None, lblock - pos))
            if n > 0x8000:  # uninitialised (preallocated): reads as zeros
                runs.append((None, n - 0x8000))
                n -= 0x8000
            else:
                start = (hi << 32) | lo
                if start + n > last:
                    raise ValueError("extent past the end of the image")
                runs.append((start, n))
            pos = lblock + n
        return runs

    def _chunks(self, ino: _Ino):
        if ino.flags & _INLINE_DATA_FL:
            yield self._inline(ino)
            return
        if stat.S_ISLNK(ino.mode) and ino.size < 60:
            yield ino.block[: ino.size]
            return
        runs = self._runs(ino)
        if runs is None:
            yield from self._dissect(ino.inum)
            return
        buf, base, bs, left = self.src.buf, self.src.off, self.bs, ino.size
        for start, n in runs:
            if left <= 0:
                return
            length = min(n * bs, left)
            left -= length
            done = 0
            while done < length:
                k = min(OUT_CHUNK, length - done)
                if start is None:
                    yield bytes(k)
                else:
                    o = base + start * bs + done
                    yield memoryview(buf)[o: o + k]  # written from the map, not copied first
                done += k
        if left > 0:  # the size reaches past the last extent: a hole to the end
            while left > 0:
                k = min(OUT_CHUNK, left)
                yield bytes(k)
                left -= k

    def _dissect(self, inum: int):
        from dissect.extfs import ExtFS

        if not hasattr(self.local, "fs"):  # dissect's readers seek a shared stream: one per thread
            self.local.fs = ExtFS(self.src.window())
        return stream_of(self.local.fs.get(inum).open())

    def children(self, d: _Ino):
        if not stat.S_ISDIR(d.mode):
            raise NotADirectoryError(f"inode {d.inum}")
        off, end, cstart = 0, d.size - 12, 0
        chunks = self._chunks(d)
        if d.flags & _INLINE_DATA_FL:  # the parent's inode number, then entries to the end of i_block, then
            # the entries in system.data (each part ends its last entry at its own end)
            data = self._inline(d)
            chunks, off, end = [data[:60], data[60:]], 4, len(data)
        for chunk in chunks:  # whole blocks, and an entry never crosses a block
            n = len(chunk)
            while off < end and off + 8 <= cstart + n:
                pos = off - cstart
                inum, rec_len, name_len, ftype = _DIRENT.unpack_from(chunk, pos)
                if rec_len < 8:  # the end, or a corrupt entry: stop as dissect does
                    return
                if not self.filetype:
                    name_len |= ftype << 8  # ext2 without the filetype feature: a 16-bit name length
                if 0 < inum <= self.count:
                    raw = bytes(chunk[pos + 8: pos + 8 + min(name_len, rec_len - 8)])
                    name = raw.decode("utf-8", "surrogateescape")
                    if name not in (".", ".."):
                        yield self._item(name, self._inode(inum))
                off += rec_len
            cstart += n
            if off >= end:
                return

    def _item(self, name: str, ino: _Ino) -> Item:
        mode = ino.mode
        link = dev = None
        if stat.S_ISLNK(mode):
            got = b""
            for c in self._chunks(ino):  # a target is at most PATH_MAX (4096): a huge declared size is not read
                got += bytes(c)
                if len(got) >= 4096:
                    break
            link = got[:4096].decode("utf-8", "surrogateescape")
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            b0, b1 = struct.unpack_from("<II", ino.block, 0)
            dev = ((b0 >> 8) & 0xFF, b0 & 0xFF) if b0 else linux_dev(b1)
        return Item(name, mode, ino.uid, ino.gid, ino.size, key=ino.inum, link=link, dev=dev, ref=ino)

    def content(self, item):
        return self._chunks(item.ref)


class ExtHandler(Handler):
    name = "ext"
    kind = "filesystem"
    aliases = ("ext2", "ext3", "ext4")
    magics = [(b"\x53\xef", 0x438)]

    def probe(self, buf, off, end):
        sb = off + 1024
        if sb + 264 > end:
            return None
        inodes, blocks = struct.unpack("<II", buf[sb: sb + 8])
        first_data, log_bs = struct.unpack("<II", buf[sb + 20: sb + 28])
        bpg, _, ipg = struct.unpack("<III", buf[sb + 32: sb + 44])
        state = struct.unpack("<H", buf[sb + 58: sb + 60])[0]
        if log_bs > 6 or first_data > 1 or not bpg or not ipg or inodes < 10 or state not in (1, 2, 3):
            return None
        return blocks * (1024 << log_bs)

    def unpack(self, u, node, src, depth):
        r = _ExtReader(src)
        node.format = "ext4" if r.incompat & 0x40 else ("ext3" if r.compat & 0x4 else "ext2")
        node.meta.update({"block_size": r.bs, "blocks": r.blocks_lo, "inodes": r.count, "volume_name": r.volume})
        walk_fs(u, node, src, depth, r, threads=min(4, os.cpu_count() or 1))
        return src.size
