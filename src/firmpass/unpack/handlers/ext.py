"""ext2/3/4 filesystems (dissect.extfs)."""
from __future__ import annotations

import os
import stat
import struct
import threading

from firmpass.unpack.engine import Handler
from firmpass.unpack.handlers.common import (
    FsReader,
    Item,
    linux_dev,
    stream_of,
    walk_fs,
)


class _ExtReader(FsReader):
    """Listing through one dissect.extfs reader; content on several threads, each with its own reader
    over the same mapped bytes (dissect's readers seek a shared stream, so one per thread).  Most of
    an ext image's unpack time is creating and writing small files, system calls that release the
    GIL: two or more threads overlap them (measured: bench/bench_formats.py 'ext4' row)."""

    def __init__(self, fs, src):
        self.fs, self.src = fs, src
        self.local = threading.local()

    def root(self):
        return self.fs.get(2)

    def children(self, d):
        for c in d.iterdir():
            if c.filename in (".", ".."):
                continue
            ino = c.inode
            mode = ino.i_mode
            link = dev = None
            if stat.S_ISLNK(mode):
                link = c.link
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                b0, b1 = struct.unpack("<II", bytes(ino.i_block)[:8])
                dev = ((b0 >> 8) & 0xFF, b0 & 0xFF) if b0 else linux_dev(b1)
            yield Item(c.filename, mode, ino.i_uid | (ino.i_uid_high << 16), ino.i_gid | (ino.i_gid_high << 16),
                       c.size, key=c.inum, link=link, dev=dev, ref=c)

    def content(self, item):
        from dissect.extfs import ExtFS

        if not hasattr(self.local, "fs"):
            self.local.fs = ExtFS(self.src.window())
        return stream_of(self.local.fs.get(item.key).open())


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
        from dissect.extfs import ExtFS

        fs = ExtFS(src.window())
        sb = fs.sb
        incompat = sb.s_feature_incompat
        node.format = "ext4" if incompat & 0x40 else ("ext3" if sb.s_feature_compat & 0x4 else "ext2")
        node.meta.update({"block_size": fs.block_size, "blocks": sb.s_blocks_count_lo, "inodes": sb.s_inodes_count,
                          "volume_name": bytes(sb.s_volume_name).rstrip(b"\0").decode("utf-8", "replace")})
        walk_fs(u, node, src, depth, _ExtReader(fs, src), threads=min(4, os.cpu_count() or 1))
        return src.size
