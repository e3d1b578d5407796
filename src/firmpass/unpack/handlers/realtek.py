"""Realtek SDK image headers (the `cvimg` tool of Realtek's RTL819x SDK, as OpenWrt's realtek target
documents it): a 16-byte header - signature[4] ("cs6c"/"cs6b" kernel, "cr6c"/"cr6b" root filesystem,
"csys" system image, "boot" bootloader), start address, burn (flash) address, length, big-endian -
then `length` bytes: the payload followed by a 16-bit checksum.  Several such images usually follow
one another (kernel, then root filesystem); each is one part, and carving goes on after it.
"""
from __future__ import annotations

import struct

from firmpass.unpack.engine import Handler

SIGNATURES = {b"cs6c": "kernel", b"cs6b": "kernel", b"cr6c": "rootfs", b"cr6b": "rootfs", b"csys": "system"}


class RealtekHandler(Handler):
    name = "realtek"
    kind = "container"
    magics = [(s, 0) for s in SIGNATURES]

    def probe(self, buf, off, end):
        if off + 16 > end:
            return None
        start, burn, length = struct.unpack(">III", buf[off + 4: off + 16])
        if not 2 < length <= 1 << 28 or burn > 1 << 30:
            return None
        if SIGNATURES[bytes(buf[off: off + 4])] == "kernel" and start >> 28 not in (0x8, 0x9, 0xA, 0x0):
            return None  # a kernel runs from a MIPS KSEG0/KSEG1 address (or a low physical one)
        return 16 + length

    def unpack(self, u, node, src, depth):
        sig = bytes(src.view(0, 4))
        start, burn, length = struct.unpack(">III", bytes(src.view(4, 16)))
        node.meta.update({"signature": sig.decode(), "part": SIGNATURES[sig], "start_addr": f"{start:#x}",
                          "burn_addr": f"{burn:#x}", "length": length})
        if 16 + length > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=16 + length, present=src.size)
        u.child_blob(node, depth, src.view(16, 16 + length - 2), offset=16, meta={"realtek_part": SIGNATURES[sig]})
        return min(src.size, 16 + length)
