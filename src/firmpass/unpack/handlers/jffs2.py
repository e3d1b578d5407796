"""JFFS2 filesystems (firmpass.formats.jffs2)."""
from __future__ import annotations

import stat
import struct

from firmpass.formats import jffs2
from firmpass.unpack.engine import Handler
from firmpass.unpack.handlers.common import (
    OUT_CHUNK,
    FsReader,
    Item,
    linux_dev,
    walk_fs,
)


class _Jffs2Reader(FsReader):
    def __init__(self, fs):
        self.fs, self.kids = fs, fs.children()

    def root(self):
        return 1

    def children(self, pino):
        fs = self.fs
        for d in self.kids.get(pino, []):
            ino = fs.inodes.get(d.ino)
            if ino is None:
                continue
            link = dev = None
            if stat.S_ISLNK(ino.mode):
                link = fs.raw_data(ino).decode("utf-8", "surrogateescape")
            elif stat.S_ISCHR(ino.mode) or stat.S_ISBLK(ino.mode):
                raw = fs.raw_data(ino)
                if len(raw) >= 4:
                    dev = linux_dev(struct.unpack(fs.endian + "I", raw[:4])[0])
                elif len(raw) >= 2:
                    v = struct.unpack(fs.endian + "H", raw[:2])[0]
                    dev = (v >> 8, v & 0xFF)
            yield Item(d.name.decode("utf-8", "surrogateescape"), ino.mode, ino.uid, ino.gid, ino.isize,
                       key=d.ino, link=link, dev=dev, ref=d.ino)

    def content(self, item):
        return self.fs.iter_read(self.fs.inodes[item.ref], OUT_CHUNK)


class Jffs2Handler(Handler):
    name = "jffs2"
    kind = "filesystem"
    magics = [(b"\x85\x19", 0), (b"\x19\x85", 0)]

    def __init__(self):
        self._cache: dict = {}

    def probe(self, buf, off, end):
        if jffs2.detect(buf, off) is None:
            return None
        fs = jffs2.parse(buf, off, end)
        if not fs.dirents and not fs.inodes:
            return None
        self._cache = {(id(buf), off): fs}
        return fs.size

    def unpack(self, u, node, src, depth):
        fs = self._cache.pop((id(src.buf), src.off), None) or jffs2.parse(src.buf, src.off, src.end)
        node.meta.update({"endian": "little" if fs.endian == "<" else "big", "bad_nodes": fs.bad_nodes,
                          "inodes": len(fs.inodes)})
        if fs.bad_nodes:
            u.warn("bad_nodes", node, part=u.part_name(node), count=fs.bad_nodes)
        walk_fs(u, node, src, depth, _Jffs2Reader(fs))
        return fs.size
