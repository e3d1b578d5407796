"""cpio, tar and zip archives through libarchive."""
from __future__ import annotations

import os
import stat
import struct
import sys

from firmpass.errors import LimitExceeded
from firmpass.i18n import clean_detail
from firmpass.model import FileEntry
from firmpass.unpack.engine import Handler, PartError, clean_path
from firmpass.unpack.handlers.common import (
    OUT_CHUNK,
    MemberTooLarge,
    entry,
    ftype,
    not_extracted,
    part_cap,
)


class _PreadWindow:
    """[off, end) of an open file as a seekable stream read with pread: the archive is streamed
    through one 1 MiB buffer and its pages stay in the page cache, not in this process (a mapped
    view that is read end to end counts its whole size as resident memory)."""

    def __init__(self, fd: int, off: int, end: int):
        self.fd, self.off, self.size, self.pos = fd, off, end - off, 0

    def readinto(self, b) -> int:
        n = max(0, min(len(b), self.size - self.pos))
        if n == 0:
            return 0
        got = os.preadv(self.fd, [memoryview(b)[:n]], self.off + self.pos)
        self.pos += got
        return got

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True


def _text(name) -> str:
    """libarchive returns a name it cannot decode as bytes: kept with surrogateescape (B1/B2)."""
    if isinstance(name, (bytes, bytearray)):
        return bytes(name).decode("utf-8", "surrogateescape")
    return name or ""


SONAME = "libarchive.so.13"  # libarchive's soname since 3.0 (2011)


def _libarchive():
    """libarchive-c, imported on the first archive.  Left to itself it finds the C library with
    ctypes.util.find_library, which runs `ldconfig -p` in a child process: 2-15 ms on the 2-core
    machine, more than a small archive's whole unpack.  It takes the library's name from $LIBARCHIVE
    when that is set, so when the dynamic loader resolves the soname itself that name is given there
    for the import (and the environment restored: nothing else sees it); when it does not, libarchive-c
    searches as before."""
    if "libarchive" not in sys.modules and not os.environ.get("LIBARCHIVE"):
        import ctypes

        try:
            ctypes.CDLL(SONAME)
        except OSError:
            pass
        else:
            os.environ["LIBARCHIVE"] = SONAME
            try:
                import libarchive  # noqa: F401
            finally:
                del os.environ["LIBARCHIVE"]
    import libarchive

    return libarchive


