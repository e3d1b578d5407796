"""Broadcom TRX container (routers: header "HDR0", CRC32 and up to 3 (v1) or 4 (v2) partition offsets).

Written here because the format is a 28/32-byte header and no maintained Python parser exists.
Layout (little-endian): magic "HDR0" | len u32 | crc32 u32 (over bytes 12..len, CRC-32 without the
final inversion) | flags u16 | version u16 | offsets u32[3 or 4] (from the start of the header).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"HDR0"


class TrxError(ValueError):
    pass


@dataclass
class Trx:
    length: int
    crc: int
    flags: int
    version: int
    crc_ok: bool
    partitions: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) from the header start
    truncated: int | None = None  # the declared length, when the image is shorter than that

    def meta(self) -> dict:
        return {"length": self.length, "declared_length": self.truncated, "version": self.version, "flags": self.flags,
                "crc_ok": self.crc_ok,
                "partitions": [{"offset": o, "size": s} for o, s in self.partitions]}


def trx_crc(data) -> int:
    return zlib.crc32(data) ^ 0xFFFFFFFF


def parse(buf, off: int = 0, end: int | None = None, allow_truncated: bool = False) -> Trx:
    """The TRX header at `off`.  With allow_truncated, an image shorter than its header says is read as
    far as it goes (Trx.truncated is the declared length; partitions are cut at the end; no CRC check)."""
    end = len(buf) if end is None else end
    if off + 28 > end or bytes(buf[off: off + 4]) != MAGIC:
        raise TrxError("no TRX magic")
    length, crc, flags, version = struct.unpack("<IIHH", buf[off + 4: off + 16])
    if version not in (1, 2):
        raise TrxError(f"unknown TRX version {version}")
    declared = None
    if length < 28:
        raise TrxError(f"header length {length} is too small")
    if off + length > end:
        if not allow_truncated or end - off < 32:
            raise TrxError(f"truncated: header says {length} bytes, {end - off} present")
        declared, length = length, end - off
    n = 3 if version == 1 else 4
    offs = list(struct.unpack(f"<{n}I", buf[off + 16: off + 16 + 4 * n]))
    hdr = 16 + 4 * n
    crc_ok = declared is None and trx_crc(buf[off + 12: off + length]) == crc
    t = Trx(length, crc, flags, version, crc_ok)
    t.truncated = declared
    valid = sorted(o for o in offs if hdr <= o < length)
    for i, o in enumerate(valid):
        nxt = valid[i + 1] if i + 1 < len(valid) else length
        if nxt > o:
            t.partitions.append((o, nxt - o))
    return t


def build(parts: list[bytes], version: int = 1, flags: int = 0, align: int = 4) -> bytes:
    """Make a TRX image (used by the test corpus builder)."""
    n = 3 if version == 1 else 4
    hdr = 16 + 4 * n
    body, offs = b"", []
    for p in parts[:n]:
        pad = (-(hdr + len(body))) % align
        body += b"\0" * pad
        offs.append(hdr + len(body))
        body += p
    offs += [0] * (n - len(offs))
    length = hdr + len(body)
    tail = struct.pack("<HH", flags, version) + struct.pack(f"<{n}I", *offs) + body
    return MAGIC + struct.pack("<II", length, trx_crc(tail)) + tail
