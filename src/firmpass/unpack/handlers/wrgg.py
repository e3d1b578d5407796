"""D-Link / Alpha Networks WRG and WRGG03 firmware headers (the layouts in OpenWrt's mtdsplit_wrgg.c
and its mkwrgimg / mkwrggimg tools):

  WRG   (0x60 bytes): signature[32], magic1 0x20040220, magic2, size, offset, devname[32], digest[16]
  WRGG03 (0xA0 bytes): signature[32], magic1 0x20080321, magic2, version[16], model[16], flag[2],
                       reserve[2], buildno[16], size, offset, devname[32], digest[16]

magic1 is little-endian on the images OpenWrt parses; the tools also write big-endian headers, so
both byte orders are accepted, and `size` is read in whichever order fits the image (mtdsplit reads
WRGG03's size big-endian).  `size` counts the bytes after the header: on D-Link images an LZMA
kernel right after the header and the root filesystem later (often a big-endian squashfs).  The
header is recorded; the payload is unpacked as one part, whose streams and filesystems are carved.
"""
from __future__ import annotations

import struct

from firmpass.unpack.engine import Handler

WRG_MAGIC = 0x20040220
WRGG03_MAGIC = 0x20080321


def _text(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("latin-1")


def _printable(b: bytes) -> bool:
    s = b.split(b"\0", 1)[0]
    return len(s) > 0 and all(0x20 <= c < 0x7F for c in s)


def parse(buf, off: int, end: int):
    """(kind, header length, payload size, fields) or None."""
    if off + 0xA0 > end and off + 0x60 > end:
        return None
    head = bytes(buf[off: off + 0xA0])
    if len(head) < 0x60 or not _printable(head[:32]):
        return None
    for e in ("<", ">"):
        m = struct.unpack(e + "I", head[32:36])[0]
        if m in (WRG_MAGIC, WRGG03_MAGIC):
            break
    else:
        return None
    avail = end - off
    if m == WRG_MAGIC:
        hlen = 0x60
        sizes = struct.unpack("<I", head[40:44])[0], struct.unpack(">I", head[40:44])[0]
        fields = {"signature": _text(head[:32]), "magic2": struct.unpack(e + "I", head[36:40])[0],
                  "load_offset": struct.unpack(e + "I", head[44:48])[0], "devname": _text(head[48:80]),
                  "digest": head[80:96].hex()}
    else:
        if len(head) < 0xA0:
            return None
        hlen = 0xA0
        sizes = struct.unpack(">I", head[0x68:0x6C])[0], struct.unpack("<I", head[0x68:0x6C])[0]
        fields = {"signature": _text(head[:32]), "version": _text(head[40:56]), "model": _text(head[56:72]),
                  "buildno": _text(head[88:104]), "load_offset": struct.unpack(e + "I", head[0x6C:0x70])[0],
                  "devname": _text(head[0x70:0x90]), "digest": head[0x90:0xA0].hex()}
    fitting = [s for s in sizes if 0 < s <= avail - hlen]
    size = fitting[0] if fitting else min(sizes)
    fields.update({"format": "WRG" if m == WRG_MAGIC else "WRGG03", "endian": "little" if e == "<" else "big",
                   "size": size})
    return fields["format"], hlen, size, fields


class WrggHandler(Handler):
    name = "wrgg"
    kind = "container"
    magics = [(struct.pack(e + "I", m), 32) for m in (WRG_MAGIC, WRGG03_MAGIC) for e in "<>"]

    def probe(self, buf, off, end):
        p = parse(buf, off, end)
        if p is None or p[2] == 0 or p[2] > 1 << 31:
            return None
        return p[1] + p[2]

    def unpack(self, u, node, src, depth):
        _kind, hlen, size, fields = parse(src.buf, src.off, src.end)
        node.meta.update(fields)
        if hlen + size > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=hlen + size, present=src.size)
        u.child_blob(node, depth, src.view(hlen, hlen + size), offset=hlen)
        return min(src.size, hlen + size)
