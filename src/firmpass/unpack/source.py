"""Byte sources of the unpack engine: a file mapped read-only (`_mapped`), a part of it as
[off, end) (`Src`), and a file object over such a part (`Window`) for libraries that want one."""
from __future__ import annotations

import contextlib
import mmap
from dataclasses import dataclass
from pathlib import Path


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
