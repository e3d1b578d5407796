"""One handler per format (unblob's model), registered in identification order (most specific first).

Filesystems are read in place with libraries that expose the stored metadata (dissect.squashfs,
dissect.extfs, ubi-reader, libarchive) or our own readers (JFFS2, uImage, TRX, Android sparse in
firmpass.formats); content is written through SafeTree, metadata comes from the image, never from
what landed on disk.
"""
from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import os
import stat
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

from firmpass.errors import LimitExceeded
from firmpass.formats import fdt, jffs2, sparse, trx, uimage
from firmpass.model import ContainerNode, FileEntry
from firmpass.unpack.engine import Handler, PartError, Src, StreamLimit, clean_path, register

CHUNK = 1 << 16
OUT_CHUNK = 1 << 20


def ftype(mode: int) -> str:
    return {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chardev",
            stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}.get(stat.S_IFMT(mode), "file")


def entry(path: str, mode: int, uid: int, gid: int, size: int = 0, link: str | None = None,
          dev: tuple[int, int] | None = None, typ: str | None = None) -> FileEntry:
    t = typ or ftype(mode)
    return FileEntry(path="/" + path, container="", type=t, size=size if t in ("file", "hardlink") else 0,
                     mode=stat.S_IMODE(mode), uid=uid, gid=gid, link_target=link,
                     device=dev if t in ("chardev", "blockdev") else None)


def fs_guard(u, node: ContainerNode, src: Src, produced: int) -> None:
    """A filesystem or archive may not expand more than max_ratio times its own size (1 MiB floor)."""
    u.stream_guard(src.size, produced, u.part_name(node))


def part_cap(u, src: Src) -> int:
    """What one part may expand to: max_ratio times its size, with a 1 MiB floor (as stream_guard)."""
    return int(max(1 << 20, u.lim.max_ratio * max(src.size, 1)))


class _MemberTooLarge(Exception):
    """One archive member grew past the per-file limit: that member is dropped, the archive goes on."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _ReadFailed(Exception):
    """Reading one file's content from the image failed (a corrupt block): that file only."""


class PartContent:
    """The content budget of one filesystem part (squashfs, UBIFS, JFFS2, ext).

    admit(entry), before a file is read: its declared size must be within the per-file limit and
    within what the part may still expand to (max_ratio x the part's size, 1 MiB floor, less the
    declared sizes already admitted).  A file over either is not read (a sparse file declaring
    gigabytes in a 4 KiB image costs nothing); its metadata stays, and report() names it in one
    warning per part.
    chunks(pieces, size): the file's content as it is read, OUT_CHUNK bytes at a time and never past
    its declared size, each chunk counted against the part's budget; SafeTree.write counts the total
    budget per chunk and writes it, so no file sits whole in memory.  Thread-safe."""

    def __init__(self, u, node: ContainerNode, src: Src):
        self.u, self.node = u, node
        self.cap = part_cap(u, src)
        self.size = src.size
        self.reserved = 0
        self.produced = 0
        self.rejected: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def admit(self, e: FileEntry) -> bool:
        with self.lock:
            if e.size > self.u.lim.max_file_bytes or self.reserved + e.size > self.cap:
                self.rejected.append((e.path, e.size))
                return False
            self.reserved += e.size
            return True

    def chunks(self, pieces, size: int):
        left = size
        it = iter(pieces)
        while left > 0:
            try:
                b = next(it, None)
            except (LimitExceeded, StreamLimit):
                raise
            except Exception as ex:  # noqa: BLE001 - a corrupt block spoils one file, not the image
                raise _ReadFailed(f"{type(ex).__name__}: {ex}") from None
            if not b:
                break
            if len(b) > left:
                b = b[:left]
            left -= len(b)
            with self.lock:
                self.produced += len(b)
                produced = self.produced
            if produced > self.cap:  # only if a reader gave more than declared: a safety net
                raise StreamLimit(f"{self.u.part_name(self.node)}: expands more than {self.u.lim.max_ratio:g} times "
                                  f"({self.size} -> {produced}+ bytes)", "--max-ratio",
                                  zh=f"{self.u.part_name(self.node)}：展开倍数超过 {self.u.lim.max_ratio:g}"
                                     f"（{self.size} -> {produced}+ 字节）")
            self.u.check_time()
            yield b

    def report(self) -> None:
        _not_extracted(self.u, self.node, self.rejected, self.cap)


def _not_extracted(u, node: ContainerNode, items: list[tuple[str, int]], cap: int, more: str = "") -> None:
    """One warning per part naming the files left unread because of their size; the part is partial."""
    if not items:
        return
    names = sorted(items)
    if node.status == "ok":
        node.status = "partial"
    node.meta["not_extracted"] = [p for p, _ in names[:50]]
    u.warn("files_too_large", node, part=u.part_name(node), count=len(names),
           files=", ".join(f"{p} ({n}{more} bytes)" for p, n in names[:5]) + (", ..." if len(names) > 5 else ""),
           max_file=u.lim.max_file_bytes, cap=cap)


def stream_of(fh):
    """A file object's content as OUT_CHUNK pieces."""
    return iter(lambda: fh.read(OUT_CHUNK), b"")


