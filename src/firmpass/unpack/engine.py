"""The unpacking engine: budget, identification, recursion, and the helpers handlers call.

Handlers (firmpass.unpack.handlers, one module per format family) know one format each; this module decides which handler runs on
which bytes, where its output goes, and enforces the limits.  Its pieces: firmpass.unpack.source (the
bytes a handler reads), .tree (the safe writer), .handler (the handler API and magic tables) and
.carving (parts found by signature); the names handlers import from here are kept here.
"""
from __future__ import annotations

import mmap
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from firmpass.outdir import UNPACKED_MARKER as MARKER  # OUT/unpacked/ belongs to the output directory
from firmpass.outdir import firmpass_findings as _firmpass_findings
from firmpass.outdir import remove_tree
from firmpass.errors import LimitExceeded
from firmpass.i18n import msg
from firmpass.model import ContainerNode, FileEntry, Text
from firmpass.unpack.carving import CARVE_WINDOW, _pad_len, carve  # noqa: F401 - re-exported
from firmpass.unpack.handler import (  # noqa: F401 - re-exported: handlers import these from here
    REGISTRY,
    Handler,
    PartError,
    StreamLimit,
    candidates,
    kind_of,
    register,
    signatures,
    sniff_table,
)
from firmpass.unpack.source import Src, Window, _mapped  # noqa: F401 - re-exported
from firmpass.unpack.tree import ZEROS, SafeTree, clean_path  # noqa: F401 - re-exported

STAGE = "unpack"
BLOBS = "unpacked/blobs"
# a file of an archive named like a firmware image, at most one folder deep (a vendor download, not a rootfs
# tarball's /lib/firmware): warned about when no handler opens it (Unpacker.nested)
IMAGE_NAME = re.compile(r"\.(?:img|bin|trx|chk|fw|rom|ubi|ubifs|sqfs|squashfs|itb|uimage|pkg|upg)$", re.I)
UNOPENED_MIN = 64 << 10


def _free_name(d: Path, stem: str) -> Path:
    """d/<stem>.bin, or d/<stem>.<n>.bin when that name is taken: one blob never replaces another's
    bytes (B11: a blob renamed after its format once overwrote a part already named so, and
    findings.json then recorded the wrong sha256)."""
    p = d / f"{stem}.bin"
    n = 1
    while os.path.lexists(p):
        p = d / f"{stem}.{n}.bin"
        n += 1
    return p


