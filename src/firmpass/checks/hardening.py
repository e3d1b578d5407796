"""Binary hardening per ELF (HARD-001, HARD-002); summary in extra["hardening"].

Each distinct content is read once (the same binary in several filesystems is parsed once).  Only
four fixed-layout tables matter (ELF header, program headers, dynamic entries, section headers), so
`analyse()` reads them with `struct`: pyelftools' construct-based parsing costs ~5 ms per file, which
alone would eat the checks' 3 s budget on an image with ~600 binaries.  pyelftools stays the
reference: `analyse_pyelftools()` is the fallback for anything the fast reader rejects, and the
tests check both agree on every ELF of the corpus."""
from __future__ import annotations

import io
import re
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.constants import P_FLAGS
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from firmpass.checks.base import CheckRun, Hit, in_dir
from firmpass.checks.registry import check
from firmpass.model import Text

DF_BIND_NOW, DF_1_NOW, DF_1_PIE = 0x8, 0x1, 0x08000000
ELF_MAX = 256 * 1024 * 1024
STR_RX = re.compile(rb"\x00(__stack_chk_fail(?:_local)?|__stack_chk_guard|__\w+_chk)(?=\x00)")
WRITABLE_PREFIXES = ("/tmp", "/var", "/mnt", "/data", "/media", "/overlay", "/home", "/run", "/dev/shm")


PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_GNU_STACK, PT_GNU_RELRO = 1, 2, 3, 0x6474E551, 0x6474E552
DT_STRTAB, DT_STRSZ, DT_RPATH, DT_BIND_NOW, DT_RUNPATH, DT_FLAGS, DT_FLAGS_1 = 5, 10, 15, 24, 29, 30, 0x6FFFFFFB
SHT_SYMTAB = 2
ETYPES = {1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}


def analyse(data: bytes) -> dict | None:
    """Hardening facts of one ELF file; falls back to pyelftools when the fast reader cannot."""
    try:
        return _fast(data)
    except (struct.error, ValueError, IndexError):
        return analyse_pyelftools(data)


def _fast(data: bytes) -> dict | None:
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    b64, en = data[4] == 2, "<" if data[5] == 1 else ">"
    if b64:
        etype, _m, _v, _e, phoff, shoff, _f, _eh, phentsize, phnum, shentsize, shnum, _x = struct.unpack_from(
            en + "HHIQQQIHHHHHH", data, 16)
        ph, sh, dyn = struct.Struct(en + "IIQQQQQQ"), struct.Struct(en + "IIQQQQIIQQ"), struct.Struct(en + "qQ")
    else:
        etype, _m, _v, _e, phoff, shoff, _f, _eh, phentsize, phnum, shentsize, shnum, _x = struct.unpack_from(
            en + "HHIIIIIHHHHHH", data, 16)
        ph, sh, dyn = struct.Struct(en + "IIIIIIII"), struct.Struct(en + "IIIIIIIIII"), struct.Struct(en + "iI")
    if phnum and phentsize < ph.size or shnum and shentsize < sh.size:
        raise ValueError("bad table entry size")
    info = {"type": ETYPES.get(etype, str(etype)), "interp": False, "nx": False, "relro": "none",
            "bind_now": False, "pie_flag": False, "canary": None, "fortify": False, "rpath": [],
            "stripped": True, "static": True}
    loads, dynamic, has_stack = [], None, False
    for i in range(phnum):
        f = ph.unpack_from(data, phoff + i * phentsize)
        if b64:
            p_type, p_flags, p_off, p_vaddr, _pa, p_filesz = f[:6]
        else:
            p_type, p_off, p_vaddr, _pa, p_filesz, _mem, p_flags = f[:7]
        if p_type == PT_GNU_STACK:
            has_stack, info["nx"] = True, not (p_flags & 1)
        elif p_type == PT_GNU_RELRO:
            info["relro"] = "partial"
        elif p_type == PT_INTERP:
            info["interp"] = True
        elif p_type == PT_DYNAMIC:
            info["static"], dynamic = False, (p_off, p_filesz)
        elif p_type == PT_LOAD:
            loads.append((p_vaddr, p_off, p_filesz))
    if not has_stack:
        info["nx"] = False
    symtab_link = None
    sections = []
    for i in range(shnum if shoff else 0):
        f = sh.unpack_from(data, shoff + i * shentsize)
        sections.append(f)
        if f[1] == SHT_SYMTAB:
            info["stripped"], symtab_link = False, f[6]
    strs = b""
    if dynamic is not None:
        strtab = strsz = None
        rpaths, runpaths = [], []
        off, end = dynamic[0], min(dynamic[0] + dynamic[1], len(data))
        while off + dyn.size <= end:
            tag, val = dyn.unpack_from(data, off)
            off += dyn.size
            if tag == 0:
                break
            if tag == DT_STRTAB:
                strtab = val
            elif tag == DT_STRSZ:
                strsz = val
            elif tag == DT_BIND_NOW or (tag == DT_FLAGS and val & DF_BIND_NOW):
                info["bind_now"] = True
            elif tag == DT_FLAGS_1:
                info["bind_now"] |= bool(val & DF_1_NOW)
                info["pie_flag"] = bool(val & DF_1_PIE)
            elif tag == DT_RPATH:
                rpaths.append(val)
            elif tag == DT_RUNPATH:
                runpaths.append(val)
        if strtab is not None and strsz:
            foff = next((o + strtab - v for v, o, n in loads if v <= strtab < v + n), None)
            if foff is not None:
                strs = data[foff: foff + strsz]
                cstr = lambda i: strs[i: strs.index(b"\0", i)].decode("utf-8", "replace")  # noqa: E731
                info["rpath"] = ([("RPATH", p) for i in rpaths for p in cstr(i).split(":")]
                                 + [("RUNPATH", p) for i in runpaths for p in cstr(i).split(":")])
    elif symtab_link is not None and symtab_link < len(sections):  # static, not stripped: .strtab
        s_off, s_size = sections[symtab_link][4], sections[symtab_link][5]
        strs = data[s_off: s_off + s_size]
    syms = {n.decode("ascii", "replace") for n in STR_RX.findall(b"\0" + strs)} if strs else set()
    if info["relro"] == "partial" and info["bind_now"]:
        info["relro"] = "full"
    if syms or not info["static"]:
        info["canary"] = bool({"__stack_chk_fail", "__stack_chk_guard", "__stack_chk_fail_local"} & syms)
    info["fortify"] = any(s.endswith("_chk") and s != "__stack_chk_fail" for s in syms)
    info["executable"] = info["type"] == "ET_EXEC" or (info["type"] == "ET_DYN" and (info["interp"] or info["pie_flag"]))
    info["pie"] = info["type"] == "ET_DYN" and info["executable"]
    return info


