"""Android sparse image (the format of img2simg / fastboot), expanded to a raw image.

Written here because it is a 28-byte header plus 12-byte chunk headers (system/core/libsparse
sparse_format.h) and the only other reader is the simg2img binary.  "Don't care" chunks become holes
in the output file, so an image of mostly empty blocks costs no disk.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = 0xED26FF3A
FILE_HDR = struct.Struct("<I4H4I")
CHUNK_HDR = struct.Struct("<2H2I")
RAW, FILL, DONT_CARE, CRC32 = 0xCAC1, 0xCAC2, 0xCAC3, 0xCAC4


class SparseError(ValueError):
    pass


@dataclass
class SparseHeader:
    major: int
    minor: int
    file_hdr_sz: int
    chunk_hdr_sz: int
    blk_sz: int
    total_blks: int
    total_chunks: int

    @property
    def raw_size(self) -> int:
        return self.blk_sz * self.total_blks

    def meta(self) -> dict:
        return {"version": f"{self.major}.{self.minor}", "block_size": self.blk_sz, "blocks": self.total_blks,
                "chunks": self.total_chunks, "raw_size": self.raw_size}


def header(buf, off: int = 0) -> SparseHeader:
    if off + FILE_HDR.size > len(buf):
        raise SparseError("too short")
    magic, major, minor, fhs, chs, blk, tb, tc, _ = FILE_HDR.unpack(bytes(buf[off: off + FILE_HDR.size]))
    if magic != MAGIC or major != 1 or fhs < 28 or chs < 12 or blk == 0 or blk % 4:
        raise SparseError("not an Android sparse image")
    return SparseHeader(major, minor, fhs, chs, blk, tb, tc)


def expand(buf, off: int, end: int, out, max_bytes: int, on_write=None, on_truncated=None) -> int:
    """Write the raw image to the binary file `out`; returns the number of input bytes consumed.
    `on_write(n)` is called for every chunk of data written (budget accounting).  When the image ends
    early and `on_truncated(chunk_index, blocks_written)` is given, the chunks present are kept (the rest
    of the raw image reads as zeros) instead of raising."""
    h = header(buf, off)
    if h.raw_size > max_bytes:
        raise SparseError(f"raw image of {h.raw_size} bytes exceeds the limit of {max_bytes}")
    pos, blk = off + h.file_hdr_sz, 0
    for i in range(h.total_chunks):
        if pos + h.chunk_hdr_sz > end:
            if on_truncated and i:
                on_truncated(i, blk)
                break
            raise SparseError(f"truncated at chunk {i}")
        ctype, _, csz, tsz = CHUNK_HDR.unpack(bytes(buf[pos: pos + CHUNK_HDR.size]))
        data = pos + h.chunk_hdr_sz
        nbytes = csz * h.blk_sz
        if blk + csz > h.total_blks or tsz < h.chunk_hdr_sz:
            raise SparseError(f"chunk {i} is inconsistent with the header")
        if pos + tsz > end:
            if on_truncated and i:
                on_truncated(i, blk)
                break
            raise SparseError(f"chunk {i} runs past the image")
        if ctype == RAW:
            if tsz - h.chunk_hdr_sz != nbytes:
                raise SparseError(f"raw chunk {i} has the wrong size")
            out.seek(blk * h.blk_sz)
            out.write(buf[data: data + nbytes])
            if on_write:
                on_write(nbytes)
        elif ctype == FILL:
            pat = bytes(buf[data: data + 4])
            out.seek(blk * h.blk_sz)
            step = pat * (min(nbytes, 1 << 20) // 4)
            left = nbytes
            while left:
                w = step[: min(left, len(step))]
                out.write(w)
                left -= len(w)
                if on_write:
                    on_write(len(w))
        elif ctype in (DONT_CARE, CRC32):
            pass
        else:
            raise SparseError(f"unknown chunk type {ctype:#x}")
        blk += csz if ctype != CRC32 else 0
        pos += tsz
    out.truncate(h.raw_size)
    return pos - off
