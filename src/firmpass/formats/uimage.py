"""Legacy U-Boot image (uImage) header: 64 bytes, big-endian (U-Boot include/image.h).

Written here because the layout is tiny and fixed and no maintained Python package parses it.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAGIC = 0x27051956
HEADER = struct.Struct(">7I4B32s")
HEADER_SIZE = HEADER.size  # 64

OS = {0: "invalid", 1: "openbsd", 2: "netbsd", 3: "freebsd", 5: "linux", 14: "vxworks", 16: "qnx",
      17: "u-boot", 18: "rtems", 25: "arm-trusted-firmware", 26: "tee", 27: "opensbi", 28: "efi"}
ARCH = {0: "invalid", 1: "alpha", 2: "arm", 3: "x86", 4: "ia64", 5: "mips", 6: "mips64", 7: "powerpc",
        8: "s390", 9: "sh", 10: "sparc", 11: "sparc64", 12: "m68k", 14: "microblaze", 15: "nios2",
        16: "blackfin", 17: "avr32", 19: "sandbox", 20: "nds32", 21: "openrisc", 22: "arm64", 23: "arc",
        24: "x86_64", 25: "xtensa", 26: "riscv"}
TYPE = {0: "invalid", 1: "standalone", 2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script",
        7: "filesystem", 8: "flat_dt", 14: "kernel_noload"}
COMP = {0: "none", 1: "gzip", 2: "bzip2", 3: "lzma", 4: "lzo", 5: "lz4", 6: "zstd"}


class UImageError(ValueError):
    pass


@dataclass
class UImage:
    header_crc: int
    time: int
    size: int
    load: int
    entry: int
    data_crc: int
    os: str
    arch: str
    type: str
    comp: str
    name: str
    header_ok: bool
    data_ok: bool | None = None
    parts: list[tuple[int, int]] = field(default_factory=list)  # (offset from image start, size)
    truncated: int | None = None  # the declared data size, when the image holds less (size is what is there)

    @property
    def total_size(self) -> int:
        return HEADER_SIZE + self.size

    def meta(self) -> dict:
        return {"name": self.name, "type": self.type, "arch": self.arch, "os": self.os, "comp": self.comp,
                "load": f"{self.load:#x}", "entry": f"{self.entry:#x}", "time": self.time, "data_size": self.size,
                "header_crc_ok": self.header_ok, "data_crc_ok": self.data_ok, "declared_data_size": self.truncated,
                "parts": [{"offset": o, "size": s} for o, s in self.parts]}


def parse(buf, off: int = 0, end: int | None = None, check_data: bool = True,
          allow_truncated: bool = False) -> UImage:
    """Parse a uImage at `off` in `buf` (bytes or mmap). Raises UImageError when it is not one.
    With allow_truncated, data shorter than the header says is read as far as it goes
    (UImage.truncated holds the declared data size; parts are cut at the end; no data CRC check)."""
    end = len(buf) if end is None else end
    if off + HEADER_SIZE > end:
        raise UImageError("too short for a uImage header")
    hdr = bytes(buf[off: off + HEADER_SIZE])
    (magic, hcrc, tm, size, load, ep, dcrc, os_, arch, typ, comp, name) = HEADER.unpack(hdr)
    if magic != MAGIC:
        raise UImageError("no uImage magic")
    ok = zlib.crc32(hdr[:4] + b"\0\0\0\0" + hdr[8:]) == hcrc
    if not ok:
        raise UImageError("uImage header CRC mismatch")
    img = UImage(hcrc, tm, size, load, ep, dcrc, OS.get(os_, str(os_)), ARCH.get(arch, str(arch)),
                 TYPE.get(typ, str(typ)), COMP.get(comp, str(comp)),
                 name.split(b"\0", 1)[0].decode("utf-8", "replace"), ok)
    data_end = off + HEADER_SIZE + size
    if data_end > end:
        if not allow_truncated or end - off - HEADER_SIZE < 16:
            raise UImageError(f"truncated: header says {size} data bytes, {end - off - HEADER_SIZE} present")
        img.truncated, img.size, data_end = size, end - off - HEADER_SIZE, end
        check_data = False
    if check_data:
        img.data_ok = zlib.crc32(buf[off + HEADER_SIZE: data_end]) == dcrc
    if img.type in ("multi", "script"):
        pos, sizes = off + HEADER_SIZE, []
        while pos + 4 <= data_end and len(sizes) < 256:
            (n,) = struct.unpack(">I", buf[pos: pos + 4])
            pos += 4
            if n == 0:
                break
            sizes.append(n)
        for n in sizes:
            if pos + n > data_end:
                if img.truncated is None:
                    raise UImageError("multi-file part runs past the image")
                if pos < data_end:
                    img.parts.append((pos - off, data_end - pos))  # the part the cut went through
                break
            img.parts.append((pos - off, n))
            pos += (n + 3) & ~3
    else:
        img.parts.append((HEADER_SIZE, size))
    return img