# =========================================================================================== boot
@register
class UImageHandler(Handler):
    name = "uimage"
    magics = [(struct.pack(">I", uimage.MAGIC), 0)]

    def probe(self, buf, off, end):
        """Header only (magic + header CRC): the declared size may run past `end`, which the engine
        reports as a truncated part."""
        if off + uimage.HEADER_SIZE > end:
            return None
        hdr = bytes(buf[off: off + uimage.HEADER_SIZE])
        if zlib.crc32(hdr[:4] + b"\0\0\0\0" + hdr[8:]) != struct.unpack(">I", hdr[4:8])[0]:
            return None
        return uimage.HEADER_SIZE + struct.unpack(">I", hdr[12:16])[0]

    def unpack(self, u, node, src, depth):
        img = uimage.parse(src.buf, src.off, src.end, allow_truncated=True)
        node.meta.update(img.meta())
        if img.truncated is not None:  # an incomplete download or flash dump: open what is there
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=uimage.HEADER_SIZE + img.truncated,
                   present=img.total_size)
        if img.data_ok is False:
            u.warn("bad_crc", node, part=u.part_name(node), what="uImage data CRC")
        for poff, psize in img.parts:
            u.child_blob(node, depth, src.view(poff, poff + psize), offset=poff,
                         meta={"uimage_type": img.type, "uimage_comp": img.comp})
        return img.total_size


@register
class FitHandler(Handler):
    name = "fit"
    magics = [(struct.pack(">I", fdt.FDT_MAGIC), 0)]

    def probe(self, buf, off, end):
        size = fdt.header_size(bytes(buf[off: off + 40]))
        if not (40 < size <= end - off):
            return None
        t = fdt.parse(bytes(buf[off: off + size]))
        if t.node("/images") is None:
            return None
        ext_end = size
        for img in t.node("/images").children:
            do, ds = img.prop("data-offset"), img.prop("data-size")
            dp = img.prop("data-position")
            if ds is not None and (do is not None or dp is not None):
                start = dp.as_u32() if dp is not None else ((size + 3) & ~3) + do.as_u32()
                ext_end = max(ext_end, start + ds.as_u32())
        return ext_end

    def unpack(self, u, node, src, depth):
        size = fdt.header_size(bytes(src.view(0, 40)))
        t = fdt.parse(bytes(src.view(0, size)))
        node.meta["description"] = (t.root.prop("description").as_str() if t.root.prop("description") else None)
        node.meta["totalsize"] = size
        images = []
        consumed = size
        for img in t.node("/images").children:
            info = {"name": img.name}
            for k in ("description", "type", "arch", "os", "compression"):
                if img.prop(k) is not None:
                    info[k] = img.prop(k).as_str()
            info["hashes"] = [{"node": h.name, "algo": h.prop("algo").as_str() if h.prop("algo") else None,
                               "value": h.prop("value").value.hex() if h.prop("value") else None}
                              for h in img.children if h.name.startswith("hash")]
            info["signatures"] = [c.name for c in img.children if c.name.startswith("signature")]
            data, where = None, None
            if img.prop("data") is not None:
                p = img.prop("data")
                data = p.value
                where = t.off_struct + p.end - ((len(p.value) + 3) & ~3)
            elif img.prop("data-size") is not None:
                ds = img.prop("data-size").as_u32()
                if img.prop("data-position") is not None:
                    where = img.prop("data-position").as_u32()
                else:
                    where = ((size + 3) & ~3) + img.prop("data-offset").as_u32()
                if where + ds > src.size:
                    u.warn("truncated", node, part=f"{u.part_name(node)} image {img.name}", size=ds,
                           have=max(0, src.size - where))
                    continue
                data = src.view(where, where + ds)
                consumed = max(consumed, where + ds)
            info["size"] = len(data) if data is not None else 0
            info["offset"] = where
            images.append(info)
            if data is not None and len(data):
                child = u.child_blob(node, depth, data, offset=where or 0,
                                     meta={"fit_image": img.name, "fit_type": info.get("type"),
                                           "fit_compression": info.get("compression")})
                info["container"] = child.id
        node.meta["images"] = images
        confs = t.node("/configurations")
        if confs is not None:
            node.meta["default_configuration"] = confs.prop("default").as_str() if confs.prop("default") else None
            node.meta["configurations"] = {
                c.name: {**{k: c.prop(k).as_strs() for k in ("kernel", "fdt", "ramdisk", "loadables", "firmware")
                            if c.prop(k) is not None},
                         "signatures": [{"node": s.name, **{k: s.prop(k).as_strs() for k in
                                                            ("algo", "key-name-hint", "sign-images")
                                                            if s.prop(k) is not None}}
                                        for s in c.children if s.name.startswith("signature")]}
                for c in confs.children}
        return consumed


@register
class DtbHandler(Handler):
    name = "dtb"
    magics = [(struct.pack(">I", fdt.FDT_MAGIC), 0)]
    leaf = True
    sniff = False

    def probe(self, buf, off, end):
        size = fdt.header_size(bytes(buf[off: off + 40]))
        if not (40 < size <= end - off):
            return None
        fdt.parse(bytes(buf[off: off + size]))
        return size

    def unpack(self, u, node, src, depth):
        size = fdt.header_size(bytes(src.view(0, 40)))
        t = fdt.parse(bytes(src.view(0, size)))
        for k in ("model", "compatible"):
            if t.root.prop(k) is not None:
                node.meta[k] = t.root.prop(k).as_strs() if k == "compatible" else t.root.prop(k).as_str()
        node.meta["nodes"] = sum(1 for _ in t.root.walk())
        return size


