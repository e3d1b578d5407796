"""ROMFS (Linux romfs, written by genromfs), read through the shared walk (walk_fs).

No Python library reads romfs, so the reader is ours, from the layout in the Linux kernel's
Documentation/filesystems/romfs.rst (all numbers big-endian, every header 16-byte aligned):

  "-rom1fs-", full size, checksum of the first 512 bytes, volume name (NUL-terminated, padded to 16)
  file header: next (offset of the next header in the same directory; low 4 bits: type 0-7 and an
               executable bit 8), spec.info, size, checksum, name (padded to 16), then the data
  types: 0 hard link (spec = the target's header), 1 directory (spec = its first header),
         2 file, 3 symlink (data = target), 4 block / 5 char device (spec = major << 16 | minor),
         6 socket, 7 fifo

romfs keeps no owners or permissions; modes are the kernel's: directories and files 0644, symlinks
0777, devices 0600, sockets and fifos 0644, plus 0111 when the executable bit is set.
"""
from __future__ import annotations

import stat
import struct

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import FsReader, Item, walk_fs

MAGIC = b"-rom1fs-"
MODES = {0: 0, 1: stat.S_IFDIR | 0o644, 2: stat.S_IFREG | 0o644, 3: stat.S_IFLNK | 0o777,
         4: stat.S_IFBLK | 0o600, 5: stat.S_IFCHR | 0o600, 6: stat.S_IFSOCK | 0o644, 7: stat.S_IFIFO | 0o644}
MAX_ENTRIES = 1 << 20


def _name_end(data, pos: int) -> tuple[bytes, int]:
    """The NUL-terminated name at pos and the 16-aligned offset after it."""
    stop = min(len(data), pos + 4096)
    raw = bytes(data[pos: stop])
    i = raw.find(b"\0")
    if i < 0:
        raise PartError(f"name at {pos:#x} is not terminated")
    return raw[:i], pos + ((i + 16) & ~15)


class _RomfsReader(FsReader):
    def __init__(self, data, first: int):
        self.data, self.first = data, first

    def header(self, pos: int):
        if pos < 0 or pos + 16 > len(self.data) or pos & 15:
            raise PartError(f"file header at {pos:#x} out of range")
        nxt, spec, size, _ck = struct.unpack(">IIII", bytes(self.data[pos: pos + 16]))
        name, dpos = _name_end(self.data, pos + 16)
        return nxt, spec, size, name, dpos

    def root(self):
        return self.first

    def _resolve(self, pos: int):
        """A hard link's target header (following chains of links, bounded)."""
        for _ in range(32):
            nxt, spec, size, _name, dpos = self.header(pos)
            if nxt & 7 != 0:
                return pos, nxt, spec, size, dpos
            pos = spec & ~15
        raise PartError("hard link chain too long")

    def children(self, pos):
        n, seen = 0, set()
        while pos and n < MAX_ENTRIES and pos not in seen:
            seen.add(pos)
            n += 1
            nxt, spec, size, name, dpos = self.header(pos)
            here = pos
            pos = nxt & ~15
            if name in (b".", b".."):
                continue
            typ = nxt & 7
            key: object = None
            if typ == 0:  # a hard link: the target's type, mode and data
                here, tnxt, spec, size, dpos = self._resolve(spec & ~15)
                typ, nxt = tnxt & 7, tnxt
            mode = MODES[typ] | (0o111 if nxt & 8 else 0)
            link = dev = None
            if typ == 3:
                link = bytes(self.data[dpos: dpos + min(size, 4096)]).decode("utf-8", "surrogateescape")
            elif typ in (4, 5):
                dev = (spec >> 16, spec & 0xFFFF)
            if typ == 1:
                key = ("dir", spec & ~15)
            elif typ == 2:
                key = here
            yield Item(name.decode("utf-8", "surrogateescape"), mode, 0, 0, size if typ == 2 else 0,
                       key=key, link=link, dev=dev, ref=(spec & ~15) if typ == 1 else (dpos, size))

    def content(self, item):
        dpos, size = item.ref
        if dpos + size > len(self.data):
            raise PartError(f"data at {dpos:#x} runs past the end of the image")
        for p in range(dpos, dpos + size, 1 << 20):
            yield bytes(self.data[p: min(dpos + size, p + (1 << 20))])


class RomfsHandler(Handler):
    name = "romfs"
    kind = "filesystem"
    magics = [(MAGIC, 0)]

    def probe(self, buf, off, end):
        if off + 32 > end:
            return None
        size = struct.unpack(">I", buf[off + 8: off + 12])[0]
        return size if size >= 32 else None

    def unpack(self, u, node, src, depth):
        size = struct.unpack(">I", bytes(src.view(8, 12)))[0]
        data = src.view(0, size)
        name, first = _name_end(data, 16)
        node.meta.update({"size": size, "volume": name.decode("latin-1")})
        if size > src.size:
            node.status = "partial"
            u.warn("truncated", node, part=u.part_name(node), size=size, have=src.size)
        walk_fs(u, node, src, depth, _RomfsReader(data, first))
        return min(size, src.size)
