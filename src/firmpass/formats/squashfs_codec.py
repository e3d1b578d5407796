"""Block decompression for the legacy and vendor squashfs reader (firmpass.formats.squashfs_legacy):
the codec is chosen per block from its first bytes - zlib, xz, zstd, or LZMA in the three layouts
vendor SDKs used (an LZMA-alone header, props and dictionary only, or headerless with properties the
SDK fixed, tried from RAW_PROPS and kept once one decodes) - or, on 4.x, from the compressor id for
LZO and LZ4, which have no header to recognise.  Never more than max_out bytes from one block."""
from __future__ import annotations

import lzma
import struct

from firmpass.formats.inflate import ERRORS as INFLATE_ERRORS
from firmpass.formats.inflate import inflate


class LegacyError(ValueError):
    pass


RAW_PROPS = ((3, 0, 2), (0, 2, 2), (1, 3, 0))


def _props(b: int) -> tuple[int, int, int] | None:
    if b >= 9 * 5 * 5:
        return None
    return b % 9, (b // 9) % 5, b // 45


def _raw_lzma(data, lc, lp, pb, dict_size, max_out) -> bytes:
    d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": max(dict_size, 4096),
                                                          "lc": lc, "lp": lp, "pb": pb}])
    return d.decompress(data, max_out)


class Codec:
    """Decompresses one block (data or metadata), never more than max_out bytes."""

    def __init__(self, block_size: int):
        self.block_size = block_size
        self.raw: tuple[int, int, int] | None = None
        self.seen: set[str] = set()
        self.hint = 0  # 4.x: the superblock's compressor id; LZO and LZ4 blocks have no header to tell

    def __call__(self, data: bytes, max_out: int, exact: int | None = None) -> bytes:
        if self.hint == 3:
            from firmpass.formats.lzo import decompress as lzo_decompress

            self.seen.add("lzo")
            return lzo_decompress(data, max_out)
        if self.hint == 5:
            import lz4.block

            self.seen.add("lz4")
            return lz4.block.decompress(bytes(data), uncompressed_size=max_out)
        if data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            self.seen.add("zstd")
            return zstandard.ZstdDecompressor().decompress(bytes(data), max_output_size=max_out)
        if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
            try:
                out = inflate(data, max_out)
                self.seen.add("gzip")
                return out
            except INFLATE_ERRORS:
                if len(data) < 6 or data[0] != 0x78:
                    raise
        if data[:6] == b"\xfd7zXZ\x00":
            self.seen.add("xz")
            return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(data, max_out)
        p = _props(data[0]) if data else None
        if p is not None and len(data) > 13:
            dsize = struct.unpack_from("<I", data, 1)[0]
            usize = struct.unpack_from("<Q", data, 5)[0]
            if 1 << 12 <= dsize <= 1 << 28:
                if data[13] == 0 and (usize == (1 << 64) - 1 or usize <= 1 << 24):
                    out = _raw_lzma(data[13:], *p, dsize, max_out)
                    self.seen.add("lzma")
                    return out
                if data[5] == 0:
                    out = _raw_lzma(data[5:], *p, dsize, max_out)
                    self.seen.add("lzma")
                    return out
        if data and data[0] == 0:  # headerless: the SDK fixed the properties
            tries = [self.raw] if self.raw else list(RAW_PROPS)
            last: Exception | None = None
            for lc, lp, pb in tries:
                try:
                    out = _raw_lzma(data, lc, lp, pb, max(self.block_size, 1 << 16), max_out)
                except lzma.LZMAError as ex:
                    last = ex
                    continue
                if exact is None or len(out) == exact or self.raw:
                    self.raw = (lc, lp, pb)
                    self.seen.add(f"lzma-raw(lc={lc},lp={lp},pb={pb})")
                    return out
            raise LegacyError(f"raw LZMA block does not decode: {last}")
        raise LegacyError(f"unknown block compression (first bytes {bytes(data[:4]).hex()})")
