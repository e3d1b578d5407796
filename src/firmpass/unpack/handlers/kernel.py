"""Recognised leaves: Linux kernel images and ELF files."""
from __future__ import annotations

import struct

from firmpass.identify.kernel import payload_compression
from firmpass.unpack.engine import Handler


class LinuxKernelHandler(Handler):
    """A Linux kernel image: x86 bzImage (recorded with its version string), ARM zImage (with the
    compressor and offset of its payload), arm64 Image.  A leaf: recorded, not opened further."""

    name = "linux-kernel"
    kind = "kernel"
    magics = [(b"HdrS", 0x202), (b"\x18\x28\x6f\x01", 0x24), (b"ARM\x64", 0x38)]
    carve = False
    sniff = False
    leaf = True

    def probe(self, buf, off, end):
        if off + 0x260 > end:
            return None
        if bytes(buf[off + 0x202: off + 0x206]) == b"HdrS":
            return -1 if bytes(buf[off + 0x1FE: off + 0x200]) == b"\x55\xaa" else None
        return -1

    def unpack(self, u, node, src, depth):
        if bytes(src.view(0x202, 0x206)) != b"HdrS":
            arm64 = bytes(src.view(0x38, 0x3C)) == b"ARM\x64"
            node.meta["kind"] = "arm64 Image" if arm64 else "ARM zImage"
            if not arm64:  # the payload after the decompressor stub (identify reads the version from it)
                found = payload_compression(bytes(src.view(0, 0x30 + (320 << 10))))
                if found:
                    node.meta["payload_compression"], node.meta["payload_offset"] = found
            return src.size
        node.meta["kind"] = "x86 bzImage"
        proto = struct.unpack("<H", src.buf[src.off + 0x206: src.off + 0x208])[0]
        vptr = struct.unpack("<H", src.buf[src.off + 0x20E: src.off + 0x210])[0] + 0x200
        node.meta["boot_protocol"] = f"{proto >> 8}.{proto & 0xFF}"
        if vptr < src.size:
            raw = bytes(src.view(vptr, vptr + 256)).split(b"\0", 1)[0]
            node.meta["version_string"] = raw.decode("ascii", "replace")
        return src.size


class ElfHandler(Handler):
    name = "elf"
    kind = "leaf"
    magics = [(b"\x7fELF", 0)]
    carve = False
    sniff = False
    leaf = True

    def probe(self, buf, off, end):
        return -1 if buf[off + 4] in (1, 2) else None