@register
class TrxHandler(Handler):
    name = "trx"
    magics = [(trx.MAGIC, 0)]

    def probe(self, buf, off, end):
        if off + 28 > end:
            return None
        length, _crc, _fl, ver = struct.unpack("<IIHH", buf[off + 4: off + 16])
        return length if ver in (1, 2) and length >= 28 else None

    def unpack(self, u, node, src, depth):
        t = trx.parse(src.buf, src.off, src.end, allow_truncated=True)
        node.meta.update(t.meta())
        if t.truncated:  # an incomplete download or flash dump: open the partitions that are there
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=t.truncated, present=t.length)
        elif not t.crc_ok:
            u.warn("bad_crc", node, part=u.part_name(node), what="TRX CRC")
        for i, (poff, psize) in enumerate(t.partitions):
            u.child_blob(node, depth, src.view(poff, poff + psize), offset=poff, meta={"trx_partition": i})
        return t.length


@register
class SparseHandler(Handler):
    name = "android-sparse"
    magics = [(struct.pack("<I", sparse.MAGIC), 0)]

    def probe(self, buf, off, end):
        sparse.header(buf, off)
        return -1

    def unpack(self, u, node, src, depth):
        h = sparse.header(src.buf, src.off)
        node.meta.update(h.meta())
        consumed = 0

        def truncated(chunk: int, blocks: int) -> None:
            node.status = "partial"
            node.meta["truncated_at_chunk"] = chunk
            u.warn("truncated_sparse", node, part=u.part_name(node), chunk=chunk, chunks=h.total_chunks,
                   blocks=blocks, total=h.total_blks)

        def write(fh):
            nonlocal consumed
            consumed = sparse.expand(src.buf, src.off, src.end, fh, u.lim.max_file_bytes,
                                     on_write=lambda n: (u.account(n), fs_guard(u, node, src, 0)),
                                     on_truncated=truncated)

        try:
            u.child_blob(node, depth, write, fmt="data")
        except sparse.SparseError as e:
            raise PartError(str(e)) from None
        return consumed or src.size


# =========================================================================================== filesystems
SQ_COMP = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}


def _native_squashfs_codecs() -> None:
    """dissect.squashfs wants backports.zstd for zstd and falls back to pure-Python LZO/LZ4; point it at
    the C bindings we depend on anyway (zstandard, lz4, python-lzo): same output, far faster."""
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
        module = "lzo"

        def decompress(self, data, expected):
            return self._module.decompress(data, False, expected)

    c.NativeZSTD, c.AvailableLZ4, c.AvailableLZO = Zstd, Lz4, Lzo


_native_squashfs_codecs()


@register
class SquashfsHandler(Handler):
    name = "squashfs"
    magics = [(b"hsqs", 0)]

    def probe(self, buf, off, end):
        if off + 96 > end:
            return None
        (_m, _inodes, _t, bsize, _frags, comp, blog, _fl, _ids, major, _minor, _root,
         used) = struct.unpack("<IIIIIHHHHHHQQ", buf[off: off + 48])
        if major != 4 or comp not in SQ_COMP or bsize != 1 << blog or not 4096 <= bsize <= 1 << 20 or used < 96:
            return None
        padded = (used + 4095) & ~4095
        return padded if off + padded <= end else used

    def unpack(self, u, node, src, depth):
        from dissect.squashfs import SquashFS

        fs = SquashFS(src.window())
        sb = fs.sb
        node.meta.update({"version": f"{sb.s_major}.{sb.s_minor}", "compression": SQ_COMP.get(sb.compression),
                          "block_size": sb.block_size, "inodes": sb.inodes, "bytes_used": sb.bytes_used})
        if sb.bytes_used > src.size:
            raise PartError(f"truncated: superblock says {sb.bytes_used} bytes, {src.size} present")
        tree = u.tree(node)
        entries: list[FileEntry] = []
        files: list[tuple[FileEntry, str, int, int]] = []
        seen_dirs: set[tuple[int, int]] = set()
        stack = [(fs.get("/"), "")]
        stopped: LimitExceeded | None = None  # a global limit during the walk: what was listed is still read
        while stack and stopped is None:
            d, drel = stack.pop()
            for c in d.iterdir():
                rel = clean_path(f"{drel}/{c.name}")
                if not rel:
                    continue
                try:
                    u.count_file()
                except LimitExceeded as ex:
                    stopped = ex
                    break
                mode = c.mode
                t = ftype(mode)
                link = dev = None
                if t == "symlink":
                    link = c.link
                    tree.symlink(rel, link)
                elif t in ("chardev", "blockdev"):
                    rdev = c.header.rdev
                    dev = ((rdev & 0xFFF00) >> 8, (rdev & 0xFF) | ((rdev >> 12) & 0xFFF00))
                e = entry(rel, mode, c.uid, c.gid, c.size or 0, link, dev)
                entries.append(e)
                if t == "dir":
                    key = (c.block, c.offset)
                    if key not in seen_dirs:
                        seen_dirs.add(key)
                        tree.mkdir(rel)
                        stack.append((c, rel))
                elif t == "file":
                    files.append((e, rel, c.block, c.offset))
        # one writer per path: a hostile image can list a name twice in a directory, and the content
        # threads must not write the same file at once (the last listing wins, like a tar)
        by_rel = {f[1]: f for f in files}
        files = list(by_rel.values())
        budget = PartContent(u, node, src)
        try:
            self._content(u, node, src, tree, files, budget)
        except LimitExceeded:  # keep what was read: metadata of every entry, content so far
            budget.report()
            u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth, nested=False)
            raise
        budget.report()
        if stopped is not None:
            node.status = "partial"
            u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth, nested=False)
            raise stopped
        u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth)
        return min(src.size, (sb.bytes_used + 4095) & ~4095)

    def _content(self, u, node, src, tree, files, budget: PartContent) -> None:
        """Read and write file content on a few threads (xz/zlib/zstd release the GIL), each with its
        own SquashFS reader over the same mapped bytes, streamed in chunks.  Files are admitted
        smallest first, so an implausibly large one is what gets refused, not the many small ones."""
        from dissect.squashfs import SquashFS

        local = threading.local()
        bad: list[str] = []
        stop = threading.Event()

        def one(item):
            e, rel, block, offset = item
            if stop.is_set():
                return
            if not hasattr(local, "fs"):
                local.fs = SquashFS(src.window())
            try:
                fh = local.fs.inode(block, offset).open()
            except Exception as ex:  # noqa: BLE001 - a corrupt inode spoils one file, not the image
                bad.append(f"{e.path}: {type(ex).__name__}: {ex}")
                return
            try:
                e.disk_path = tree.write(rel, budget.chunks(stream_of(fh), e.size))
            except _ReadFailed as ex:
                bad.append(f"{e.path}: {ex}")
            except BaseException:
                stop.set()
                raise

        files.sort(key=lambda f: (f[0].size, f[0].path))
        files = [f for f in files if budget.admit(f[0])]
        files.sort(key=lambda f: -f[0].size)
        workers = min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as ex:
            futures = [ex.submit(one, item) for item in files]
            try:
                for f in futures:
                    f.result()
            except BaseException:
                stop.set()
                for f in futures:
                    f.cancel()
                raise
        if bad:
            node.status = "partial"
            bad.sort()  # threads finish in any order: name the same file on every run
            node.meta["unreadable"] = bad[:50]
            u.warn("files_unreadable", node, part=u.part_name(node), count=len(bad), first=bad[0][:200])


