"""zlib-format inflate for filesystem blocks (squashfs, legacy squashfs) and gzip streams: ISA-L through python-isal when
it is installed (same output as zlib, about twice as fast, and it releases the GIL so the threaded
filesystem walk decompresses on every core), else the standard library's zlib.  Unpacking gzip
squashfs images is mostly inflate: bench/bench_formats.py compares it with unsquashfs."""
from __future__ import annotations

import zlib

try:
    from isal import isal_zlib as _z
except ImportError:  # pragma: no cover - isal is a dependency; zlib gives the same bytes, slower
    _z = zlib

ERRORS: tuple[type[BaseException], ...] = (zlib.error,) if _z is zlib else (zlib.error, _z.error)


def inflate(data: bytes, max_out: int) -> bytes:
    """One zlib stream (2-byte header, deflate, Adler-32), never more than max_out bytes out; a corrupt
    stream raises one of ERRORS."""
    return _z.decompressobj().decompress(data, max_out)


def decompressobj(wbits: int = 15):
    """A streaming decompressor with zlib's interface (decompress(data, max_length), unconsumed_tail,
    unused_data, eof); wbits as zlib's (31: gzip, -15: raw deflate)."""
    return _z.decompressobj(wbits)
