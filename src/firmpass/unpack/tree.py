"""The safe tree writer: every filesystem's or archive's content is written under its own directory
and nowhere else (`SafeTree`), with the names normalised first (`clean_path`)."""
from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from firmpass.model import ContainerNode

if TYPE_CHECKING:
    from firmpass.unpack.engine import Unpacker

ZEROS = bytes(1 << 20)  # a content chunk equal to this is written as a hole (sparse output file)


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


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
        # as strings, computed once: a Path join and os.path.relpath per entry cost more than the
        # system calls of a small archive member
        self._root = str(root)
        self._prefix = os.path.relpath(root, u.out)
        self.dirs: set[str] = {""}
        self.files: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self.unwritten: list[str] = []  # regular files whose content could not be written (warned in finish)
        self.lock = threading.Lock()

    def rel(self, path: str) -> str:
        """disk path relative to the output dir"""
        if not path:
            return self._prefix
        return path if self._prefix == "." else f"{self._prefix}/{path}"  # path is clean_path's: no '..', no '//'

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
            p = os.path.join(self._root, path)
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
        p = os.path.join(self._root, path)
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
        try:  # straight to the descriptor: the chunks are large (a buffered writer only copied them)
            if isinstance(chunks, (bytes, bytearray, memoryview)):
                chunks = (chunks,)
            hole = False
            for c in chunks:
                self.u.account(len(c))
                if len(c) == len(ZEROS) and c == ZEROS:  # a whole chunk of zeros: leave a hole
                    os.lseek(fd, len(c), os.SEEK_CUR)
                    hole = True
                else:
                    _write_all(fd, c)
                    hole = False
            if hole:
                os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(p)
            raise
        finally:
            os.close(fd)
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

