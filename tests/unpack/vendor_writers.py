"""Small writers for vendor firmware containers that have no sample and no Debian writer.  Each
follows the published layout named in its docstring (the OpenWrt firmware-utils tools and kernel
partition parsers that read these images) and is written independently of firmpass's readers."""
from __future__ import annotations

import hashlib
import struct


def _s(text: str, n: int) -> bytes:
    return text.encode().ljust(n, b"\0")[:n]


def wrg(payload: bytes, signature: str = "wrgg19_c_dlwbr_dir300", devname: str = "dir300", big: bool = False) -> bytes:
    """WRG header (OpenWrt mkwrgimg.c / mtdsplit_wrgg.c struct wrg_header, 0x60 bytes): signature[32],
    magic1 0x20040220, magic2 0, size, offset, devname[32], digest[16] = MD5 of the payload + devname."""
    e = ">" if big else "<"
    digest = hashlib.md5(payload + _s(devname, 32)).digest()
    return (_s(signature, 32) + struct.pack(e + "IIII", 0x20040220, 0, len(payload), 0) + _s(devname, 32) + digest
            + payload)


def wrgg03(payload: bytes, signature: str = "wrgg27_dlwbr_dap2553", devname: str = "dap2553") -> bytes:
    """WRGG03 header (OpenWrt mkwrggimg.c / mtdsplit_wrgg.c struct wrgg03_header, 0xA0 bytes): magic1
    0x20080321 little-endian, size big-endian as the kernel's parser reads it."""
    h = (_s(signature, 32) + struct.pack("<II", 0x20080321, 0) + _s("1.00", 16) + _s("DAP-2553", 16)
         + struct.pack("<IIII", 0, 0, 0, 0) + _s("b01", 16) + struct.pack(">I", len(payload))
         + struct.pack("<I", 0) + _s(devname, 32) + hashlib.md5(payload).digest())
    assert len(h) == 0xA0
    return h + payload


def seama(payload: bytes, meta: list[str]) -> bytes:
    """SEAMA entity (OpenWrt seama.h): magic 0x5EA3A417, reserved, metasize (4-aligned), size, MD5 of
    the image, metadata (NUL-terminated strings), image; all big-endian."""
    m = b"".join(x.encode() + b"\0" for x in meta)
    m += b"\0" * (-len(m) % 4)
    return struct.pack(">IHHI", 0x5EA3A417, 0, len(m), len(payload)) + hashlib.md5(payload).digest() + m + payload


def seama_seal(meta: list[str], entities: bytes) -> bytes:
    """A SEAMA seal: an entity of size 0 (no MD5) whose metadata describes the entities after it."""
    m = b"".join(x.encode() + b"\0" for x in meta)
    m += b"\0" * (-len(m) % 4)
    return struct.pack(">IHHI", 0x5EA3A417, 0, len(m), 0) + m + entities


def tplink(kernel: bytes, rootfs: bytes, version: int = 1, rootfs_ofs: int = 0x100000) -> bytes:
    """TP-Link firmware header (OpenWrt mktplinkfw.c for v1, mktplinkfw2.c for v2/v3): 0x200 bytes,
    big-endian, kernel at 0x200, root filesystem at rootfs_ofs, offsets from the header's start."""
    h = bytearray(0x200)
    struct.pack_into(">I", h, 0, version)
    if version == 1:
        h[4:28] = _s("TP-LINK Technologies", 24)
        h[28:64] = _s("ver. 1.0", 36)
        struct.pack_into(">III", h, 64, 0x08410001, 1, 0)
        at = 0x74
    else:
        h[4:52] = _s("ver. 2.0", 48)
        struct.pack_into(">III", h, 0x34, 0x0C500001, 1, 0)
        at = 0x68
    fw_len = rootfs_ofs + len(rootfs)
    struct.pack_into(">7I", h, at, 0x80060000, 0x80060000, fw_len, 0x200, len(kernel), rootfs_ofs, len(rootfs))
    body = bytes(h) + kernel
    assert len(body) <= rootfs_ofs
    return body + b"\xff" * (rootfs_ofs - len(body)) + rootfs


def netgear_chk(kernel: bytes, rootfs: bytes, board: str = "U12H139T00_NETGEAR") -> bytes:
    """Netgear CHK (OpenWrt mkchkimg.c): magic 0x2A23245E, header_len, reserved[8], kernel_chksum,
    rootfs_chksum, kernel_len, rootfs_len, image_chksum, header_chksum, board id; big-endian."""
    b = board.encode()
    hlen = 40 + len(b)
    return struct.pack(">IIQIIIIII", 0x2A23245E, hlen, 0, 0, 0, len(kernel), len(rootfs), 0, 0) + b + kernel + rootfs


def realtek(sig: bytes, payload: bytes, start: int = 0x80500000, burn: int = 0x30000) -> bytes:
    """Realtek cvimg header: signature[4], start address, burn address, length (payload + a 16-bit
    checksum, the payload's 16-bit big-endian words summing to zero with it); big-endian."""
    data = payload + b"\0" * (len(payload) % 2)
    csum = (-sum(struct.unpack(f">{len(data) // 2}H", data))) & 0xFFFF
    return sig + struct.pack(">III", start, burn, len(data) + 2) + data + struct.pack(">H", csum)


def shrs(plaintext_size: int, ciphertext: bytes) -> bytes:
    """The start of a D-Link SHRS image: "SHRS", decrypted size, encrypted size (big-endian), IV, then
    ciphertext (random bytes here: the point is that nothing inside can be opened)."""
    return b"SHRS" + struct.pack(">II", plaintext_size, len(ciphertext)) + bytes(range(16)) + ciphertext


def android_v4(kernel: bytes, ramdisk: bytes, signature: bytes, cmdline: str) -> bytes:
    """Android boot image header version 4 (AOSP bootimg.h struct boot_img_hdr_v4; Debian's mkbootimg
    stops at version 3): "ANDROID!", kernel_size, ramdisk_size, os_version, header_size (1584),
    reserved[4], header_version 4, cmdline[1536], signature_size; 4096-byte pages; kernel, ramdisk
    and boot signature each padded to a page."""
    def page(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4096)

    h = (b"ANDROID!" + struct.pack("<4I", len(kernel), len(ramdisk), 0, 1584) + bytes(16) + struct.pack("<I", 4)
         + _s(cmdline, 1536) + struct.pack("<I", len(signature)))
    return page(h) + page(kernel) + page(ramdisk) + page(signature)
