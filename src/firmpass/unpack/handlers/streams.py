"""Compressed streams: gzip, xz, bzip2, zstd, LZMA-alone."""
from __future__ import annotations

import bz2
import lzma
import zlib

from firmpass.errors import LimitExceeded
from firmpass.formats import inflate
from firmpass.unpack.engine import Handler, StreamLimit
from firmpass.unpack.handlers.common import (
    CHUNK,
    OUT_CHUNK,
)

# a gzip header carved after other bytes must decode this far (GzipHandler.probe)
GZIP_PROBE_IN = 64 * 1024
GZIP_PROBE_OUT = 4096


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


class GzipHandler(_Stream):
    name = "gzip"
    kind = "stream"
    magics = [(b"\x1f\x8b\x08", 0)]

    def probe(self, buf, off, end):
        if off + 18 > end or buf[off + 3] & 0xE0:
            return None
        if off == 0:  # the blob starts with it: opened as before (a damaged stream is a corrupt part)
            return -1
        # carved after other bytes: 1f 8b 08 and a valid flag byte turn up about once in 128 MB of
        # ciphertext or other random data (an encrypted image then looked 'opened' through one corrupt
        # part), so, as for LZMA-alone, the first bytes must decode: 4 KiB of output or the whole stream
        d = zlib.decompressobj(31)
        try:
            out = d.decompress(bytes(buf[off: off + min(end - off, GZIP_PROBE_IN)]), GZIP_PROBE_OUT)
        except zlib.error:
            return None
        return -1 if len(out) >= GZIP_PROBE_OUT or d.eof else None

    def decompressor(self):
        return _Z(inflate.decompressobj(31))

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
        return _Z(inflate.decompressobj(-15)), pos

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


class XzHandler(_Stream):
    name = "xz"
    kind = "stream"
    magics = [(b"\xfd7zXZ\x00", 0)]

    def probe(self, buf, off, end):
        return -1

    def decompressor(self):
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)


class Bzip2Handler(_Stream):
    name = "bzip2"
    kind = "stream"
    magics = [(b"BZh", 0)]

    def probe(self, buf, off, end):
        return -1 if off + 10 <= end and 0x31 <= buf[off + 3] <= 0x39 and bytes(buf[off + 4: off + 10]) == b"1AY&SY" else None

    def decompressor(self):
        return bz2.BZ2Decompressor()


class ZstdHandler(_Stream):
    name = "zstd"
    kind = "stream"
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


# LZMA-alone has no magic: a header is 13 bytes (properties, dictionary size, uncompressed size) and
# the range coder's first byte is always 0.  Carving looks for the properties firmware uses (0x5d:
# lc=3 lp=0 pb=2, xz/lzma's default; 0x6d: lc=1 lp=2 pb=2, OpenWrt's and vendor SDKs' kernels) with a
# dictionary of 64 KiB or more (its two low bytes are zero), then checks the rest of the header and
# decodes a little before accepting; everything else about a candidate is checked in Python only on
# those rare hits, so the one regex over the blob stays the cost of carving.
LZMA_PROPS = (0x5D, 0x6D)
LZMA_PROBE_IN = 16 << 10
LZMA_PROBE_OUT = 4 << 10


def lzma_header_ok(h: bytes) -> bool:
    """A plausible LZMA-alone header: properties < 225, a dictionary of 2^n or 2^n + 2^(n-1) bytes
    between 4 KiB and 1 GiB, an uncompressed size unknown (all ones) or below 4 GiB, and the range
    coder's first byte 0."""
    if len(h) < 14 or h[0] >= 225 or h[13] != 0:
        return False
    dic = int.from_bytes(h[1:5], "little")
    if not (1 << 12) <= dic <= (1 << 30):
        return False
    top = dic.bit_length() - 1
    if dic != 1 << top and dic != (1 << top) | (1 << (top - 1)):
        return False
    size = int.from_bytes(h[5:13], "little")
    return size == (1 << 64) - 1 or 0 < size < 1 << 32


class LzmaHandler(_Stream):
    """LZMA-alone (.lzma, uImage comp=lzma, the streams of RTOS and vendor images).  Carved after any
    header only where the header is plausible (lzma_header_ok) and the first bytes decode: at least
    4 KiB of output, or the whole stream when it declares less."""

    name = "lzma"
    kind = "stream"
    magics = [(bytes([p, 0, 0]), 0) for p in LZMA_PROPS]
    sniff = False

    def probe(self, buf, off, end):
        if off + 14 > end:
            return None
        head = bytes(buf[off: off + 14])
        if not lzma_header_ok(head):
            return None
        size = int.from_bytes(head[5:13], "little")
        want = LZMA_PROBE_OUT if size == (1 << 64) - 1 else min(size, LZMA_PROBE_OUT)
        d = lzma.LZMADecompressor(lzma.FORMAT_ALONE)
        try:
            out = d.decompress(bytes(buf[off: off + min(end - off, LZMA_PROBE_IN)]), want)
        except lzma.LZMAError:
            return None
        return -1 if len(out) >= want else None

    def decompressor(self):
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)


