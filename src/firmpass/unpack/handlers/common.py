"""Shared by the handlers: FileEntry construction, part budgets, content streaming."""
from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from firmpass.errors import LimitExceeded
from firmpass.model import ContainerNode, FileEntry
from firmpass.unpack.engine import Src, StreamLimit, clean_path

CHUNK = 1 << 16
OUT_CHUNK = 1 << 20


def ftype(mode: int) -> str:
    return {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chardev",
            stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}.get(stat.S_IFMT(mode), "file")


def entry(path: str, mode: int, uid: int, gid: int, size: int = 0, link: str | None = None,
          dev: tuple[int, int] | None = None, typ: str | None = None) -> FileEntry:
    t = typ or ftype(mode)
    if link:  # a target that is not UTF-8 is recorded with \xNN escapes (the link on disk keeps its bytes)
        link = link.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return FileEntry(path="/" + path, container="", type=t, size=size if t in ("file", "hardlink") else 0,
                     mode=stat.S_IMODE(mode), uid=uid, gid=gid, link_target=link,
                     device=dev if t in ("chardev", "blockdev") else None)


def fs_guard(u, node: ContainerNode, src: Src, produced: int) -> None:
    """A filesystem or archive may not expand more than max_ratio times its own size (1 MiB floor)."""
    u.stream_guard(src.size, produced, u.part_name(node))


def part_cap(u, src: Src) -> int:
    """What one part may expand to: max_ratio times its size, with a 1 MiB floor (as stream_guard)."""
    return int(max(1 << 20, u.lim.max_ratio * max(src.size, 1)))


class MemberTooLarge(Exception):
    """One archive member grew past the per-file limit: that member is dropped, the archive goes on."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class ReadFailed(Exception):
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
                raise ReadFailed(f"{type(ex).__name__}: {ex}") from None
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
        not_extracted(self.u, self.node, self.rejected, self.cap)


def not_extracted(u, node: ContainerNode, items: list[tuple[str, int]], cap: int, more: str = "") -> None:
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


# ------------------------------------------------------------------------------ shared filesystem walk
def linux_dev(v: int) -> tuple[int, int]:
    """(major, minor) of a Linux dev_t as filesystems store it (new_encode_dev: 12-bit major, 20-bit minor)."""
    return (v & 0xFFF00) >> 8, (v & 0xFF) | ((v >> 12) & 0xFFF00)


@dataclass
class Item:
    """One directory entry as a filesystem reader lists it (see walk_fs)."""

    name: str  # as stored; a reader decodes bytes with surrogateescape so no name is lost
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    key: Hashable = None  # the inode's identity: a directory listed twice is walked once, a file twice is a hard link
    link: str | None = None
    dev: tuple[int, int] | None = None
    ref: Any = None  # the reader's own handle, given back to children() and content()


class FsReader:
    """What walk_fs needs from one filesystem format: the root's handle, a directory's entries and a
    regular file's content as chunks (any size; walk_fs cuts them at the declared size and counts
    them against the part's budget).  content() may be called from several threads when walk_fs is
    given threads > 1, so a reader that keeps state per file handle must keep it per thread."""

    hardlinks = True  # a file key seen before is written as a hard link to the first path

    def root(self) -> Any:
        raise NotImplementedError

    def children(self, ref: Any) -> Iterable[Item]:
        raise NotImplementedError

    def content(self, item: Item) -> Iterable[bytes]:
        raise NotImplementedError


def walk_fs(u, node: ContainerNode, src: Src, depth: int, reader: FsReader, threads: int = 1) -> None:
    """The one directory walk of every filesystem handler (squashfs, ext, JFFS2, and the readers added
    after them): entries with the metadata stored in the image, symlinks kept verbatim, directories
    walked once per inode (a hostile image may loop), hard links, content streamed through the
    part's budget (PartContent), a corrupt file or directory spoiling only itself, and a global limit
    keeping what was already listed and read.  Publishes the entries with u.add_fs."""
    _FsWalk(u, node, src, depth, reader).run(threads)


class _FsWalk:
    """The state of one walk_fs: what was listed, which files to write, hard links, what failed."""

    def __init__(self, u, node: ContainerNode, src: Src, depth: int, reader: FsReader):
        self.u, self.node, self.depth, self.reader = u, node, depth, reader
        self.tree = u.tree(node)
        self.entries: list[FileEntry] = []
        self.files: dict[str, tuple[FileEntry, Item]] = {}  # one writer per path: the last listing of a name wins
        self.links: list[tuple[FileEntry, str, Hashable]] = []
        self.first: dict[Hashable, str] = {}
        self.bad: list[str] = []
        self.budget = PartContent(u, node, src)
        self.stopped: LimitExceeded | None = None
        self.stack: list[tuple[object, str]] = [(reader.root(), "")]
        self.seen: set = set()

    def run(self, threads: int) -> None:
        u = self.u
        try:
            while self.stack and self.stopped is None:
                ref, drel = self.stack.pop()
                listing = self._listing(ref, drel)
                for it in listing or ():
                    if not self._take(it, drel):
                        break
            _write_files(u, self.tree, self.reader, list(self.files.items()), self.budget, self.bad, threads)
        except LimitExceeded:  # keep what was read: metadata of every entry, content so far
            self.budget.report()
            self._publish(nested=False)
            raise
        self._finish()

    def _listing(self, ref, drel: str) -> list[Item] | None:
        """One directory's entries, or None when it cannot be read (noted in `bad`)."""
        try:
            listing = []
            for it in self.reader.children(ref):  # a directory of millions of entries stops at --timeout
                listing.append(it)
                if len(listing) & 1023 == 0:
                    self.u.check_time()
            return listing
        except (LimitExceeded, StreamLimit):
            raise
        except Exception as ex:  # noqa: BLE001 - a corrupt directory spoils itself, not the image
            self.bad.append(f"/{drel}: {type(ex).__name__}: {ex}")
            return None

    def _take(self, it: Item, drel: str) -> bool:
        """Record one listed entry; False once the file-count limit stops the walk."""
        rel = clean_path(f"{drel}/{it.name}")
        if not rel:
            return True
        try:
            self.u.count_file()
        except LimitExceeded as ex:  # what was listed is still read
            self.stopped = ex
            return False
        t = ftype(it.mode)
        e = entry(rel, it.mode, it.uid, it.gid, it.size, it.link if t == "symlink" else None,
                  it.dev if t in ("chardev", "blockdev") else None)
        self.entries.append(e)
        if t == "symlink":
            self.tree.symlink(rel, it.link or "")
        elif t == "dir":
            k = it.key if it.key is not None else ("dir", rel)
            if k not in self.seen:
                self.seen.add(k)
                self.tree.mkdir(rel)
                self.stack.append((it.ref, rel))
        elif t == "file":
            if self.reader.hardlinks and it.key is not None:
                if it.key in self.first:
                    self.links.append((e, rel, it.key))
                    return True
                self.first[it.key] = rel
            self.files[rel] = (e, it)
        return True

    def _finish(self) -> None:
        """Hard links, the part's budget and unreadable-file reports, then publish (or re-raise the limit)."""
        u, node, files = self.u, self.node, self.files
        for e, rel, key in self.links:
            first = self.first[key]
            e.disk_path = self.tree.hardlink(rel, first) if first in files and files[first][0].disk_path else None
        self.budget.report()
        if self.bad:
            node.status = "partial"
            self.bad.sort()  # threads finish in any order: name the same file on every run
            node.meta["unreadable"] = self.bad[:50]
            u.warn("files_unreadable", node, part=u.part_name(node), count=len(self.bad), first=self.bad[0][:200])
        if self.stopped is not None:
            node.status = "partial"
            self._publish(nested=False)
            raise self.stopped
        self._publish()

    def _publish(self, nested: bool = True) -> None:
        entries = sorted(self.entries, key=lambda e: e.path)
        if nested:
            self.u.add_fs(self.node, self.tree, entries, self.depth)
        else:
            self.u.add_fs(self.node, self.tree, entries, self.depth, nested=False)