@register
class UbiHandler(Handler):
    name = "ubi"
    magics = [(b"UBI#", 0)]

    def probe(self, buf, off, end):
        if off + 64 > end or buf[off + 4] != 1:
            return None
        vid_off, data_off = struct.unpack(">II", buf[off + 16: off + 24])
        if not (64 <= vid_off < data_off <= 1 << 20):
            return None
        nxt = buf.find(b"UBI#", off + data_off, end)
        if nxt < 0:
            return end - off
        peb = nxt - off
        if peb & (peb - 1) or peb < data_off:
            return None
        k = 1
        while off + (k + 1) * peb <= end and buf[off + k * peb: off + k * peb + 4] == b"UBI#":
            k += 1
        return k * peb

    def unpack(self, u, node, src, depth):
        from ubireader import settings
        from ubireader.ubi import ubi as Ubi
        from ubireader.ubi_io import leb_virtual_file, ubi_file

        settings.logging_on = settings.logging_on_verbose = False
        peb = self.probe(src.buf, src.off, src.end)
        nxt = src.buf.find(b"UBI#", src.off + 64, src.end)
        peb = nxt - src.off if nxt > 0 else peb
        node.meta["peb_size"] = peb
        with _quiet():
            uf = ubi_file(str(src.path), peb, src.off, src.end)
            ub = Ubi(uf)
        vols = []
        for image in ub.images:
            for vname, vol in image.volumes.items():
                with _quiet():
                    blocks = vol.get_blocks(ub.blocks)
                    data = b"".join(leb_virtual_file(ub, blocks).reader()) if blocks else b""
                fs_guard(u, node, src, len(data))
                vols.append({"name": vname, "size": len(data), "image_seq": image.image_seq})
                if data:
                    c = u.child_blob(node, depth, data, meta={"ubi_volume": vname})
                    vols[-1]["container"] = c.id
        node.meta["volumes"] = vols
        return src.size