class Unpacker:
    def __init__(self, ctx):
        self.ctx = ctx
        self.out: Path = ctx.out
        self.lim = ctx.options.limits
        self.t0 = getattr(ctx, "started", None) or time.monotonic()  # one deadline for the whole scan
        self.written = 0
        self.nfiles = 0
        self.nodes: list[ContainerNode] = ctx.result.image.container_chain
        self.by_id: dict[str, ContainerNode] = {}
        self._kids: dict[str, int] = {}
        self.lock = threading.Lock()
        self.limit_hit: LimitExceeded | None = None
        self.failures: dict[str, str] = {}

    # ------------------------------------------------------------------ limits
    def limit(self, detail: "Text | str", option: str) -> LimitExceeded:
        return LimitExceeded("err.limit", detail=detail, option=option)

    def account(self, n: int) -> None:
        with self.lock:
            self.written += n
            w = self.written
        if w > self.lim.max_total_bytes:
            raise self.limit(Text(en=f"more than {self.lim.max_total_bytes} bytes unpacked",
                                  zh=f"解包数据超过 {self.lim.max_total_bytes} 字节"), "--max-size")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() - self.t0 > self.lim.max_seconds:
            raise self.limit(Text(en=f"unpacking took more than {self.lim.max_seconds:g} s",
                                  zh=f"解包耗时超过 {self.lim.max_seconds:g} 秒"), "--timeout")

    def count_file(self, n: int = 1) -> None:
        self.nfiles += n
        if self.nfiles & 1023 == 0:  # an archive of a million empty entries writes nothing: time bounds it (B8)
            self.check_time()
        if self.nfiles > self.lim.max_files:
            raise self.limit(Text(en=f"more than {self.lim.max_files} files", zh=f"文件数超过 {self.lim.max_files} 个"),
                             "--max-files")

    def stream_guard(self, consumed: int, produced: int, what: str, one_output: bool = True) -> None:
        """Per-stream bounds: expansion ratio (with a 1 MiB floor) and, when the stream is one output
        (a compressed file, not an archive of many files), the size of one output."""
        if one_output and produced > self.lim.max_file_bytes:
            raise StreamLimit(f"{what}: output larger than {self.lim.max_file_bytes} bytes", "--max-file-size",
                              zh=f"{what}：输出超过 {self.lim.max_file_bytes} 字节")
        if produced > (1 << 20) and produced > self.lim.max_ratio * max(consumed, 1):
            raise StreamLimit(f"{what}: expands more than {self.lim.max_ratio:g} times "
                              f"({consumed} -> {produced}+ bytes)", "--max-ratio",
                              zh=f"{what}：展开倍数超过 {self.lim.max_ratio:g}（{consumed} -> {produced}+ 字节）")
        self.check_time()

    # ------------------------------------------------------------------ nodes
    def new_node(self, parent: ContainerNode | None, fmt: str, offset: int = 0, size: int = 0, **kw) -> ContainerNode:
        if parent is None:
            nid = "0"
        else:
            k = self._kids.get(parent.id, 0) + 1
            self._kids[parent.id] = k
            nid = f"{parent.id}.{k}"
        node = ContainerNode(id=nid, parent=parent.id if parent else None, format=fmt, offset=offset, size=size, **kw)
        self.nodes.append(node)
        self.by_id[nid] = node
        return node

    def chain(self, node: ContainerNode) -> list[str]:
        out = []
        n: ContainerNode | None = node
        while n is not None:
            out.append(n.format)
            n = self.by_id.get(n.parent) if n.parent else None
        return out[::-1]

    def blob_file(self, node: ContainerNode, fmt: str | None = None) -> Path:
        d = self.out / BLOBS
        d.mkdir(parents=True, exist_ok=True)
        return _free_name(d, f"{node.id}.{fmt or node.format}")

    def tree(self, node: ContainerNode) -> SafeTree:
        root = self.out / "unpacked" / f"{node.id}.{node.format}"
        node.extracted_to = os.path.relpath(root, self.out)
        return SafeTree(self, root, node)

    def reset_output(self) -> None:
        """Remove what an earlier run left in OUT/unpacked, so this run starts from an empty tree (stale
        files would otherwise be reported, and stale symlinks would make writes refuse to go through
        them).  Never follows a link: a symlink or file named `unpacked` is unlinked, a directory is
        removed by remove_tree, which unlinks the symlinks inside instead of descending into them."""
        from firmpass.errors import UnusableInput

        top = self.out / "unpacked"
        try:
            st = os.lstat(top)
        except FileNotFoundError:
            st = None
        try:
            if st is not None and stat.S_ISDIR(st.st_mode):
                here = top.resolve()
                opts = self.ctx.options
                inputs = [self.ctx.image, opts.profile_path, *opts.vex_files, opts.decisions_file,
                          opts.db_path if opts.db_path and "://" not in str(opts.db_path) else None]
                for p in inputs:
                    if p is not None and Path(p).resolve().is_relative_to(here):
                        raise UnusableInput("err.image_in_output", path=str(p), out=str(top))
                ours = (top / MARKER).is_file() or _firmpass_findings(self.out / "findings.json")
                if not ours and any(os.scandir(top)):  # never delete a directory firmpass did not make
                    raise UnusableInput("err.out_not_ours", path=str(top))

                remove_tree(top)  # never follows links, no recursion (a tree thousands deep)
            elif st is not None:
                os.unlink(top)
            top.mkdir(parents=True, exist_ok=True)
            (top / MARKER).write_text("made by firmpass: removed and rebuilt on every run into this directory\n")
        except OSError as e:
            raise UnusableInput("err.out_dir", path=str(top), detail=e.strerror or str(e)) from None

    def warn(self, code: str, node: ContainerNode | None, **kw) -> None:
        self.ctx.warn(STAGE, code, msg(f"unpack.{code}", **kw), part=node.id if node else None)

    def part_name(self, node: ContainerNode) -> str:
        where = f" ({node.source_path})" if node.source_path else ""
        return f"{node.format} part {node.id} at offset {node.offset:#x}{where}"

    # ------------------------------------------------------------------ identification
    def identify(self, buf, end: int, kind: str = "carve") -> tuple[Handler | None, int | None]:
        """The handler whose format starts at offset 0 of buf[:end] (strongest first)."""
        head_len, rows, _pre = sniff_table(kind)
        return self._identify(buf, bytes(buf[:min(end, head_len)]), end, rows)

    @staticmethod
    def _identify(buf, head: bytes, end: int, rows) -> tuple[Handler | None, int | None]:
        """identify() with buf's leading bytes already read: the magics are compared on them (one
        copy, not one slice of the mapping per magic), a handler probes only when its magic is there."""
        for h, magic, moff in rows:
            if moff + len(magic) <= end and head.startswith(magic, moff):
                try:
                    size = h.probe(buf, 0, end)
                except Exception:  # noqa: BLE001 - a probe failing means "not this format"
                    size = None
                if size is not None:
                    return h, size
        return None, None

    # ------------------------------------------------------------------ recursion
    def open_file(self, node: ContainerNode, path: Path, depth: int, carve: bool, kind: str = "carve",
                  known: Handler | None = None) -> None:
        """Identify and unpack the file `path` as `node`: as one format when one starts at offset 0 and
        covers it, else (carve=True) by carving every part found by signature."""
        if depth > self.lim.max_depth:
            node.status = "skipped"
            self.warn("depth", node, part=self.part_name(node), depth=self.lim.max_depth)
            return
        self.check_time()
        size = path.stat().st_size
        node.size = node.size or size
        if size == 0:
            node.format = "empty" if node.format in ("data", "?") else node.format
            return
        with open(path, "rb") as fh, _mapped(fh) as mm:
            h, psize = (known, known.probe(mm, 0, size)) if known else self.identify(mm, size, kind)
            if h is not None and psize is not None and (psize < 0 or psize >= size - _pad_len(mm, psize, size)
                                                         or not carve):
                node.format = h.name
                path = self._rename_blob(node, path)
                consumed = self.run(h, node, Src(path, mm, 0, size), depth)
                if carve and consumed and consumed < size and consumed + _pad_len(mm, consumed, size) < size:
                    self.carve(node, Src(path, mm, 0, size), consumed, depth)
                return
            if not carve:
                return
            found = self.carve(node, Src(path, mm, 0, size), 0, depth)
            if found:
                first = min((n.offset for n in self.nodes if n.parent == node.id), default=0)
                if node.format in ("data", "?"):
                    node.format = "vendor-header" if first > 0 else "concat"

    def _rename_blob(self, node: ContainerNode, path: Path) -> Path:
        """Blobs written before their format was known are named <id>.bin; give them the format."""
        if node.blob and node.blob.endswith(f"/{node.id}.bin") and path.name == f"{node.id}.bin":
            new = _free_name(path.parent, f"{node.id}.{node.format}")
            os.rename(path, new)  # to a name no other blob has (B11: never over another part's bytes)
            node.blob = os.path.relpath(new, self.out)
            return new
        return path

    def run(self, h: Handler, node: ContainerNode, src: Src, depth: int) -> int:
        """Run one handler, turning its failures into a warning that names the part."""
        if h.leaf:
            try:
                return h.unpack(self, node, src, depth)
            except Exception:  # noqa: BLE001
                return src.size
        try:
            return h.unpack(self, node, src, depth)
        except LimitExceeded:
            node.status = "partial"
            raise
        except StreamLimit as e:
            node.status = "failed"
            node.meta["limit"] = e.detail
            node.meta["limit_zh"] = e.text.zh
            node.meta["limit_option"] = e.option
            self.warn("limit", node, part=self.part_name(node), detail=e.text, option=e.option)
            self.failures[node.id] = "limit"
            return src.size
        except (PartError, Exception) as e:  # noqa: BLE001 - hostile input: one part's failure is a warning
            from firmpass.i18n import clean_detail

            detail = clean_detail(str(e)) or type(e).__name__  # one line, no heap addresses
            node.status = "partial" if node.status == "partial" else "failed"
            node.meta.setdefault("error", detail[:300])
            self.warn("corrupt_part", node, part=self.part_name(node), detail=detail[:300])
            self.failures[node.id] = detail[:300]
            return src.size

    def carve(self, parent: ContainerNode, src: Src, start: int, depth: int) -> int:
        """Find parts by signature in src[start:], unpack each as a child of parent; returns their count
        (firmpass.unpack.carving)."""
        return carve(self, parent, src, start, depth)

    # ------------------------------------------------------------------ helpers for handlers
    def child_blob(self, parent: ContainerNode, depth: int, data_writer: Callable[[object], None] | bytes,
                   offset: int = 0, fmt: str = "data", carve: bool = True, **kw) -> ContainerNode:
        """A payload of `parent` (decompressed stream, uImage/FIT/TRX part): written to
        unpacked/blobs/<id>.bin, then identified and unpacked in turn."""
        child = self.new_node(parent, fmt, offset=offset, **kw)
        bp = self.blob_file(child, fmt)
        if fmt == "data":  # named after its format once identified (see _rename_blob)
            bp = _free_name(bp.parent, child.id)
        try:
            with open(bp, "wb") as fh:
                if isinstance(data_writer, (bytes, bytearray, memoryview)):
                    self.account(len(data_writer))
                    fh.write(data_writer)
                else:
                    data_writer(fh)
        except StreamLimit:  # a bomb: drop its partial output, the parent records the limit
            bp.unlink(missing_ok=True)
            self.nodes.remove(child)
            del self.by_id[child.id]
            raise
        child.blob = os.path.relpath(bp, self.out)
        child.size = bp.stat().st_size
        self.open_file(child, bp, depth + 1, carve=carve)
        return child

    def add_fs(self, node: ContainerNode, tree: SafeTree, entries: list[FileEntry], depth: int,
               nested: bool = True) -> None:
        """Publish a filesystem's entries, then open the container files found inside it."""
        tree.finish()
        chain = self.chain(node)
        for e in entries:
            e.container = node.id
            e.chain = chain
        self.ctx.result.files.extend(entries)
        node.meta["files"] = len(entries)
        if nested:
            self.nested(node, entries, depth)

    def nested(self, node: ContainerNode, entries: list[FileEntry], depth: int) -> None:
        unopened: list[FileEntry] = []
        table = sniff_table("sniff")
        for e in entries:
            if e.type != "file" or e.disk_path is None or e.size < 32:
                continue
            p = self.out / e.disk_path
            try:
                h = self._sniff(p, table)
            except (OSError, ValueError):
                continue
            if (h is None and kind_of(node.format) == "archive" and e.size >= UNOPENED_MIN and IMAGE_NAME.search(e.path)
                    and e.path.count("/") <= 2):  # a download's images, not the firmware files of a rootfs tarball
                unopened.append(e)
            if h is None or h.leaf:
                continue
            child = self.new_node(node, h.name, source_path=e.path, blob=e.disk_path, size=e.size)
            self.open_file(child, p, depth + 1, carve=False, kind="sniff")
        if unopened:
            self.unopened_parts(node, unopened)

    def _sniff(self, p: Path, table) -> Handler | None:
        """The handler of an extracted file, by its leading bytes (read with one pread); the file is
        mapped for the probe only when some magic is there (most files of a rootfs hold none)."""
        head_len, rows, by_offset = table
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            head = os.pread(fd, head_len, 0)
            size = os.fstat(fd).st_size
            if not any(head.startswith(magics, moff) for moff, magics in by_offset):
                return None
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mm:
                return self._identify(mm, head, size, rows)[0]
        finally:
            os.close(fd)

    def unopened_parts(self, node: ContainerNode, items: list[FileEntry]) -> None:
        """Files of an archive named like firmware images (a vendor download holding .img / .bin files) that
        no handler opens: each becomes a "data" part (identify scans its strings) with its likely cause,
        and one warning per archive names them."""
        from firmpass.unpack import blob

        en, zh = [], []
        for e in items[:50]:
            try:
                cause = blob.likely_cause(blob.entropy_profile(self.out / e.disk_path))
            except OSError:
                continue
            self.new_node(node, "data", source_path=e.path, blob=e.disk_path, size=e.size,
                          meta={"opened": False, "likely_cause": cause})
            short = blob.SHORT[cause]
            en.append(f"{e.path} ({short.en})")
            zh.append(f"{e.path}（{short.zh}）")
        if en:
            more = ", ..." if len(en) > 5 else ""
            self.warn("parts_not_opened", node, part=self.part_name(node), count=len(en),
                      files=Text(en=", ".join(en[:5]) + more, zh="，".join(zh[:5]) + more))
