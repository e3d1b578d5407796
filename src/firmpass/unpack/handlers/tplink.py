"""TP-Link firmware headers, version 1 and version 2/3 (the layouts in OpenWrt's firmware-utils
mktplinkfw.c and mktplinkfw2.c; all fields big-endian, the header is 0x200 bytes):

  v1: version (1), vendor_name[24], fw_version[36], hw_id, hw_rev, region, md5sum1[16], unk2,
      md5sum2[16], unk3, kernel_la (0x74), kernel_ep, fw_length, kernel_ofs, kernel_len, rootfs_ofs,
      rootfs_len, boot_ofs, boot_len, ver_hi/mid/lo
  v2: version (2 or 3), fw_version[48], hw_id (0x34), hw_rev, hw_ver_add, md5sum1[16] (0x40), unk2,
      md5sum2[16], unk3, kernel_la (0x68), kernel_ep, fw_length, kernel_ofs, kernel_len, rootfs_ofs,
      rootfs_len, boot_ofs, boot_len, ...

Offsets count from the start of the header.  The kernel and the root filesystem are unpacked as two
parts.  md5sum1 is keyed with a per-model salt the tools embed; it is recorded, not checked.
"""
from __future__ import annotations

import struct

from firmpass.unpack.engine import Handler

HEADER = 0x200
LAYOUT = {1: 0x74, 2: 0x68, 3: 0x68}  # where kernel_la sits


def _text(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("latin-1")


def parse(buf, off: int, end: int):
    if off + HEADER > end:
        return None
    h = bytes(buf[off: off + HEADER])
    ver = struct.unpack(">I", h[:4])[0]
    if ver not in LAYOUT:
        return None
    at = LAYOUT[ver]
    la, ep, fw_len, k_ofs, k_len, r_ofs, r_len = struct.unpack(">7I", h[at: at + 28])
    if ver == 1:
        fields = {"vendor": _text(h[4:28]), "fw_version": _text(h[28:64])}
        hw = struct.unpack(">II", h[64:72])
    else:
        fields = {"fw_version": _text(h[4:52])}
        hw = struct.unpack(">II", h[0x34:0x3C])
    name = fields.get("vendor") or fields["fw_version"]
    if not name or not all(0x20 <= ord(c) < 0x7F for c in name):
        return None
    if not (HEADER <= k_ofs and k_len and fw_len >= HEADER):
        return None
    if r_len and r_ofs < k_ofs + k_len:
        return None
    fields.update({"header_version": ver, "hw_id": f"{hw[0]:08x}", "hw_rev": hw[1], "kernel_load": f"{la:#x}",
                   "kernel_entry": f"{ep:#x}", "fw_length": fw_len, "kernel": [k_ofs, k_len], "rootfs": [r_ofs, r_len]})
    return fields


class TpLinkHandler(Handler):
    name = "tplink"
    kind = "container"
    # version word then the start of the vendor name (v1) or of "ver. x.y" (v2/v3)
    magics = [(b"\x00\x00\x00\x01TP-LINK", 0), (b"\x00\x00\x00\x01OpenWrt", 0), (b"\x00\x00\x00\x02ver. ", 0),
              (b"\x00\x00\x00\x03ver. ", 0)]

    def probe(self, buf, off, end):
        f = parse(buf, off, end)
        if f is None:
            return None
        return max(f["fw_length"], f["kernel"][0] + f["kernel"][1], f["rootfs"][0] + f["rootfs"][1])

    def unpack(self, u, node, src, depth):
        f = parse(src.buf, src.off, src.end)
        node.meta.update(f)
        total = max(f["fw_length"], f["kernel"][0] + f["kernel"][1], f["rootfs"][0] + f["rootfs"][1])
        if total > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=total, present=src.size)
        for what in ("kernel", "rootfs"):
            o, n = f[what]
            if n and o < src.size:
                u.child_blob(node, depth, src.view(o, o + n), offset=o, meta={"tplink_part": what})
        return min(src.size, total)