@contextlib.contextmanager
def _quiet():
    """ubi-reader prints and calls sys.exit() on fatal errors: keep it off the terminal, make exits errors."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    except SystemExit:
        raise PartError(buf.getvalue().strip().splitlines()[-1] if buf.getvalue().strip() else "ubi-reader failed") from None


@register
class UbifsHandler(Handler):
    name = "ubifs"
    magics = [(b"\x31\x18\x10\x06", 0)]

    def probe(self, buf, off, end):
        if off + 64 > end or buf[off + 20] != 6:
            return None
        leb_size, leb_cnt = struct.unpack("<II", buf[off + 36: off + 44])
        if not (4096 <= leb_size <= 1 << 22) or leb_cnt == 0:
            return None
        return min(end - off, leb_size * leb_cnt)

    def unpack(self, u, node, src, depth):
        from ubireader import settings
        from ubireader.ubi_io import ubi_file
        from ubireader.ubifs import ubifs as Ubifs, walk

        settings.logging_on = settings.logging_on_verbose = False
        leb_size = struct.unpack("<I", src.buf[src.off + 36: src.off + 40])[0]
        node.meta["leb_size"] = leb_size
        with _quiet():
            fs = Ubifs(ubi_file(str(src.path), leb_size, src.off, src.end))
            inodes: dict = {}
            bad: list = []
            walk.index(fs, fs.master_node.root_lnum, fs.master_node.root_offs, inodes, bad)
        if 1 not in inodes:
            raise PartError("no root inode")
        if bad:
            node.status = "partial"
            node.meta["bad_blocks"] = bad
        tree = u.tree(node)
        entries: list[FileEntry] = []
        budget = PartContent(u, node, src)
        unreadable: list[str] = []
        first: dict[int, str] = {}
        stack, seen = [(1, "")], {1}
        while stack:
            ino, drel = stack.pop()
            for dent in inodes.get(ino, {}).get("dent", []):
                rel = clean_path(f"{drel}/{dent.name}")
                inode = inodes.get(dent.inum)
                if not rel or inode is None or "ino" not in inode:
                    continue
                u.count_file()
                ino_n = inode["ino"]
                mode = ino_n.mode
                t = ftype(mode)
                link = dev = None
                if t == "symlink":
                    link = bytes(ino_n.data).decode("utf-8", "surrogateescape")
                    tree.symlink(rel, link)
                elif t in ("chardev", "blockdev"):
                    raw = bytes(ino_n.data)
                    v = struct.unpack("<I", raw[:4])[0] if len(raw) >= 4 else 0
                    dev = ((v & 0xFFF00) >> 8, (v & 0xFF) | ((v >> 12) & 0xFFF00))
                e = entry(rel, mode, ino_n.uid, ino_n.gid, ino_n.size, link, dev)
                entries.append(e)
                if t == "dir" and dent.inum not in seen:
                    seen.add(dent.inum)
                    tree.mkdir(rel)
                    stack.append((dent.inum, rel))
                elif t == "file":
                    if dent.inum in first:
                        e.disk_path = tree.hardlink(rel, first[dent.inum])
                        continue
                    if not budget.admit(e):
                        continue
                    try:
                        e.disk_path = tree.write(rel, budget.chunks(_ubifs_content(fs, inode, inodes, e.size), e.size))
                    except _ReadFailed as ex:
                        unreadable.append(f"{e.path}: {ex}")
                        continue
                    first[dent.inum] = rel
        budget.report()
        if unreadable:
            node.status = "partial"
            u.warn("files_unreadable", node, part=u.part_name(node), count=len(unreadable), first=unreadable[0][:200])
        u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth)
        return src.size


def _ubifs_content(fs, inode, inodes, size: int):
    """A UBIFS regular file's content in OUT_CHUNK pieces (what ubireader's process_reg_file returns
    whole): data nodes in block order, missing blocks as zeros, encrypted blocks decrypted, zero
    padding up to the inode size; a repeated block key is skipped, nothing past `size` is produced."""
    from ubireader.ubifs.decrypt import datablock_decrypt, derive_key_from_nonce, lookup_inode_nonce
    from ubireader.ubifs.defines import (UBIFS_BLOCK_SIZE, UBIFS_COMPR_LZO, UBIFS_COMPR_ZLIB, UBIFS_COMPR_ZSTD,
                                         UBIFS_DATA_KEY, UBIFS_S_KEY_BLOCK_BITS)
    from ubireader.ubifs.misc import decompress

    start_key = UBIFS_DATA_KEY << UBIFS_S_KEY_BLOCK_BITS

    def segments():
        last = start_key - 1
        for data in sorted(inode.get("data", []), key=lambda x: x.key["khash"]):
            khash = data.key["khash"]
            if khash <= last:
                continue
            if khash - last > 1:
                yield (khash - last - 1) * UBIFS_BLOCK_SIZE
            with _quiet():
                fs.file.seek(data.offset)
                d = fs.file.read(data.compr_len)
                if fs.master_key is not None:
                    key = derive_key_from_nonce(fs.master_key, lookup_inode_nonce(inodes, inode))
                    d = datablock_decrypt(key, struct.pack("<QQ", khash - start_key, 0), d)[: data.plaintext_size]
                # every codec bounded to one block (UBIFS_BLOCK_SIZE): the node's own `size` and a zstd
                # frame's declared content size come from the image and are not trusted
                if data.compr_type == UBIFS_COMPR_ZLIB:
                    out = zlib.decompressobj(-11).decompress(d, UBIFS_BLOCK_SIZE)
                elif data.compr_type == UBIFS_COMPR_ZSTD:
                    import zstandard

                    try:
                        out = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(d)).read(UBIFS_BLOCK_SIZE)
                    except zstandard.ZstdError:
                        out = None
                elif data.compr_type == UBIFS_COMPR_LZO:
                    out = decompress(data.compr_type, UBIFS_BLOCK_SIZE, d)
                else:
                    out = d[:UBIFS_BLOCK_SIZE]
            if out is None:
                raise PartError(f"block {khash - start_key} does not decompress")
            yield out
            last = khash

    return _pack(segments(), size)


def _pack(segments, size: int):
    """Segments (bytes, or an int: that many zero bytes) regrouped as ~OUT_CHUNK pieces, cut at `size`
    and zero-padded up to it."""
    piece = bytearray()
    done = 0

    def zeros(n):
        nonlocal piece, done
        while n > 0 and done + len(piece) < size:
            k = min(n, OUT_CHUNK - len(piece), size - done - len(piece))
            piece += bytes(k)
            n -= k
            if len(piece) >= OUT_CHUNK:
                done += len(piece)
                yield bytes(piece)
                piece = bytearray()

    for seg in segments:
        if isinstance(seg, int):
            yield from zeros(seg)
        else:
            piece += seg[: max(0, size - done - len(piece))]
            if len(piece) >= OUT_CHUNK:
                done += len(piece)
                yield bytes(piece)
                piece = bytearray()
        if done + len(piece) >= size:
            break
    yield from zeros(size - done - len(piece))
    if piece:
        yield bytes(piece)


@register
class Jffs2Handler(Handler):
    name = "jffs2"
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
        kids = fs.children()
        tree = u.tree(node)
        entries: list[FileEntry] = []
        budget = PartContent(u, node, src)
        try:
            self._walk(u, node, src, fs, kids, tree, entries, budget)
        except LimitExceeded:
            budget.report()
            u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth, nested=False)
            raise
        budget.report()
        u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth)
        return fs.size

    def _walk(self, u, node, src, fs, kids, tree, entries, budget):
        first: dict[int, str] = {}
        stack, seen = [(1, "")], {1}
        while stack:
            pino, drel = stack.pop()
            for d in kids.get(pino, []):
                rel = clean_path(f"{drel}/{d.name.decode('utf-8', 'surrogateescape')}")
                ino = fs.inodes.get(d.ino)
                if not rel or ino is None:
                    continue
                u.count_file()
                t = ftype(ino.mode)
                link = dev = None
                if t == "symlink":
                    link = fs.raw_data(ino).decode("utf-8", "surrogateescape")
                    tree.symlink(rel, link)
                elif t in ("chardev", "blockdev"):
                    raw = fs.raw_data(ino)
                    if len(raw) >= 4:
                        v = struct.unpack(fs.endian + "I", raw[:4])[0]
                        dev = ((v & 0xFFF00) >> 8, (v & 0xFF) | ((v >> 12) & 0xFFF00))
                    elif len(raw) >= 2:
                        v = struct.unpack(fs.endian + "H", raw[:2])[0]
                        dev = (v >> 8, v & 0xFF)
                e = entry(rel, ino.mode, ino.uid, ino.gid, ino.isize, link, dev)
                entries.append(e)
                if t == "dir" and d.ino not in seen:
                    seen.add(d.ino)
                    tree.mkdir(rel)
                    stack.append((d.ino, rel))
                elif t == "file":
                    if d.ino in first:
                        e.disk_path = tree.hardlink(rel, first[d.ino])
                        continue
                    if not budget.admit(e):
                        continue
                    try:
                        e.disk_path = tree.write(rel, budget.chunks(fs.iter_read(ino, OUT_CHUNK), e.size))
                    except _ReadFailed as ex:
                        node.status = "partial"
                        u.warn("files_unreadable", node, part=u.part_name(node), count=1, first=f"{e.path}: {ex}")
                        continue
                    first[d.ino] = rel


@register
class ExtHandler(Handler):
    name = "ext"
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
        tree = u.tree(node)
        entries: list[FileEntry] = []
        budget = PartContent(u, node, src)
        first: dict[int, str] = {}
        bad: list[str] = []
        stack, seen = [(fs.get(2), "")], {2}
        while stack:
            d, drel = stack.pop()
            for c in d.iterdir():
                if c.filename in (".", ".."):
                    continue
                rel = clean_path(f"{drel}/{c.filename}")
                if not rel:
                    continue
                u.count_file()
                ino = c.inode
                mode = ino.i_mode
                uid = ino.i_uid | (ino.i_uid_high << 16)
                gid = ino.i_gid | (ino.i_gid_high << 16)
                t = ftype(mode)
                link = dev = None
                if t == "symlink":
                    link = c.link
                    tree.symlink(rel, link)
                elif t in ("chardev", "blockdev"):
                    b0, b1 = struct.unpack("<II", bytes(ino.i_block)[:8])
                    if b0:
                        dev = ((b0 >> 8) & 0xFF, b0 & 0xFF)
                    else:
                        dev = ((b1 & 0xFFF00) >> 8, (b1 & 0xFF) | ((b1 >> 12) & 0xFFF00))
                e = entry(rel, mode, uid, gid, c.size, link, dev)
                entries.append(e)
                if t == "dir" and c.inum not in seen:
                    seen.add(c.inum)
                    tree.mkdir(rel)
                    stack.append((c, rel))
                elif t == "file":
                    if c.inum in first:
                        e.disk_path = tree.hardlink(rel, first[c.inum])
                        continue
                    if not budget.admit(e):
                        continue
                    try:
                        fh = c.open()
                        e.disk_path = tree.write(rel, budget.chunks(stream_of(fh), e.size))
                    except _ReadFailed as ex:
                        bad.append(f"{e.path}: {ex}")
                        continue
                    except (LimitExceeded, StreamLimit):
                        raise
                    except Exception as ex:  # noqa: BLE001 - c.open() on a corrupt inode
                        bad.append(f"{e.path}: {type(ex).__name__}: {ex}")
                        continue
                    first[c.inum] = rel
        budget.report()
        if bad:
            node.status = "partial"
            u.warn("files_unreadable", node, part=u.part_name(node), count=len(bad), first=bad[0][:200])
        u.add_fs(node, tree, sorted(entries, key=lambda e: e.path), depth)
        return src.size


# =========================================================================================== archives
def _archive(u, node, src, depth, fmt: str) -> None:
    """cpio / tar / zip through libarchive: one pass, entries' stored metadata, content through SafeTree."""
    import libarchive

    tree = u.tree(node)
    entries: list[FileEntry] = []
    produced = 0
    links: list[tuple[FileEntry, str, str]] = []
    too_big: list[tuple[str, int]] = []
    data = bytes(src.view())
    try:
        with libarchive.memory_reader(data, format_name=fmt, filter_name="none") as arc:
            for ae in arc:
                rel = clean_path(ae.pathname or "")
                if not rel:
                    continue
                u.count_file()
                mode = ae.mode
                if ae.islnk:
                    target = clean_path(ae.linkpath or "")
                    e = entry(rel, mode | stat.S_IFREG, ae.uid, ae.gid, ae.size or 0, typ="hardlink")
                    e.link_target = "/" + target
                    links.append((e, rel, target))
                    entries.append(e)
                    continue
                t = ftype(mode) if stat.S_IFMT(mode) else ("dir" if ae.isdir else "file")
                link = dev = None
                if ae.issym:
                    link = ae.linkpath or ""
                    tree.symlink(rel, link)
                    t = "symlink"
                elif ae.isblk or ae.ischr:
                    dev = (ae.rdevmajor, ae.rdevminor)
                e = entry(rel, mode, ae.uid, ae.gid, ae.size or 0, link, dev, typ=t)
                entries.append(e)
                if t == "dir":
                    tree.mkdir(rel)
                elif t == "file":
                    if (ae.size or 0) > u.lim.max_file_bytes:  # declared too large: metadata only
                        too_big.append((e.path, ae.size))
                        continue

                    def blocks():
                        nonlocal produced
                        mine = 0
                        for b in ae.get_blocks(OUT_CHUNK):
                            produced += len(b)
                            mine += len(b)
                            if mine > u.lim.max_file_bytes:  # more than declared: stop this member only
                                raise _MemberTooLarge(mine)
                            # the archive as a whole: expansion ratio only (one member is bounded above)
                            u.stream_guard(src.size, produced, u.part_name(node), one_output=False)
                            yield b
                    try:
                        e.disk_path = tree.write(rel, blocks())
                    except _MemberTooLarge as big:
                        too_big.append((e.path, big.size))
                        continue
                    if e.size == 0 and e.disk_path:
                        e.size = os.path.getsize(u.out / e.disk_path)
    except LimitExceeded:  # keep what was unpacked so far (a ratio bomb fails the archive, as before)
        u.add_fs(node, tree, entries, depth, nested=False)
        raise
    except libarchive.ArchiveError as ex:
        if not entries:
            raise PartError(f"libarchive: {ex}") from None
        node.status = "partial"
        u.warn("corrupt_part", node, part=u.part_name(node), detail=f"libarchive: {ex}"[:300])
    # hard links: the entry points at a file earlier in the archive (never outside the tree)
    for e, rel, target in links:
        e.disk_path = tree.hardlink(rel, target)
        if e.disk_path:
            e.size = os.path.getsize(u.out / e.disk_path)
    _not_extracted(u, node, too_big, part_cap(u, src), more="+")
    # newc cpio hard links come as several regular entries; libarchive gives the data to one of them
    u.add_fs(node, tree, entries, depth)


