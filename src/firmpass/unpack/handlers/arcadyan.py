"""Arcadyan router images with an obfuscated LZMA payload.

The obfuscation is not documented by the vendor; the layout here is the one public extractors
(binwalk's Arcadyan de-obfuscator) describe and the real sample confirms: a 4-byte header, then an
LZMA-alone stream whose 32 bytes at offset 4 were swapped with the 32 bytes at 0x68, and the block
now at 4 had each byte's nibbles swapped and then each pair of bytes swapped.  The block found at
0x68 begins with 00 D5 08 00 (what the de-obfuscated LZMA header's bytes look like once scrambled).
Undoing it gives an LZMA-alone stream at offset 4, which is unpacked like any other stream.
"""
from __future__ import annotations

import lzma

from firmpass.unpack.engine import Handler, PartError

MAGIC = b"\x00\xd5\x08\x00"
MAGIC_AT = 0x68
BLOCK = 32
B1, B2 = 4, 0x68


def deobfuscate_head(head: bytes) -> bytes:
    """The first 0x88 bytes de-obfuscated (everything after them is stored as is)."""
    if len(head) < B2 + BLOCK:
        raise PartError("shorter than the obfuscated header")
    x = bytearray(head[:B1] + head[B2: B2 + BLOCK] + head[B1 + BLOCK: B2] + head[B1: B1 + BLOCK])
    for i in range(B1, B1 + BLOCK):
        x[i] = ((x[i] & 0x0F) << 4) | (x[i] >> 4)
    for i in range(B1, B1 + BLOCK, 2):
        x[i], x[i + 1] = x[i + 1], x[i]
    return bytes(x)


def _lzma_ok(data: bytes) -> bool:
    if data[0] >= 225:
        return False
    try:
        return bool(lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(data, 256))
    except lzma.LZMAError:
        return False


class ArcadyanHandler(Handler):
    name = "arcadyan"
    kind = "container"
    magics = [(MAGIC, MAGIC_AT)]
    carve = False  # the image itself is obfuscated from its first byte; and a magic starting with a zero
    # byte would slow the carving regex over every blob

    def probe(self, buf, off, end):
        if off + B2 + BLOCK + 64 > end:
            return None
        head = deobfuscate_head(bytes(buf[off: off + B2 + BLOCK]))
        if not _lzma_ok(head[B1:] + bytes(buf[off + B2 + BLOCK: off + 4096])):
            return None
        return -1  # the stream's end is known once it is decompressed

    def unpack(self, u, node, src, depth):
        head = deobfuscate_head(bytes(src.view(0, B2 + BLOCK)))
        node.meta.update({"header": head[:B1].hex(), "obfuscation": "arcadyan block swap + nibble/byte swap"})
        payload = head[B1:] + bytes(src.view(B2 + BLOCK))
        u.child_blob(node, depth, payload, offset=B1, meta={"deobfuscated": True})
        return src.size