def _write_files(u, tree, reader: FsReader, files: list, budget: PartContent, bad: list[str], threads: int) -> None:
    """Admit files smallest first (an implausibly large one is what gets refused, not the many small
    ones), then write them largest first, on `threads` threads when the reader's codecs release the GIL."""
    files.sort(key=lambda f: (f[1][0].size, f[0]))
    files = [f for f in files if budget.admit(f[1][0])]
    files.sort(key=lambda f: -f[1][0].size)
    stop = threading.Event()

    def one(rel: str, e: FileEntry, it: Item) -> None:
        if stop.is_set():
            return
        try:
            # per file, not only per block: tens of thousands of empty files write no block at all (an
            # ext4 directory of 50,000 of them ran 28 s past --timeout 30)
            u.check_time()
            e.disk_path = tree.write(rel, budget.chunks(reader.content(it), e.size))
        except (LimitExceeded, StreamLimit):
            stop.set()
            raise
        except ReadFailed as ex:
            bad.append(f"{e.path}: {ex}")
        except Exception as ex:  # noqa: BLE001 - opening a corrupt inode spoils one file
            bad.append(f"{e.path}: {type(ex).__name__}: {ex}")
        except BaseException:
            stop.set()
            raise

    if threads <= 1 or len(files) < 2:
        for rel, (e, it) in files:
            one(rel, e, it)
        return
    with ThreadPoolExecutor(threads) as ex:
        futures = [ex.submit(one, rel, e, it) for rel, (e, it) in files]
        try:
            for f in futures:
                f.result()
        except BaseException:
            stop.set()
            for f in futures:
                f.cancel()
            raise
