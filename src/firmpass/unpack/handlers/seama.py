"""D-Link SEAMA images and the encrypted SHRS images of later D-Link routers.

SEAMA (the layout in OpenWrt's firmware-utils seama.h, written by Alpha Networks; all fields
network byte order): magic 0x5EA3A417, reserved u16, metasize u16, size u32, then an MD5 of the
image (16 bytes, present when size != 0), metasize bytes of NUL-separated "key=value" metadata,
then `size` bytes of image.  A "seal" is an entity with size 0 whose metadata describes the entities
that follow it.  The metadata is recorded, the MD5 checked, and the image unpacked as a part.

SHRS: D-Link's encrypted images start with "SHRS", then the decrypted and the encrypted payload
sizes (u32, big-endian) and an IV.  The payload is AES-encrypted with a key held on the device: it is
recognised, its sizes recorded, and a warning says it cannot be opened; the rest is not carved (it is
ciphertext).
"""
from __future__ import annotations

import hashlib
import struct

from firmpass.unpack.engine import Handler

SEAMA_MAGIC = 0x5EA3A417
MAX_META = 1 << 14


def _meta(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode("latin-1")[:64]] = v.decode("latin-1")[:256]
        elif item.strip():
            out.setdefault("_", item.decode("latin-1")[:256])
    return out


class SeamaHandler(Handler):
    name = "seama"
    kind = "container"
    magics = [(struct.pack(">I", SEAMA_MAGIC) + b"\0\0", 0), (struct.pack("<I", SEAMA_MAGIC) + b"\0\0", 0)]

    @staticmethod
    def _head(buf, off):
        e = ">" if bytes(buf[off: off + 4]) == struct.pack(">I", SEAMA_MAGIC) else "<"
        _m, _r, meta, size = struct.unpack(e + "IHHI", buf[off: off + 12])
        return e, meta, size

    def probe(self, buf, off, end):
        if off + 12 > end:
            return None
        _e, meta, size = self._head(buf, off)
        if meta > MAX_META or meta % 4 or size > 1 << 31:
            return None
        return 12 + (16 if size else 0) + meta + size

    def unpack(self, u, node, src, depth):
        e, meta, size = self._head(src.buf, src.off)
        md5_len = 16 if size else 0
        start = 12 + md5_len + meta
        node.meta.update({"endian": "big" if e == ">" else "little", "size": size, "meta_size": meta,
                          "metadata": _meta(bytes(src.view(12 + md5_len, start))), "seal": size == 0})
        if size == 0:  # a seal: its entities follow it and are carved by the engine
            return start
        if start + size > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=start + size, present=src.size)
        else:
            want = bytes(src.view(12, 28)).hex()
            node.meta["md5"] = want
            node.meta["md5_ok"] = hashlib.md5(src.view(start, start + size)).hexdigest() == want
            if not node.meta["md5_ok"]:
                u.warn("bad_crc", node, part=u.part_name(node), what="SEAMA MD5")
        u.child_blob(node, depth, src.view(start, start + size), offset=start)
        return min(src.size, start + size)


class ShrsHandler(Handler):
    name = "shrs"
    kind = "container"
    magics = [(b"SHRS", 0)]
    carve = False  # a 4-byte magic is too weak to search for inside blobs; an SHRS image starts the file

    def probe(self, buf, off, end):
        if off + 0x1C > end:
            return None
        dec, enc = struct.unpack(">II", buf[off + 4: off + 12])
        if not 0 < min(dec, enc) or max(dec, enc) > 1 << 31 or abs(enc - dec) > 64:  # AES pads a block at most
            return None
        return end - off  # the rest is ciphertext (and a signature): nothing to carve in it

    def unpack(self, u, node, src, depth):
        dec, enc = struct.unpack(">II", bytes(src.view(4, 12)))
        node.status = "partial"
        node.meta.update({"encrypted": True, "decrypted_size": dec, "encrypted_size": enc,
                          "iv": bytes(src.view(12, 28)).hex()})
        u.warn("encrypted_container", node, part=u.part_name(node), what="D-Link SHRS")
        return src.size