class Lz4Handler(_Stream):
    """LZ4 frames (lz4 -> .lz4; magic 04 22 4D 18): version 01 in the flag byte, the reserved bits
    clear, a block size code of 4-7."""

    name = "lz4"
    kind = "stream"
    magics = [(b"\x04\x22\x4d\x18", 0)]

    def probe(self, buf, off, end):
        if off + 7 > end:
            return None
        flg, bd = buf[off + 4], buf[off + 5]
        if flg >> 6 != 1 or flg & 0x02 or bd & 0x8F or not 4 <= (bd >> 4) & 7 <= 7:
            return None
        return -1

    def decompressor(self):
        import lz4.frame

        return lz4.frame.LZ4FrameDecompressor()


class _Lzop:
    """lzop's file format (the layout of lzop 1.0x's header and blocks, as its source documents it):
    magic, version, library version, [version needed], method, [level], flags, [filter], mode,
    mtime, [mtime high], name, header checksum, [extra field]; then blocks of (uncompressed length,
    compressed length, checksums the flags ask for, data), a zero length ending the stream.  The
    blocks are LZO1X, decompressed by lzallright (firmpass.formats.lzo); neither it nor python-lzo
    reads the file format itself, hence this one."""

    F_ADLER32_D, F_ADLER32_C, F_H_EXTRA_FIELD, F_CRC32_D, F_CRC32_C, F_H_FILTER = 0x1, 0x2, 0x40, 0x100, 0x200, 0x800
    MAX_BLOCK = 64 << 20  # lzop writes 256 KiB blocks; liblzo's own limit is far above any real one

    def __init__(self):
        self.flags = None
        self.eof = False
        self.unused_data = b""

    def header(self, view, pos: int) -> int:
        b = bytes(view[pos: pos + 512])
        if b[:9] != LZOP_MAGIC:
            raise ValueError("not an lzop header")
        ver = int.from_bytes(b[9:11], "big")
        p = 13 + (2 if ver >= 0x0940 else 0)
        method = b[p]
        p += 1 + (1 if ver >= 0x0940 else 0)
        if method not in (1, 2, 3):
            raise ValueError(f"lzop method {method} is not LZO1X")
        self.flags = int.from_bytes(b[p: p + 4], "big")
        p += 4
        if self.flags & self.F_H_FILTER:
            p += 4
        p += 8 + (4 if ver >= 0x0940 else 0)  # mode, mtime (low, high)
        p += 1 + b[p] + 4  # name, header checksum
        if self.flags & self.F_H_EXTRA_FIELD:
            p += 4 + int.from_bytes(b[p: p + 4], "big") + 4
        if p > len(b):
            raise ValueError("lzop header truncated")
        return pos + p

    def block(self, view, pos: int):
        from firmpass.formats.lzo import decompress as lzo_decompress

        dst = int.from_bytes(bytes(view[pos: pos + 4]), "big")
        if len(view) < pos + 4:
            raise ValueError("lzop stream truncated")
        if dst == 0:
            self.eof = True
            return b"", pos + 4
        src = int.from_bytes(bytes(view[pos + 4: pos + 8]), "big")
        if dst > self.MAX_BLOCK or src > dst or src == 0:
            raise ValueError(f"lzop block sizes {src} -> {dst} are not plausible")
        p = pos + 8
        p += 4 * (bool(self.flags & self.F_ADLER32_D) + bool(self.flags & self.F_CRC32_D))
        if src < dst:
            p += 4 * (bool(self.flags & self.F_ADLER32_C) + bool(self.flags & self.F_CRC32_C))
        data = bytes(view[p: p + src])
        if len(data) < src:
            raise ValueError("lzop block truncated")
        out = data if src == dst else lzo_decompress(data, dst)
        if len(out) != dst:
            raise ValueError(f"lzop block gives {len(out)} bytes, its header says {dst}")
        return out, p + src


LZOP_MAGIC = b"\x89LZO\x00\r\n\x1a\n"


class LzopHandler(_Stream):
    name = "lzop"
    kind = "stream"
    magics = [(LZOP_MAGIC, 0)]

    def probe(self, buf, off, end):
        try:
            _Lzop().header(memoryview(buf)[off: min(end, off + 512)], 0)
        except (ValueError, IndexError):
            return None
        return -1

    def decompressor(self):
        return _Lzop()

    def step(self, d, view, pos):
        if d.flags is None:
            return b"", d.header(view, pos), False
        out, pos = d.block(view, pos)
        return out, pos, d.eof