@register
class CpioHandler(Handler):
    name = "cpio"
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


@register
class TarHandler(Handler):
    name = "tar"
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


@register
class ZipHandler(Handler):
    name = "zip"
    magics = [(b"PK\x03\x04", 0)]

    def probe(self, buf, off, end):
        eocd = buf.find(b"PK\x05\x06", off, end)
        if eocd < 0 or eocd + 22 > end:
            return None
        clen = struct.unpack("<H", buf[eocd + 20: eocd + 22])[0]
        return min(end, eocd + 22 + clen) - off

    def unpack(self, u, node, src, depth):
        _archive(u, node, src, depth, "zip")
        return src.size


# =========================================================================================== streams
class _Stream(Handler):
    """A compressed stream: decompressed into a child blob, which is identified in turn.  Bounded by
    the expansion ratio and the per-file size (checked every output chunk, so a bomb stops early)."""

    def decompressor(self):
        raise NotImplementedError

    def unpack(self, u, node, src, depth):
        consumed = [src.size]
        view = src.view()

        def write(fh):
            d = self.decompressor()
            pos, produced, eof = 0, 0, False
            salvaging, damage = False, None
            while True:
                try:
                    out, pos, eof = self.step(d, view, pos)
                except (LimitExceeded, StreamLimit):
                    raise
                except Exception as ex:  # noqa: BLE001 - a damaged stream: keep what decompressed before it
                    again = self.salvage(view) if not salvaging else None
                    if again is not None:  # a second pass that does not verify checksums
                        salvaging, damage = True, f"{type(ex).__name__}: {ex}"[:200]  # text: no frames kept
                        u.account(-produced)  # the first pass's output is rewritten, not added to
                        d, pos, produced, eof = again[0], again[1], 0, False
                        fh.seek(0)
                        fh.truncate()
                        continue
                    if not produced:
                        raise
                    node.status = "partial"
                    node.meta["decompressed_size"] = produced
                    u.warn("corrupt_stream", node, part=u.part_name(node), size=produced,
                           detail=f"{type(ex).__name__}: {ex}"[:200])
                    consumed[0] = src.size
                    return
                if out:
                    produced += len(out)
                    u.stream_guard(pos, produced, u.part_name(node))
                    u.account(len(out))
                    fh.write(out)
                if eof or (not out and pos >= len(view) and self.starved(d)):
                    break
            unused = len(getattr(d, "unused_data", b"") or b"")
            consumed[0] = pos - unused
            node.meta["decompressed_size"] = produced
            if salvaging:  # the data decompressed whole; only its checksum or length trailer is wrong
                node.status = "partial"
                u.warn("corrupt_stream", node, part=u.part_name(node), size=produced, detail=damage)
                if eof:
                    consumed[0] = min(src.size, consumed[0] + 8)  # the damaged trailer itself
            if not eof:
                node.status = "partial"
                u.warn("truncated_stream", node, part=u.part_name(node), size=produced)

        u.child_blob(node, depth, write)
        return consumed[0]

    def starved(self, d) -> bool:
        return True

    def salvage(self, view):
        """(decompressor, start) for a second pass that skips integrity checks, or None."""
        return None

    def step(self, d, view, pos):
        """lzma / bz2 API: decompress(data, max_length), needs_input, eof, unused_data"""
        if d.needs_input:
            data = view[pos: pos + CHUNK]
            pos += len(data)
            if not data:
                return b"", pos, d.eof
        else:
            data = b""
        return d.decompress(data, OUT_CHUNK), pos, d.eof