class _Archive:
    """One archive being unpacked: its entries, hard links, members left out for their size, and the
    bytes produced so far (the archive's expansion ratio)."""

    def __init__(self, u, node, src):
        self.u, self.node, self.src = u, node, src
        self.tree = u.tree(node)
        self.entries: list[FileEntry] = []
        self.links: list[tuple[FileEntry, str, str]] = []
        self.too_big: list[tuple[str, int]] = []
        self.produced = 0

    def add(self, ae) -> None:
        """One libarchive entry: its stored metadata, and its content through SafeTree."""
        rel = clean_path(ae.pathname or "")
        if not rel:
            return
        self.u.count_file()
        mode, tree = ae.mode, self.tree
        if ae.islnk:
            target = clean_path(ae.linkpath or "")
            e = entry(rel, mode | stat.S_IFREG, ae.uid, ae.gid, ae.size or 0, typ="hardlink")
            e.link_target = "/" + target
            self.links.append((e, rel, target))
            self.entries.append(e)
            return
        t = ftype(mode) if stat.S_IFMT(mode) else ("dir" if ae.isdir else "file")
        link = dev = None
        if ae.issym:
            link = _text(ae.linkpath)
            tree.symlink(rel, link)
            t = "symlink"
        elif ae.isblk or ae.ischr:
            dev = (ae.rdevmajor, ae.rdevminor)
        e = entry(rel, mode, ae.uid, ae.gid, ae.size or 0, link, dev, typ=t)
        self.entries.append(e)
        if t == "dir":
            tree.mkdir(rel)
        elif t == "file":
            self.content(ae, e, rel)

    def content(self, ae, e: FileEntry, rel: str) -> None:
        u = self.u
        size = ae.size or 0
        if size > u.lim.max_file_bytes:  # declared too large: metadata only
            self.too_big.append((e.path, size))
            return
        what = u.part_name(self.node)

        def blocks():
            mine = 0
            # libarchive-c allocates and copies a whole buffer of this size per call and per block:
            # sized to the member (most are small), not always OUT_CHUNK
            for b in ae.get_blocks(min(OUT_CHUNK, max(1 << 14, -(-size // 4096) * 4096 + 4096))):
                self.produced += len(b)
                mine += len(b)
                if mine > u.lim.max_file_bytes:  # more than declared: stop this member only
                    raise MemberTooLarge(mine)
                # the archive as a whole: expansion ratio only (one member is bounded above)
                u.stream_guard(self.src.size, self.produced, what, one_output=False)
                yield b
        try:
            e.disk_path = self.tree.write(rel, blocks())
        except MemberTooLarge as big:
            self.too_big.append((e.path, big.size))
            return
        if e.size == 0 and e.disk_path:
            e.size = os.path.getsize(u.out / e.disk_path)

    def finish(self, depth: int) -> None:
        # hard links: the entry points at a file earlier in the archive (never outside the tree)
        for e, rel, target in self.links:
            e.disk_path = self.tree.hardlink(rel, target)
            if e.disk_path:
                e.size = os.path.getsize(self.u.out / e.disk_path)
        not_extracted(self.u, self.node, self.too_big, part_cap(self.u, self.src), more="+")
        # newc cpio hard links come as several regular entries; libarchive gives the data to one of them
        self.u.add_fs(self.node, self.tree, self.entries, depth)


def _archive(u, node, src, depth, fmt: str) -> None:
    """cpio / tar / zip / 7z / RAR through libarchive: one pass, entries' stored metadata, content
    through SafeTree.  One reader for every archive format, Python's tarfile and zipfile included
    (they would read tar and zip with less start-up): the same names, hard links, limits and
    corrupt-archive handling whatever the format, and the archive is read only once."""
    libarchive = _libarchive()
    arc = _Archive(u, node, src)
    # streamed from the mapped part in 1 MiB reads (B12: bytes(src.view()) copied the whole archive
    # into memory, 3.2 GB RSS for a 1.5 GiB tar); zip's central directory is reached by seeking
    fd = os.open(src.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with libarchive.stream_reader(_PreadWindow(fd, src.off, src.end), format_name=fmt, filter_name="none",
                                      block_size=1 << 20) as reader:
            for ae in reader:
                arc.add(ae)
    except LimitExceeded:  # keep what was unpacked so far (a ratio bomb fails the archive, as before)
        u.add_fs(node, arc.tree, arc.entries, depth, nested=False)
        raise
    except libarchive.ArchiveError as ex:
        if not arc.entries:
            raise PartError(f"libarchive: {clean_detail(str(ex))}") from None
        node.status = "partial"
        u.warn("corrupt_part", node, part=u.part_name(node), detail=f"libarchive: {clean_detail(str(ex))}"[:300])
    finally:
        os.close(fd)
    arc.finish(depth)


class CpioHandler(Handler):
    name = "cpio"
    kind = "archive"
    magics = [(b"070701", 0), (b"070702", 0), (b"070707", 0)]

    def probe(self, buf, off, end):
        pos, n = off, 0
        while pos + 76 <= end and n < 10_000_000:
            magic = bytes(buf[pos: pos + 6])
            if magic in (b"070701", b"070702"):
                if pos + 110 > end:
                    return None
                h = bytes(buf[pos: pos + 110])
                fsize, nsize = int(h[54:62], 16), int(h[94:102], 16)
                name = bytes(buf[pos + 110: pos + 110 + nsize])
                npos = pos + ((110 + nsize + 3) & ~3)
                nxt = npos + ((fsize + 3) & ~3)
            elif magic == b"070707":
                h = bytes(buf[pos: pos + 76])
                nsize, fsize = int(h[59:65], 8), int(h[65:76], 8)
                name = bytes(buf[pos + 76: pos + 76 + nsize])
                nxt = pos + 76 + nsize + fsize
            else:
                return None
            n += 1
            if name.rstrip(b"\0") == b"TRAILER!!!":
                size = min(nxt, end) - off
                pad = (-size) % 512
                if off + size + pad <= end and not bytes(buf[off + size: off + size + pad]).strip(b"\0"):
                    size += pad
                return size
            pos = nxt
        return None if n == 0 else end - off

    def unpack(self, u, node, src, depth):
        fmt = "odc" if bytes(src.view(0, 6)) == b"070707" else "newc"
        node.meta["cpio_format"] = fmt
        _archive(u, node, src, depth, "cpio")
        return src.size


def _tar_ok(h: bytes) -> bool:
    try:
        chk = int(h[148:156].strip(b"\0 ") or b"0", 8)
    except ValueError:
        return False
    return chk == sum(h[:148]) + 256 + sum(h[156:512])


class TarHandler(Handler):
    name = "tar"
    kind = "archive"
    magics = [(b"ustar", 257)]

    def probe(self, buf, off, end):
        pos, n = off, 0
        while pos + 512 <= end:
            h = bytes(buf[pos: pos + 512])
            if not h.strip(b"\0"):
                return min(end, pos + 1024) - off
            if not _tar_ok(h):
                return None if n == 0 else pos - off
            sz = h[124:136]
            size = int.from_bytes(sz[1:], "big") if sz[0] & 0x80 else int(sz.strip(b"\0 ") or b"0", 8)
            pos += 512 + ((size + 511) & ~511)
            n += 1
        return end - off

    def unpack(self, u, node, src, depth):
        _archive(u, node, src, depth, "tar")
        return src.size


class ZipHandler(Handler):
    name = "zip"
    kind = "archive"
    magics = [(b"PK\x03\x04", 0)]

    MAX_EOCD_CANDIDATES = 4096

    def probe(self, buf, off, end):
        """The archive ends at its end-of-central-directory record.  The EOCD signature can also occur
        by chance inside a member's compressed or encrypted bytes (4 bytes: once in ~4 GiB of random
        data, so now and then in a real download): the record taken is the first whose central
        directory ends where the record starts (offsets relative to this archive), or a ZIP64 one;
        failing that, the first signature, as before (an archive with data prepended, such as a
        self-extractor, records offsets from the file's start)."""
        first, pos = None, off
        for _ in range(self.MAX_EOCD_CANDIDATES):
            eocd = buf.find(b"PK\x05\x06", pos, end)
            if eocd < 0 or eocd + 22 > end:
                break
            cd_size, cd_off, clen = struct.unpack("<IIH", buf[eocd + 12: eocd + 22])
            size = min(end, eocd + 22 + clen) - off
            if first is None:
                first = size
            if cd_off + cd_size == eocd - off or 0xFFFFFFFF in (cd_off, cd_size):
                return size
            pos = eocd + 1
        return first

    def unpack(self, u, node, src, depth):
        _archive(u, node, src, depth, "zip")
        return src.size


class SevenZipHandler(Handler):
    """7-Zip archives through libarchive.  Size from the signature header: 32 bytes, then the packed
    streams, then the next header (its offset and size are at bytes 12 and 20)."""

    name = "7z"
    kind = "archive"
    magics = [(b"7z\xbc\xaf\x27\x1c", 0)]

    def probe(self, buf, off, end):
        if off + 32 > end:
            return None
        nho, nhs = struct.unpack("<QQ", buf[off + 12: off + 28])
        if nhs == 0 or nho > 1 << 40 or nhs > 1 << 32:
            return None
        return 32 + nho + nhs

    def unpack(self, u, node, src, depth):
        _archive(u, node, src, depth, "7zip")
        nho, nhs = struct.unpack("<QQ", bytes(src.view(12, 28)))
        return min(src.size, 32 + nho + nhs)


class RarHandler(Handler):
    """RAR 4 and RAR 5 archives through libarchive (it reads both; nothing writes RAR in Debian main).
    The archive's end is not in its first header: it runs to the end of the part."""

    name = "rar"
    kind = "archive"
    magics = [(b"Rar!\x1a\x07\x00", 0), (b"Rar!\x1a\x07\x01\x00", 0)]

    def probe(self, buf, off, end):
        return end - off if off + 20 <= end else None

    def unpack(self, u, node, src, depth):
        v5 = bytes(src.view(6, 7)) == b"\x01"
        node.meta["rar_version"] = 5 if v5 else 4
        _archive(u, node, src, depth, "rar5" if v5 else "rar")
        return src.size
