"""Compressed streams: gzip, xz, bzip2, zstd, LZMA-alone."""
from __future__ import annotations

import bz2
import lzma
import zlib

from firmpass.errors import LimitExceeded
from firmpass.unpack.engine import Handler, StreamLimit
from firmpass.unpack.handlers.common import (
    CHUNK,
    OUT_CHUNK,
)


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


class LzmaHandler(_Stream):
    """LZMA-alone (.lzma, uImage comp=lzma): no real magic, so never carved or sniffed; tried only at
    offset 0 of a payload, and accepted only when the first bytes decode."""

    name = "lzma"
    kind = "stream"
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
