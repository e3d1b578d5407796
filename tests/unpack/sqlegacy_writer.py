"""A small writer of squashfs 1.x / 2.x / 3.x / 4.0 images in either byte order, for tests only.

Nothing packaged writes these versions any more (Debian's mksquashfs writes 4.0 only), and vendor
SDKs wrote LZMA in several header variants.  This writer follows the published on-disk layout (the
squashfs 1/2/3 structures of the Linux 2.6 sources and squashfs-tools 3.x): superblock, data blocks,
fragment blocks, then the inode table, directory table, fragment table and uid/gid tables, with
metadata in 8 KiB blocks flushed as they fill so every inode and directory reference points at the
compressed start of its block.

It shares the bitfield model of firmpass.formats.squashfs_legacy (it packs with the reader's own
field lists), so the two could share one misunderstanding: the tests therefore also give the gzip
images this writes to Debian's unsquashfs (an independent reader of 1.x-3.x) and check the reader
against real vendor samples.
"""
from __future__ import annotations

import lzma
import os
import stat
import struct
import zlib
from pathlib import Path

from firmpass.formats import squashfs_legacy as sl

TYPE_OF = {stat.S_IFDIR: sl.DIR, stat.S_IFREG: sl.FILE, stat.S_IFLNK: sl.SYMLINK, stat.S_IFBLK: sl.BLKDEV,
           stat.S_IFCHR: sl.CHRDEV, stat.S_IFIFO: sl.FIFO, stat.S_IFSOCK: sl.SOCKET}


