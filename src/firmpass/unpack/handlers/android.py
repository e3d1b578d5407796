"""Android boot images, header versions 0 to 4 (the layouts in AOSP's
system/tools/mkbootimg/include/bootimg/bootimg.h; all fields little-endian):

  v0-v2: "ANDROID!", kernel_size, kernel_addr, ramdisk_size, ramdisk_addr, second_size, second_addr,
         tags_addr, page_size, header_version (offset 40), os_version, name[16], cmdline[512], id[32],
         extra_cmdline[1024]; v1 adds recovery_dtbo_size, recovery_dtbo_offset (u64), header_size;
         v2 adds dtb_size, dtb_addr (u64).  Sections follow the header page, each padded to page_size:
         kernel, ramdisk, second, recovery DTBO (v1+), DTB (v2).
  v3-v4: "ANDROID!", kernel_size, ramdisk_size, os_version, header_size, reserved[4],
         header_version (offset 40), cmdline[1536], v4: signature_size.  The page size is 4096;
         sections: kernel, ramdisk, boot signature (v4).

The fields are recorded and each section is unpacked as a part (the kernel identified as a kernel,
the ramdisk as a compressed cpio).  Debian's mkbootimg writes them and unpack_bootimg reads them.
"""
from __future__ import annotations

import struct

from firmpass.unpack.engine import Handler

MAGIC = b"ANDROID!"
PAGES = (2048, 4096, 8192, 16384)


def _pad(n: int, page: int) -> int:
    return (n + page - 1) // page * page


def parse(buf, off: int, end: int):
    """(fields, [(name, offset, size)], total) or None."""
    if off + 1660 > end:
        return None
    h = bytes(buf[off: off + 1660])
    ver = struct.unpack("<I", h[40:44])[0]
    if ver > 4:
        return None
    sections = []
    if ver <= 2:
        ks, ka, rs, ra, ss, sa, ta, page = struct.unpack("<8I", h[8:40])
        if page not in PAGES:
            return None
        os_ver = struct.unpack("<I", h[44:48])[0]
        fields = {"header_version": ver, "page_size": page, "kernel_addr": f"{ka:#x}", "ramdisk_addr": f"{ra:#x}",
                  "second_addr": f"{sa:#x}", "tags_addr": f"{ta:#x}", "os_version": os_ver,
                  "name": h[48:64].split(b"\0", 1)[0].decode("latin-1"),
                  "cmdline": (h[64:576].split(b"\0", 1)[0] + h[608:1632].split(b"\0", 1)[0]).decode("latin-1"),
                  "id": h[576:608].hex()}
        sizes = [("kernel", ks), ("ramdisk", rs), ("second", ss)]
        if ver >= 1:
            dtbo = struct.unpack("<I", h[1632:1636])[0]
            sizes.append(("recovery_dtbo", dtbo))
        if ver == 2:
            dtb = struct.unpack("<I", h[1648:1652])[0]
            sizes.append(("dtb", dtb))
    else:
        ks, rs, os_ver, hsize = struct.unpack("<4I", h[8:24])
        page = 4096
        fields = {"header_version": ver, "page_size": page, "os_version": os_ver, "header_size": hsize,
                  "cmdline": h[44:1580].split(b"\0", 1)[0].decode("latin-1")}
        sizes = [("kernel", ks), ("ramdisk", rs)]
        if ver == 4:
            sizes.append(("signature", struct.unpack("<I", h[1580:1584])[0]))
    if not sizes[0][1] or any(n > 1 << 31 for _, n in sizes):
        return None
    pos = page
    for name, n in sizes:
        if n:
            sections.append((name, pos, n))
        pos += _pad(n, page)
    return fields, sections, pos


class AndroidBootHandler(Handler):
    name = "android-boot"
    kind = "boot"
    magics = [(MAGIC, 0)]

    def probe(self, buf, off, end):
        p = parse(buf, off, end)
        return None if p is None else p[2]

    def unpack(self, u, node, src, depth):
        fields, sections, total = parse(src.buf, src.off, src.end)
        node.meta.update(fields)
        node.meta["sections"] = {n: [o, s] for n, o, s in sections}
        if total > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=total, present=src.size)
        for name, o, n in sections:
            if o < src.size and name != "signature":
                u.child_blob(node, depth, src.view(o, o + n), offset=o, meta={"android_section": name})
        return min(src.size, total)
