"""SONAME, DT_NEEDED and the data sections of an ELF file.

A small struct-based reader rather than pyelftools: identification reads every ELF of an image
(several copies of a rootfs in one firmware), and pyelftools builds an object per section, which
alone cost more than the whole 3-second budget.  Only the ELF header, the section headers, the
program headers and the dynamic table are read; every offset is bounds-checked, so hostile input
gives an empty result, never an exception.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

SHF_EXECINSTR = 0x4
SHT_NOBITS = 8
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NEEDED, DT_STRTAB, DT_SONAME, DT_STRSZ = 1, 5, 14, 10
ET = {1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}


@dataclass
class DynInfo:
    soname: str | None = None
    needed: list[str] = field(default_factory=list)
    elf_type: str | None = None
    data_ranges: list[tuple[int, int]] = field(default_factory=list)  # non-executable sections with content


def dyn_info(data: bytes) -> DynInfo | None:
    if data[:4] != b"\x7fELF" or len(data) < 52:
        return None
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError):
        return DynInfo()


def _parse(b: bytes) -> DynInfo:
    cls, endian = b[4], b[5]
    if cls not in (1, 2) or endian not in (1, 2):
        return DynInfo()
    e = "<" if endian == 1 else ">"
    is64 = cls == 2
    if is64:
        (e_type, _m, _v, _entry, phoff, shoff, _f, _eh, phentsize, phnum, shentsize, shnum, _shstrndx) = \
            struct.unpack_from(e + "HHIQQQIHHHHHH", b, 16)
    else:
        (e_type, _m, _v, _entry, phoff, shoff, _f, _eh, phentsize, phnum, shentsize, shnum, _shstrndx) = \
            struct.unpack_from(e + "HHIIIIIHHHHHH", b, 16)
    info = DynInfo(elf_type=ET.get(e_type, str(e_type)))
    n = len(b)
    # sections: the non-executable ones with file content (where version strings live)
    if shoff and 0 < shnum < 4096 and shoff + shnum * shentsize <= n:
        for i in range(shnum):
            o = shoff + i * shentsize
            if is64:
                _name, typ, flags, _addr, off, size = struct.unpack_from(e + "IIQQQQ", b, o)
            else:
                _name, typ, flags, _addr, off, size = struct.unpack_from(e + "IIIIII", b, o)
            if typ and typ != SHT_NOBITS and not flags & SHF_EXECINSTR and size and off < n:
                info.data_ranges.append((off, min(n, off + size)))
    # program headers: PT_DYNAMIC and the PT_LOAD map (vaddr -> offset) for DT_STRTAB
    loads: list[tuple[int, int, int]] = []
    dyn: tuple[int, int] | None = None
    if phoff and 0 < phnum < 1024 and phoff + phnum * phentsize <= n:
        for i in range(phnum):
            o = phoff + i * phentsize
            if is64:
                p_type, _fl, p_off, p_vaddr, _pa, p_filesz = struct.unpack_from(e + "IIQQQQ", b, o)
            else:
                p_type, p_off, p_vaddr, _pa, p_filesz = struct.unpack_from(e + "IIIII", b, o)
            if p_type == PT_LOAD:
                loads.append((p_vaddr, p_off, p_filesz))
            elif p_type == PT_DYNAMIC:
                dyn = (p_off, p_filesz)
    if dyn is None:
        return info
    ent = 16 if is64 else 8
    fmt = e + ("qQ" if is64 else "iI")
    strtab, needed_off, soname_off = None, [], None
    off, size = dyn
    for i in range(min(size // ent, 8192)):
        o = off + i * ent
        if o + ent > n:
            break
        tag, val = struct.unpack_from(fmt, b, o)
        if tag == 0:
            break
        if tag == DT_NEEDED:
            needed_off.append(val)
        elif tag == DT_SONAME:
            soname_off = val
        elif tag == DT_STRTAB:
            strtab = val
    if strtab is None:
        return info
    base = None
    for vaddr, poff, fsz in loads:
        if vaddr <= strtab < vaddr + fsz:
            base = strtab - vaddr + poff
            break
    if base is None:
        base = strtab if strtab < n else None
    if base is None:
        return info

    def s(o: int) -> str | None:
        p = base + o
        if not 0 <= p < n:
            return None
        end = b.find(b"\0", p, p + 4096)
        return b[p: end if end >= 0 else p].decode("utf-8", "replace") or None

    info.soname = s(soname_off) if soname_off is not None else None
    info.needed = [x for x in (s(o) for o in needed_off[:1024]) if x]
    return info


def data_view(data: bytes, info: DynInfo | None) -> bytes:
    """The bytes worth searching for version strings: the non-executable sections when the section
    table is there (a third of the file or less), else the whole file (sstripped binaries)."""
    if info is None or not info.data_ranges:
        return data
    ranges = sorted(info.data_ranges)
    return b"\0".join(data[a:z] for a, z in ranges)