def analyse_pyelftools(data: bytes) -> dict | None:
    """Reference implementation with pyelftools (slower; used as fallback and to cross-check)."""
    try:
        elf = ELFFile(io.BytesIO(data))
        etype = elf.header["e_type"]
        info = {"type": etype, "interp": False, "nx": False, "relro": "none", "bind_now": False, "pie_flag": False,
                "canary": None, "fortify": False, "rpath": [], "stripped": True, "static": True}
        has_stack = False
        for seg in elf.iter_segments():
            t = seg["p_type"]
            if t == "PT_GNU_STACK":
                has_stack = True
                info["nx"] = not (seg["p_flags"] & P_FLAGS.PF_X)
            elif t == "PT_GNU_RELRO":
                info["relro"] = "partial"
            elif t == "PT_INTERP":
                info["interp"] = True
            elif t == "PT_DYNAMIC":
                info["static"] = False
        if not has_stack:
            info["nx"] = False
        syms = set()
        for sec in elf.iter_sections():
            if sec.name == ".symtab":
                info["stripped"] = False
            if isinstance(sec, DynamicSection):
                for tag in sec.iter_tags():
                    d = tag.entry.d_tag
                    if d == "DT_BIND_NOW":
                        info["bind_now"] = True
                    elif d == "DT_FLAGS" and tag.entry.d_val & DF_BIND_NOW:
                        info["bind_now"] = True
                    elif d == "DT_FLAGS_1":
                        info["bind_now"] |= bool(tag.entry.d_val & DF_1_NOW)
                        info["pie_flag"] = bool(tag.entry.d_val & DF_1_PIE)
                    elif d == "DT_RPATH":
                        info["rpath"] += [("RPATH", p) for p in tag.rpath.split(":")]
                    elif d == "DT_RUNPATH":
                        info["rpath"] += [("RUNPATH", p) for p in tag.runpath.split(":")]
            elif sec.name == ".dynstr" or (sec.name == ".strtab" and info["static"]):
                # symbol names straight from the string table: much faster than iterating symbols
                strtab = sec.data()
                syms.update(n.decode("ascii", "replace") for n in STR_RX.findall(strtab))
        if info["relro"] == "partial" and info["bind_now"]:
            info["relro"] = "full"
        if syms or not info["static"]:
            info["canary"] = "__stack_chk_fail" in syms or "__stack_chk_guard" in syms or "__stack_chk_fail_local" in syms
        info["fortify"] = any(re.match(r"^__\w+_chk$", s) for s in syms if s != "__stack_chk_fail")
        info["executable"] = etype == "ET_EXEC" or (etype == "ET_DYN" and (info["interp"] or info["pie_flag"]))
        info["pie"] = etype == "ET_DYN" and info["executable"]
        return info
    except (ELFError, Exception):  # noqa: BLE001 - hostile/truncated ELF (construct errors included): skip it
        return None