@register
class GzipHandler(_Stream):
    name = "gzip"
    magics = [(b"\x1f\x8b\x08", 0)]

    def probe(self, buf, off, end):
        return -1 if off + 18 <= end and buf[off + 3] & 0xE0 == 0 else None

    def decompressor(self):
        return _Z(zlib.decompressobj(31))

    def salvage(self, view):
        """Raw deflate after the gzip header: zlib checks the trailer's CRC-32 and length only together
        with the last block, so a damaged trailer would lose a small stream whole."""
        b = bytes(view[:65536 + 10])
        try:
            flags, pos = b[3], 10
            if flags & 4:
                pos += 2 + (b[10] | b[11] << 8)
            if flags & 8:
                pos = b.index(b"\0", pos) + 1
            if flags & 16:
                pos = b.index(b"\0", pos) + 1
            if flags & 2:
                pos += 2
        except (IndexError, ValueError):
            return None
        return _Z(zlib.decompressobj(-15)), pos

    def step(self, z, view, pos):
        if not z.tail:
            z.tail = view[pos: pos + CHUNK]
            pos += len(z.tail)
            if not z.tail:
                return b"", pos, z.d.eof
        out = z.d.decompress(z.tail, OUT_CHUNK)
        z.tail = z.d.unconsumed_tail
        if z.d.eof:
            z.unused_data = z.d.unused_data
        return out, pos, z.d.eof


