"""Netgear CHK images (the layout in OpenWrt's firmware-utils mkchkimg.c; all fields big-endian):
magic 0x2A23245E ("*#$^"), header_len, reserved[8], kernel_chksum, rootfs_chksum, kernel_len,
rootfs_len, image_chksum, header_chksum, then the board id (up to header_len); the kernel follows
the header and the root filesystem follows the kernel.  Both are unpacked as parts; the checksums
(Netgear's own) are recorded.
"""
from __future__ import annotations

import struct

from firmpass.unpack.engine import Handler

MAGIC = 0x2A23245E


class ChkHandler(Handler):
    name = "netgear-chk"
    kind = "container"
    magics = [(struct.pack(">I", MAGIC), 0)]

    @staticmethod
    def _head(buf, off):
        return struct.unpack(">IIQIIIIII", buf[off: off + 40])

    def probe(self, buf, off, end):
        if off + 40 > end:
            return None
        _m, hlen, _r, _kc, _rc, klen, rlen, _ic, _hc = self._head(buf, off)
        if not 40 <= hlen <= 1024 or klen == 0 or klen + rlen > 1 << 31:
            return None
        board = bytes(buf[off + 40: off + hlen]).split(b"\0", 1)[0]
        if not board or not all(0x20 <= c < 0x7F for c in board):
            return None
        return hlen + klen + rlen

    def unpack(self, u, node, src, depth):
        _m, hlen, _r, kc, rc, klen, rlen, ic, hc = self._head(src.buf, src.off)
        node.meta.update({"header_len": hlen, "board_id": bytes(src.view(40, hlen)).split(b"\0", 1)[0].decode("latin-1"),
                          "kernel_len": klen, "rootfs_len": rlen, "kernel_chksum": f"{kc:08x}",
                          "rootfs_chksum": f"{rc:08x}", "image_chksum": f"{ic:08x}", "header_chksum": f"{hc:08x}"})
        total = hlen + klen + rlen
        if total > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=total, present=src.size)
        u.child_blob(node, depth, src.view(hlen, hlen + klen), offset=hlen, meta={"chk_part": "kernel"})
        if rlen and hlen + klen < src.size:
            u.child_blob(node, depth, src.view(hlen + klen, total), offset=hlen + klen, meta={"chk_part": "rootfs"})
        return min(src.size, total)