def elf_infos(run: CheckRun) -> list[tuple]:
    if "elf_infos" in run.memo:
        return run.memo["elf_infos"]
    cache: dict = {}
    out = []
    for e in run.regular:
        if e.size < 52 or e.size > ELF_MAX:
            continue
        if e.elf is None and run.head(e, 4) != b"\x7fELF":
            continue
        ck = run.content_key(e)
        if ck not in cache:
            cache[ck] = analyse(run.ctx.read(e, ELF_MAX))
        if cache[ck] is not None:
            out.append((e, cache[ck]))
    run.memo["elf_infos"] = out
    by_path: dict[str, dict] = {}
    for e, i in out:
        by_path.setdefault(e.path, i)
    vals = list(by_path.values())
    run.memo["hardening_summary"] = {
        "elf_count": len(vals), "executables": sum(i["executable"] for i in vals),
        "nx": sum(i["nx"] for i in vals), "pie": sum(i["pie"] for i in vals),
        "relro_full": sum(i["relro"] == "full" for i in vals), "relro_partial": sum(i["relro"] == "partial" for i in vals),
        "canary": sum(bool(i["canary"]) for i in vals), "canary_unknown": sum(i["canary"] is None for i in vals),
        "fortify": sum(i["fortify"] for i in vals), "stripped": sum(i["stripped"] for i in vals),
        "rpath": sum(bool(i["rpath"]) for i in vals), "static": sum(i["static"] for i in vals),
        "files": {p: {k: i[k] for k in ("executable", "nx", "pie", "relro", "canary", "fortify", "stripped", "static")}
                  | {"rpath": [f"{a}={b}" for a, b in i["rpath"]]} for p, i in sorted(by_path.items())},
    }
    return out


MITIGATIONS = {
    "nx": ("high", Text(en="a non-executable stack (NX)", zh="不可执行栈（NX）"),
           Text(en="code injected on the stack can run", zh="注入栈上的代码可以直接执行")),
    "pie": ("low", Text(en="position-independent code (PIE)", zh="位置无关可执行（PIE）"),
            Text(en="the program is always loaded at the same address, ASLR does not apply to it",
                 zh="程序总被加载到固定地址，ASLR 对其无效")),
    "relro": ("low", Text(en="RELRO", zh="RELRO"),
              Text(en="the GOT stays writable after start-up", zh="启动后 GOT 表仍可写")),
}


@check("HARD-001")
def mitigations(run: CheckRun):
    infos = [(e, i) for e, i in elf_infos(run) if i["executable"]]
    for mit, (sev, name, why) in MITIGATIONS.items():
        bad = [(e, i) for e, i in infos if (not i[mit] if mit != "relro" else i["relro"] == "none")]
        if not bad:
            continue
        paths = sorted({e.path for e, _ in bad})
        yield Hit(key=(mit,), severity=sev,
                  evidence=[run.ev(e, None, None, Text(
                      en=f"{mit} missing; type {i['type']}{', static' if i['static'] else ''}",
                      zh=f"缺少{name.zh}；ELF 类型 {i['type']}{'，静态链接' if i['static'] else ''}"))
                            for e, i in bad],
                  params={"count": len(paths), "mitigation": name, "why": why,
                          "paths": ", ".join(paths[:25]) + (f" (+{len(paths) - 25})" if len(paths) > 25 else "")},
                  data={"mitigation": mit, "paths": paths})


def _risky(p: str, run: CheckRun, container) -> bool:
    if not p or not p.startswith(("/", "$ORIGIN")):
        return True  # relative to the working directory
    if p.startswith("$ORIGIN"):
        return False
    if in_dir(p, *WRITABLE_PREFIXES):
        return True
    d = run.lookup(p, container)
    return d is not None and bool(d.mode & 0o002) and not d.mode & 0o1000


@check("HARD-002")
def rpath(run: CheckRun):
    bad = []
    for e, i in elf_infos(run):
        risky = [f"{k}={p}" for k, p in i["rpath"] if _risky(p, run, e)]
        if risky:
            bad.append((e, risky))
    if bad:
        paths = sorted({e.path for e, _ in bad})
        yield Hit(key=("rpath",), evidence=[run.ev(e, None, "; ".join(r)) for e, r in bad],
                  params={"count": len(paths), "paths": ", ".join(paths[:25])},
                  data={"paths": paths, "rpaths": {e.path: r for e, r in bad}})
