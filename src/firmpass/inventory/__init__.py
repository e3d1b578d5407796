"""The inventory stage: sha256 + sha512 of every regular file (the SBOM needs both) and the ELF
header facts (class, machine, endianness, type) of every ELF file.

Hashing runs on a thread pool (hashlib releases the GIL on large buffers), one read per file; the ELF
header is the first 20 bytes of that same read, decoded here rather than through pyelftools, which
would re-open and parse each file.  Files are read with O_NOFOLLOW from the paths unpack wrote.
"""
from __future__ import annotations

import hashlib
import os
import struct
from concurrent.futures import ThreadPoolExecutor

from firmpass.model import ElfInfo, FileEntry

# e_machine values (System V gABI / elf.h) seen in firmware
MACHINES = {0: "NONE", 2: "SPARC", 3: "x86", 4: "68K", 8: "MIPS", 10: "MIPS_RS3_LE", 18: "SPARC32PLUS",
            20: "PowerPC", 21: "PowerPC64", 22: "S390", 40: "ARM", 42: "SuperH", 43: "SPARCV9", 50: "IA-64",
            62: "x86-64", 83: "AVR", 87: "V850", 92: "OpenRISC", 94: "Xtensa", 105: "MSP430", 106: "Blackfin",
            164: "Hexagon", 183: "AArch64", 189: "MicroBlaze", 190: "CUDA", 195: "ARC-compact2", 243: "RISC-V",
            247: "BPF", 252: "C-SKY", 258: "LoongArch", 93: "ARC"}
TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}
BIG = 8 << 20


def elf_info(head: bytes) -> ElfInfo | None:
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    endian = "little" if head[5] == 1 else "big"
    e_type, e_machine = struct.unpack(("<" if endian == "little" else ">") + "HH", head[16:20])
    return ElfInfo(elf_class=32 if head[4] == 1 else 64, machine=MACHINES.get(e_machine, str(e_machine)),
                   endian=endian, type=TYPES.get(e_type, hex(e_type)))


def hash_entry(path: str) -> tuple[str, str, bytes, int]:
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        head = b""
        n = 0
        while True:
            chunk = fh.read(BIG)
            if not chunk:
                break
            if not n:
                head = chunk[:64]
            n += len(chunk)
            h256.update(chunk)
            h512.update(chunk)
    return h256.hexdigest(), h512.hexdigest(), head, n


def run(ctx) -> None:
    todo: list[FileEntry] = [f for f in ctx.result.files if f.type in ("file", "hardlink") and f.disk_path]
    done: dict[str, tuple[str, str, bytes, int]] = {}

    def one(p: str):
        try:
            return p, hash_entry(str(ctx.out / p))
        except OSError:
            return p, None

    paths = sorted({f.disk_path for f in todo}, key=lambda p: p)
    with ThreadPoolExecutor(min(8, (os.cpu_count() or 1) * 2)) as ex:
        for p, r in ex.map(one, paths):
            if r is not None:
                done[p] = r
    elf = 0
    for f in todo:
        r = done.get(f.disk_path)
        if r is None:
            continue
        f.sha256, f.sha512 = r[0], r[1]
        f.elf = elf_info(r[2])
        elf += f.elf is not None
    ctx.result.extra.setdefault("inventory", {}).update({"hashed": len(done), "elf": elf})