def pack(values: dict, spec, be: bool) -> bytes:
    total, v, pos = sum(w for _, w in spec), 0, 0
    for name, w in spec:
        x = values.get(name, 0) & ((1 << w) - 1)
        v |= x << (total - pos - w) if be else x << pos
        pos += w
    return v.to_bytes(total // 8, "big" if be else "little")


def compressor(codec: str, block_size: int):
    """gzip, or LZMA as vendor SDKs wrote it: 'lzma-alone' (13-byte header with the size), 'lzma-props'
    (props and dictionary only), 'lzma-raw' (no header: the SDK fixed lc=0, lp=2, pb=2)."""
    dict_size = max(block_size, 1 << 16)

    def comp(data: bytes) -> bytes:
        if codec == "gzip":
            return zlib.compress(data, 9)
        if codec == "lzma-raw":
            return lzma.compress(data, lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": dict_size,
                                                                  "lc": 0, "lp": 2, "pb": 2}])
        alone = lzma.compress(data, lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": dict_size}])
        if codec == "lzma-alone":
            return alone[:5] + struct.pack("<Q", len(data)) + alone[13:]
        if codec == "lzma-props":
            return alone[:5] + alone[13:]
        raise ValueError(codec)
    return comp


class _Meta:
    def __init__(self, comp, e):
        self.comp, self.e = comp, e
        self.out, self.buf = bytearray(), bytearray()

    def pos(self) -> tuple[int, int]:
        return len(self.out), len(self.buf)

    def add(self, b: bytes) -> None:
        self.buf += b
        while len(self.buf) >= sl.META_SIZE:
            self._flush(bytes(self.buf[: sl.META_SIZE]))
            del self.buf[: sl.META_SIZE]

    def _flush(self, block: bytes) -> None:
        c = self.comp(block)
        if len(c) < len(block):
            self.out += struct.pack(self.e + "H", len(c)) + c
        else:
            self.out += struct.pack(self.e + "H", len(block) | 0x8000) + block

    def finish(self) -> bytes:
        if self.buf:
            self._flush(bytes(self.buf))
            self.buf.clear()
        return bytes(self.out)


def build(root: Path, major: int = 3, be: bool = False, codec: str = "gzip", block_log: int = 16,
          fragments: bool = True, include=None, magic: bytes | None = None, mkfs_time: int = 1_200_000_000,
          comp_id: int | None = None) -> bytes:
    """A squashfs `major`.x image of the tree at root (files for which include(relpath) is true).
    4.0: comp_id is the compressor id written in the superblock (a vendor's may not match the blocks)."""
    e = ">" if be else "<"
    bs = 1 << block_log
    if major == 1:
        bs, block_log, fragments = min(bs, 1 << 15), min(block_log, 15), False
    comp = compressor(codec, bs)
    sbsize = {1: 51, 2: 63, 3: 119, 4: 96}[major]
    data = bytearray(bytes(sbsize))
    frag_entries: list[tuple[int, int]] = []
    frag_buf = bytearray()
    ids: list[int] = []  # 1.x-3.x: the uid table; 4.0: the one id table
    gids: list[int] = []  # 1.x-3.x: the guid table (4.0 uses ids)

    def uid_index(x: int) -> int:
        if x not in ids:
            ids.append(x)
        return ids.index(x)

    def gid_index(x: int) -> int:
        if major == 4:
            return uid_index(x)
        if x not in gids:
            gids.append(x)
        return gids.index(x)

    def flush_frag() -> None:
        if frag_buf:
            c = comp(bytes(frag_buf))
            start = len(data)
            if len(c) < len(frag_buf):
                data.extend(c)
                frag_entries.append((start, len(c)))
            else:
                data.extend(frag_buf)
                frag_entries.append((start, len(frag_buf) | 1 << 24))
            frag_buf.clear()

    def write_file(p: Path):
        content = p.read_bytes()
        start, sizes = len(data), []
        nfull = len(content) // bs if fragments else -(-len(content) // bs)
        bit = 1 << 15 if major == 1 else 1 << 24
        for i in range(nfull):
            chunk = content[i * bs: (i + 1) * bs]
            c = comp(chunk)
            if len(c) < len(chunk):
                data.extend(c)
                sizes.append(len(c))
            else:
                data.extend(chunk)
                sizes.append(len(chunk) | bit)
        frag, foff = sl.INVALID_FRAG, 0
        tail = content[nfull * bs:] if fragments else b""
        if tail:
            if len(frag_buf) + len(tail) > bs:
                flush_frag()
            frag, foff = len(frag_entries), len(frag_buf)
            frag_buf.extend(tail)
        return start, sizes, frag, foff, len(content)

    # data blocks first, every file in walk order
    entries: dict[Path, list] = {}
    filedata: dict[Path, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        kids = []
        for name in sorted(dirnames + filenames):
            p = d / name
            rel = str(p.relative_to(root))
            if include is not None and not include(rel):
                continue
            kids.append(p)
            if stat.S_ISREG(p.lstat().st_mode):
                filedata[p] = write_file(p)
        entries[d] = kids
    flush_frag()

    inodes, dirs = _Meta(comp, e), _Meta(comp, e)
    counter = [0]

    def write_inode(p: Path, st, ref_dir=None) -> int:
        t = TYPE_OF[stat.S_IFMT(st.st_mode)]
        counter[0] += 1
        blk, off = inodes.pos()
        ref = blk << 16 | off
        v = {"type": t, "mode": stat.S_IMODE(st.st_mode), "uid": uid_index(st.st_uid), "guid": gid_index(st.st_gid),
             "mtime": int(st.st_mtime), "inode_number": counter[0], "nlink": max(st.st_nlink, 1)}
        tail = b""
        if t == sl.DIR:
            size, dstart, doff = ref_dir
            v.update(file_size=size, start_block=dstart, offset=doff, parent=0)
            if size >= (1 << 16 if major == 4 else 1 << 19):
                raise ValueError("directory too large for this writer")
        elif t == sl.FILE:
            start, sizes, frag, foff, fsize = filedata[p]
            v.update(start_block=start, fragment=frag, frag_offset=foff, file_size=fsize)
            if major == 3 and (fsize >= 1 << 32 or start >= 1 << 32):
                v["type"] = t = sl.LREG
            tail = struct.pack(e + ("H" if major == 1 else "I") * len(sizes), *sizes)
        elif t == sl.SYMLINK:
            target = os.readlink(p).encode()
            v["symlink_size"] = len(target)
            tail = target
        elif t in (sl.BLKDEV, sl.CHRDEV):
            ma, mi = os.major(st.st_rdev), os.minor(st.st_rdev)
            v["rdev"] = (mi & 0xFF) | (ma << 8) | ((mi & ~0xFF) << 12) if major == 4 else (ma << 8) | mi
        if major == 1:
            uidx = v["uid"]
            v["uid"] = uidx & 15
            if v["guid"] >= 15:
                raise ValueError("squashfs 1.x holds at most 15 group ids")
            if t in (sl.FIFO, sl.SOCKET):
                spec = sl.INODES[1][0]
                v.update(type=0, ipc_type=0 if t == sl.FIFO else 1, ipc_offset=uidx >> 4)
            else:
                spec = sl.INODES[1][t]
                v["type"] = t + 5 * (uidx >> 4)
        else:
            spec = sl.INODES[major][t]
            if major < 4 and v["guid"] >= 255:
                raise ValueError("squashfs 2.x/3.x hold at most 255 group ids")
        inodes.add(pack(v, spec, be) + tail)
        return ref

    def write_dir(d: Path) -> int:
        listing = []
        for p in entries.get(d, []):
            st = p.lstat()
            if stat.S_ISDIR(st.st_mode):
                ref = write_dir(p)
            else:
                ref = write_inode(p, st)
            listing.append((p.name.encode("utf-8", "surrogateescape"), ref, TYPE_OF[stat.S_IFMT(st.st_mode)],
                            counter[0]))
        dblk, doff = dirs.pos()
        body = bytearray()
        i = 0
        while i < len(listing):
            blk = listing[i][1] >> 16
            group = [x for x in listing[i: i + 256]]
            n = 0
            while n < len(group) and group[n][1] >> 16 == blk:
                n += 1
            group = group[:n]
            base = group[0][3]
            body += pack({"count": len(group) - 1, "start_block": blk, "inode_number": base},
                         sl.DIR_HEADER[major], be)
            for name, ref, t, num in group:
                body += pack({"offset": ref & 0xFFFF, "type": t if t != sl.LREG else sl.FILE, "size": len(name) - 1,
                              "inode_number": (num - base) & 0xFFFF}, sl.DIR_ENTRY[major], be) + name
            i += n
        dirs.add(bytes(body))
        return write_inode(d, d.lstat(), (len(body) + (3 if major >= 3 else 0), dblk, doff))

    root_ref = write_dir(root)
    inode_table = len(data)
    data += inodes.finish()
    dir_table = len(data)
    data += dirs.finish()
    frag_table = 0
    if fragments:
        fm = _Meta(comp, e)
        for start, size in frag_entries:
            fm.add(struct.pack(e + ("QI4x" if major >= 3 else "II"), start, size))
        # the index: where each metadata block of fragment entries starts
        raw = fm.finish()
        starts, pos = [], 0
        while pos < len(raw):
            starts.append(len(data) + pos)
            (h,) = struct.unpack_from(e + "H", raw, pos)
            pos += 2 + (h & 0x7FFF)
        data += raw
        frag_table = len(data)
        data += struct.pack(e + ("Q" if major >= 3 else "I") * len(starts), *starts)
    if major == 4:  # one id table: its entries in metadata blocks, then the index of those blocks
        im = _Meta(comp, e)
        im.add(struct.pack(e + "I" * len(ids), *ids))
        raw = im.finish()
        id_blocks = len(data)
        data += raw
        id_table = len(data)
        data += struct.pack(e + "Q", id_blocks)
        used = len(data)
        cid = comp_id if comp_id is not None else (1 if codec == "gzip" else 2)
        flags = 0 if fragments else sl.NO_FRAG
        sb = bytearray(magic or (b"sqsh" if be else b"hsqs"))
        sb += struct.pack(e + "IiIIHHHHHH", counter[0], mkfs_time, bs, len(frag_entries), cid, block_log, flags,
                          len(ids), 4, 0)
        sb += struct.pack(e + "8Q", root_ref, used, id_table, (1 << 64) - 1, inode_table, dir_table,
                          frag_table if fragments else (1 << 64) - 1, (1 << 64) - 1)
        data[:96] = sb
        data += bytes(-len(data) % 4096)
        return bytes(data)
    uid_start = len(data)
    data += struct.pack(e + "I" * len(ids), *ids)
    guid_start = len(data)
    data += struct.pack(e + "I" * len(gids), *gids)
    used = len(data)
    flags = 0 if fragments else sl.NO_FRAG
    m = magic or (b"sqsh" if be else b"hsqs")
    sb = bytearray(m)
    sb += struct.pack(e + "6I", counter[0], used, uid_start, guid_start, inode_table, dir_table)
    sb += struct.pack(e + "HHHHBBBiQ", major, 0, bs & 0xFFFF, block_log, flags, len(ids), len(gids), mkfs_time, root_ref)
    if major >= 2:
        sb += struct.pack(e + "III", bs, len(frag_entries), frag_table)
    if major == 3:
        sb += struct.pack(e + "7Q", used, uid_start, guid_start, inode_table, dir_table, frag_table, (1 << 64) - 1)
    assert len(sb) == sbsize, (len(sb), sbsize)
    data[:sbsize] = sb
    data += bytes(-len(data) % 4096)
    return bytes(data)
