"""The unpacking engine: budget, safe tree writer, identification, carving and recursion.

Handlers (firmpass.unpack.handlers, one module per format family) know one format each; this module decides which handler runs on
which bytes, where its output goes, and enforces the limits.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import posixpath
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from firmpass.outdir import UNPACKED_MARKER as MARKER  # OUT/unpacked/ belongs to the output directory
from firmpass.outdir import firmpass_findings as _firmpass_findings
from firmpass.outdir import remove_tree
from firmpass.errors import LimitExceeded
from firmpass.i18n import msg
from firmpass.model import ContainerNode, FileEntry, Text

STAGE = "unpack"
BLOBS = "unpacked/blobs"
ZEROS = bytes(1 << 20)  # a content chunk equal to this is written as a hole (sparse output file)
# a file of an archive named like a firmware image, at most one folder deep (a vendor download, not a rootfs
# tarball's /lib/firmware): warned about when no handler opens it (Unpacker.nested)
IMAGE_NAME = re.compile(r"\.(?:img|bin|trx|chk|fw|rom|ubi|ubifs|sqfs|squashfs|itb|uimage|pkg|upg)$", re.I)
UNOPENED_MIN = 64 << 10


class PartError(Exception):
    """A corrupt / truncated / unsupported part: warn, keep going with the rest."""


class StreamLimit(Exception):
    """A per-stream limit (expansion ratio, size of one file) was hit: that part stops."""

    def __init__(self, detail: str, option: str, zh: str | None = None):
        super().__init__(detail)
        self.detail, self.option = detail, option
        self.text = Text(en=detail, zh=zh or detail)


# ---------------------------------------------------------------------------------- byte sources
@contextlib.contextmanager
def _mapped(fh):
    """A read-only mmap of `fh`, closed on the way out.  When a limit or an error propagates while
    a handler's frames (held by the traceback) still export views of the map, close() raises
    BufferError and would replace the real error: the map is then left to be freed with those
    frames, and the real error goes on."""
    mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        yield mm
    finally:
        try:
            mm.close()
        except BufferError:
            pass


class Window:
    """A read-only file object over [off, end) of a buffer (mmap or bytes): lets libraries that want a
    file handle read a carved part in place, without copying it."""

    def __init__(self, buf, off: int, end: int):
        self.buf, self.off, self.end, self.pos = buf, off, end, 0

    def read(self, n: int = -1) -> bytes:
        size = self.end - self.off
        if self.pos >= size:
            return b""
        stop = size if n is None or n < 0 else min(size, self.pos + n)
        data = self.buf[self.off + self.pos: self.off + stop]
        self.pos = stop
        return bytes(data)

    def readinto(self, b) -> int:
        d = self.read(len(b))
        b[: len(d)] = d
        return len(d)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence == 2:
            pos += self.end - self.off
        self.pos = max(0, pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        pass


@dataclass
class Src:
    """The bytes a handler works on: [off, end) of `buf`, which is the file `path` mapped."""

    path: Path
    buf: object
    off: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.off

    def view(self, start: int = 0, stop: int | None = None):
        stop = self.size if stop is None else min(stop, self.size)
        return memoryview(self.buf)[self.off + start: self.off + stop]

    def window(self) -> Window:
        return Window(self.buf, self.off, self.end)


# ---------------------------------------------------------------------------------- safe writer
def clean_path(name: str | bytes) -> str:
    """The path inside a filesystem, normalised: '..' cannot climb above the root, no empty or '.'
    parts, no NUL, each part at most 255 bytes.  Returns '' for the root itself.  A name given as
    bytes (libarchive hands over names it could not decode) is decoded with surrogateescape, so no
    name is lost; readable_name() makes it text later.  Linear in the length of the name."""
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("utf-8", "surrogateescape")
    parts: list[str] = []
    for c in name.replace("\\", "/").split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if parts:
                parts.pop()
            continue
        c = c.replace("\0", "")
        if len(c) > 255:
            c = c[:255]  # a UTF-8 char is at least one byte: never more than 255 chars
        while len(c.encode("utf-8", "surrogateescape")) > 255:  # at most ~190 rounds on <= 1020 bytes
            c = c[:-1]
        parts.append(c)
    return "/".join(parts)


class SafeTree:
    """Writes a filesystem's content under one directory and nowhere else.

    Every parent directory is one this object created (tracked in `dirs`), files are opened with
    O_NOFOLLOW|O_CREAT, and symlinks are only made by `finish()` after all content is written, with
    their target verbatim and never followed; so neither '../' names, absolute names nor symlinks
    or hard links in the image can direct a write outside the root.  Nothing is made executable.
    """

    def __init__(self, u: "Unpacker", root: Path, node: ContainerNode | None = None):
        self.u, self.root, self.node = u, root, node
        root.mkdir(parents=True, exist_ok=True)
        self.dirs: set[str] = {""}
        self.files: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self.unwritten: list[str] = []  # regular files whose content could not be written (warned in finish)
        self.lock = threading.Lock()

    def rel(self, path: str) -> str:
        """disk path relative to the output dir"""
        return os.path.relpath(self.root / path, self.u.out) if path else os.path.relpath(self.root, self.u.out)

    def mkdir(self, path: str) -> bool:
        """Make `path` and its missing parents, top down.  A loop, not recursion: a name with
        thousands of components (B6) must not raise RecursionError and drop the archive."""
        todo: list[str] = []
        while path not in self.dirs:
            todo.append(path)
            path = posixpath.dirname(path)
        for path in reversed(todo):
            if path in self.files:
                return False
            p = self.root / path
            try:
                os.mkdir(p, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(p).st_mode):
                    return False
            except OSError:  # name too long, too deep ...: that entry is skipped, not the filesystem
                return False
            with self.lock:
                self.dirs.add(path)
        return True

    def write(self, path: str, chunks: Iterable[bytes] | bytes) -> str | None:
        """Write a regular file from one buffer or an iterable of chunks (streamed: each chunk is
        accounted against the total budget, then written, so a large file never sits whole in memory).
        Returns its disk path relative to the output dir, or None when it cannot be written (a name
        conflict, e.g. a file whose parent is a file, or something not a regular file in the way);
        those are counted and warned about once per tree by finish().  If the chunks raise (a limit, a
        read error), the partial file is removed and the exception propagates."""
        p = self.root / path
        fd = None
        if path and path not in self.dirs and self.mkdir(posixpath.dirname(path)):
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            try:
                fd = os.open(p, flags, 0o644)
            except FileExistsError:
                # a regular file of the same name earlier in this image (never a link or a dir): its
                # name is replaced, not its inode, so a hard link to it cannot be written through
                try:
                    if stat.S_ISREG(os.lstat(p).st_mode):
                        os.unlink(p)
                        fd = os.open(p, flags, 0o644)
                except OSError:
                    fd = None
            except OSError:
                fd = None
        if fd is None:
            with self.lock:
                self.unwritten.append(path or "/")
            return None
        try:
            with os.fdopen(fd, "wb") as fh:
                if isinstance(chunks, (bytes, bytearray, memoryview)):
                    chunks = (chunks,)
                hole = False
                for c in chunks:
                    self.u.account(len(c))
                    if len(c) == len(ZEROS) and c == ZEROS:  # a whole chunk of zeros: leave a hole
                        fh.seek(len(c), os.SEEK_CUR)
                        hole = True
                    else:
                        fh.write(c)
                        hole = False
                if hole:
                    fh.truncate()
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(p)
            raise
        with self.lock:
            self.files.add(path)
        return self.rel(path)

    def hardlink(self, path: str, target: str) -> str | None:
        """A hard link inside this tree (target already written here), else None."""
        if target not in self.files or not path or path in self.dirs or not self.mkdir(posixpath.dirname(path)):
            return None
        try:
            if os.path.lexists(self.root / path):
                os.unlink(self.root / path)
            os.link(self.root / target, self.root / path, follow_symlinks=False)
        except OSError:
            return None
        self.files.add(path)
        return self.rel(path)

    def symlink(self, path: str, target: str) -> None:
        self.links.append((path, target))

    def finish(self) -> None:
        for path, target in self.links:
            if not path or path in self.dirs or path in self.files:
                continue
            parent = posixpath.dirname(path)
            if parent not in self.dirs:
                continue
            try:
                os.symlink(target.replace("\0", ""), self.root / path)
            except OSError:
                pass
        self.links.clear()
        if self.unwritten:
            names = sorted(self.unwritten)
            self.u.warn("files_unwritten", self.node, part=self.u.part_name(self.node) if self.node else str(self.root),
                        count=len(names), first=", ".join("/" + n.lstrip("/") for n in names[:5])
                        + (", ..." if len(names) > 5 else ""))
            if self.node is not None and self.node.status == "ok":
                self.node.status = "partial"
            self.unwritten.clear()


# ---------------------------------------------------------------------------------- handler API
class Handler:
    """One format.  `magics`: (bytes, offset of the magic from the start of the format).
    carve: found by the signature scan inside a blob; sniff: recognised at offset 0 of a file inside
    a filesystem.  probe() returns the part's size, -1 when only unpacking tells (streams), or None
    when the bytes are not this format."""

    name = "?"
    kind = "container"  # see firmpass.unpack.handlers: boot, kernel, container, filesystem, archive, stream, leaf
    aliases: tuple[str, ...] = ()  # other format names the handler may give its node (ext -> ext2/ext3/ext4)
    magics: list[tuple[bytes, int]] = []
    carve = True
    sniff = True
    leaf = False  # recognised and recorded, nothing inside (kernel, DTB, ELF)

    def probe(self, buf, off: int, end: int) -> int | None:
        raise NotImplementedError

    def unpack(self, u: "Unpacker", node: ContainerNode, src: Src, depth: int) -> int:
        """Unpack the part; returns the bytes consumed (<= src.size)."""
        return src.size


REGISTRY: list[Handler] = []


def register(cls):
    REGISTRY.append(cls())
    return cls


def kind_of(fmt: str | None) -> str | None:
    """The kind of a container node's format (its handler's `kind`), or None for the engine's own
    formats (vendor-header, concat, data, empty) and unknown names."""
    for h in REGISTRY:
        if fmt == h.name or fmt in h.aliases:
            return h.kind
    return None


_sig_cache: dict[str, tuple[re.Pattern, dict[int, list[tuple[bytes, list[tuple[Handler, int]]]]]]] = {}


def signatures(kind: str):
    """A compiled alternation of all magics (C speed over an mmap), and per first byte the magics and
    their handlers.  The alternation has no groups: with one named group per magic Python's regex
    engine tries every branch at every offset (about 1 MB/s); a plain alternation of literals is
    prefiltered by its first bytes (15-20x faster).  The handlers of a hit are found with
    candidates()."""
    if kind not in _sig_cache:
        groups: dict[bytes, list[tuple[Handler, int]]] = {}
        for h in REGISTRY:
            if kind == "carve" and not h.carve:
                continue
            for magic, moff in h.magics:
                groups.setdefault(magic, []).append((h, moff))
        mags = sorted(groups, key=len, reverse=True)
        pat = re.compile(b"|".join(re.escape(m) for m in mags), re.S)
        by_first: dict[int, list[tuple[bytes, list[tuple[Handler, int]]]]] = {}
        for m in mags:
            by_first.setdefault(m[0], []).append((m, groups[m]))
        _sig_cache[kind] = (pat, by_first)
        _sig_magics[kind] = {f"g{i}": m for i, m in enumerate(mags)}
    return _sig_cache[kind]


def candidates(by_first, buf, at: int) -> list[tuple[Handler, int]]:
    """Every (handler, magic offset) whose magic is at `at`, in registry order (a shorter magic that is
    a prefix of the one the regex matched is tried too)."""
    out: list[tuple[Handler, int]] = []
    for magic, hs in by_first.get(buf[at], ()):
        if buf[at: at + len(magic)] == magic:
            out.extend(hs)
    if len(out) > 1:
        out.sort(key=lambda hm: REGISTRY.index(hm[0]))
    return out


_sig_magics: dict[str, dict[str, bytes]] = {}
CARVE_WINDOW = 1 << 20


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


class _MagicHits:
    """The next (offset, group) at or after a position where any magic occurs, found window by
    window with the buffer's own find() (memchr speed; Python's regex alternation of the same
    literals costs about 1 us a byte: 128 MiB of zeros took a minute, uninterruptible).  Between
    windows `check_time` enforces --timeout (B8)."""

    def __init__(self, buf, end: int, magics: dict[str, bytes], check_time):
        self.buf, self.end, self.magics, self.check_time = buf, end, magics, check_time
        self.longest = max((len(m) for m in magics.values()), default=1)
        self.w0 = self.w1 = -1
        self.found: list[tuple[int, str]] = []
        self.i = 0

    def _fill(self, w0: int) -> None:
        self.check_time()
        w1 = min(self.end, w0 + CARVE_WINDOW)
        stop = min(self.end, w1 + self.longest - 1)  # a magic that starts in the window may end past it
        out = []
        for k, (g, mg) in enumerate(self.magics.items()):  # at one offset the first magic wins, as in the regex
            p = self.buf.find(mg, w0, stop)
            while p != -1 and p < w1:
                out.append((p, k, g))
                p = self.buf.find(mg, p + 1, stop)
        out.sort()
        self.w0, self.w1, self.found, self.i = w0, w1, [(p, g) for p, _k, g in out], 0

    def next(self, pos: int) -> tuple[int, str] | None:
        while pos < self.end:
            if not (self.w0 <= pos < self.w1):
                self._fill(pos)
            while self.i < len(self.found) and self.found[self.i][0] < pos:
                self.i += 1
            if self.i < len(self.found):
                return self.found[self.i]
            pos = self.w1
        return None


# ---------------------------------------------------------------------------------- engine
_PAD = re.compile(rb"\x00+|\xff+")  # one-or-more: a starred first branch would match empty before 0xFF


def _pad_len(buf, start: int, end: int) -> int:
    """Length of the 0x00 or 0xFF padding run at [start, end) (erased flash reads 0xFF)."""
    if start >= end:
        return 0
    m = _PAD.match(buf, start, end)
    return m.end() - start if m else 0


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
        for h in REGISTRY:
            if kind == "sniff" and not h.sniff:
                continue
            for magic, moff in h.magics:
                if moff + len(magic) <= end and buf[moff: moff + len(magic)] == magic:
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
        """Find parts by signature in src[start:], unpack each as a child of parent; returns their count.
        A signature scan of our own (each magic found window by window with the mapping's own find(),
        the deadline checked between windows) is used instead of unblob: unblob would
        bring ~40 dependencies and sasquatch for squashfs, while the formats here need only their
        magic and a header check to be sized."""
        pat, groups = signatures("carve")
        buf, end = src.buf, src.end
        pos, found = start, 0
        hits = _MagicHits(buf, end, {g: m for g, m in _sig_magics["carve"].items()}, self.check_time)
        # handlers whose magic is too common to scan for name their own candidate offsets (YAFFS2 in a
        # NAND dump: erase-block boundaries); probed in offset order together with the signature hits
        extra = sorted((o, i, h) for i, h in enumerate(REGISTRY) if hasattr(h, "carve_offsets")
                       for o in h.carve_offsets(buf, src.off, start, end))
        probes = 0
        while pos < end:
            m = hits.next(pos)
            while extra and extra[0][0] < pos:
                extra.pop(0)
            probes += 1
            if probes % 4096 == 0:
                self.check_time()  # a blob full of magics: the deadline holds between probes too
            hit = None
            if extra and (m is None or extra[0][0] <= m[0]):
                off, _, h = extra.pop(0)
                try:
                    size = h.probe(buf, off, end)
                except Exception:  # noqa: BLE001
                    size = None
                if size is None:
                    continue
                hit = (h, off, size)
            elif m is None:
                break
            else:
                for h, moff in candidates(groups, buf, m[0]):
                    off = m[0] - moff
                    if off < pos:
                        continue
                    try:
                        size = h.probe(buf, off, end)
                    except Exception:  # noqa: BLE001
                        size = None
                    if size is not None:
                        hit = (h, off, size)
                        break
                if hit is None:
                    pos = m[0] + 1
                    continue
            h, off, size = hit
            stop = end if size < 0 else min(end, off + size)
            child = self.new_node(parent, h.name, offset=off, size=(stop - off) if size >= 0 else 0)
            found += 1
            if depth + 1 > self.lim.max_depth:
                child.status = "skipped"
                self.warn("depth", child, part=self.part_name(child), depth=self.lim.max_depth)
                pos = stop
                continue
            if size >= 0 and off + size > end:
                self.warn("truncated", child, part=self.part_name(child), size=size, have=end - off)
                child.status = "partial"
            consumed = self.run(h, child, Src(src.path, buf, off, stop), depth + 1)
            consumed = max(1, min(consumed, stop - off))
            child.size = consumed
            if child.blob is None:
                bp = self.blob_file(child)
                self.account(consumed)
                with open(bp, "wb") as fh:
                    fh.write(memoryview(buf)[off: off + consumed])
                child.blob = os.path.relpath(bp, self.out)
            pos = off + consumed
        return found

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
        for e in entries:
            if e.type != "file" or e.disk_path is None or e.size < 32:
                continue
            p = self.out / e.disk_path
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                with os.fdopen(fd, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    h, size = self.identify(mm, len(mm), "sniff")
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