class _Z:
    def __init__(self, d):
        self.d, self.tail, self.unused_data = d, b"", b""


@register
class XzHandler(_Stream):
    name = "xz"
    magics = [(b"\xfd7zXZ\x00", 0)]

    def probe(self, buf, off, end):
        return -1

    def decompressor(self):
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)


@register
class Bzip2Handler(_Stream):
    name = "bzip2"
    magics = [(b"BZh", 0)]

    def probe(self, buf, off, end):
        return -1 if off + 10 <= end and 0x31 <= buf[off + 3] <= 0x39 and bytes(buf[off + 4: off + 10]) == b"1AY&SY" else None

    def decompressor(self):
        return bz2.BZ2Decompressor()


@register
class ZstdHandler(_Stream):
    name = "zstd"
    magics = [(b"\x28\xb5\x2f\xfd", 0)]

    def probe(self, buf, off, end):
        return -1 if off + 6 <= end and not buf[off + 4] & 0x08 else None  # reserved bit of the frame header

    def decompressor(self):
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def step(self, d, view, pos):
        # 1 KiB of input per call bounds one call's output (RLE blocks expand at most ~128 KiB each)
        data = view[pos: pos + 1024]
        pos += len(data)
        if not data:
            return b"", pos, d.eof
        return d.decompress(data), pos, d.eof


@register
class LzmaHandler(_Stream):
    """LZMA-alone (.lzma, uImage comp=lzma): no real magic, so never carved or sniffed; tried only at
    offset 0 of a payload, and accepted only when the first bytes decode."""

    name = "lzma"
    magics = [(b"\x5d\x00\x00", 0)]
    carve = False
    sniff = False

    def probe(self, buf, off, end):
        if off + 13 > end:
            return None
        d = lzma.LZMADecompressor(lzma.FORMAT_ALONE)
        out = d.decompress(bytes(buf[off: off + min(end - off, 4096)]), 4096)
        return -1 if out else None

    def decompressor(self):
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)


# =========================================================================================== leaves
@register
class LinuxKernelHandler(Handler):
    """A Linux kernel image: x86 bzImage (recorded with its version string), ARM zImage, arm64 Image.
    A leaf: recorded, not opened further."""

    name = "linux-kernel"
    magics = [(b"HdrS", 0x202), (b"\x18\x28\x6f\x01", 0x24), (b"ARM\x64", 0x38)]
    carve = False
    sniff = False
    leaf = True

    def probe(self, buf, off, end):
        if off + 0x260 > end:
            return None
        if bytes(buf[off + 0x202: off + 0x206]) == b"HdrS":
            return -1 if bytes(buf[off + 0x1FE: off + 0x200]) == b"\x55\xaa" else None
        return -1

    def unpack(self, u, node, src, depth):
        if bytes(src.view(0x202, 0x206)) != b"HdrS":
            node.meta["kind"] = "arm64 Image" if bytes(src.view(0x38, 0x3C)) == b"ARM\x64" else "ARM zImage"
            return src.size
        node.meta["kind"] = "x86 bzImage"
        proto = struct.unpack("<H", src.buf[src.off + 0x206: src.off + 0x208])[0]
        vptr = struct.unpack("<H", src.buf[src.off + 0x20E: src.off + 0x210])[0] + 0x200
        node.meta["boot_protocol"] = f"{proto >> 8}.{proto & 0xFF}"
        if vptr < src.size:
            raw = bytes(src.view(vptr, vptr + 256)).split(b"\0", 1)[0]
            node.meta["version_string"] = raw.decode("ascii", "replace")
        return src.size


@register
class ElfHandler(Handler):
    name = "elf"
    magics = [(b"\x7fELF", 0)]
    carve = False
    sniff = False
    leaf = True

    def probe(self, buf, off, end):
        return -1 if buf[off + 4] in (1, 2) else None
