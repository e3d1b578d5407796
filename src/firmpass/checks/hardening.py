"""Binary hardening per ELF (HARD-001, HARD-002) with pyelftools; summary in extra["hardening"].

Only program headers, the dynamic section, .dynsym names and the section table are read, once per
distinct content (the same binary in several filesystems is parsed once)."""
from __future__ import annotations

import io
import posixpath
import re

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


def analyse(data: bytes) -> dict | None:
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
                  evidence=[run.ev(e, None, None, f"{mit} missing; type {i['type']}{', static' if i['static'] else ''}")
                            for e, i in bad],
                  params={"count": len(paths), "mitigation": name, "why": why,
                          "paths": ", ".join(paths[:25]) + (f" (+{len(paths) - 25})" if len(paths) > 25 else "")},
                  data={"mitigation": mit, "paths": paths})


def _risky(p: str, run: CheckRun, container: str) -> bool:
    if not p or not p.startswith(("/", "$ORIGIN")):
        return True  # relative to the working directory
    if p.startswith("$ORIGIN"):
        return False
    if in_dir(p, *WRITABLE_PREFIXES):
        return True
    d = run.ctx.lookup(p, container)
    return d is not None and bool(d.mode & 0o002) and not d.mode & 0o1000


@check("HARD-002")
def rpath(run: CheckRun):
    bad = []
    for e, i in elf_infos(run):
        risky = [f"{k}={p}" for k, p in i["rpath"] if _risky(p, run, e.container)]
        if risky:
            bad.append((e, risky))
    if bad:
        paths = sorted({e.path for e, _ in bad})
        yield Hit(key=("rpath",), evidence=[run.ev(e, None, "; ".join(r)) for e, r in bad],
                  params={"count": len(paths), "paths": ", ".join(paths[:25])},
                  data={"paths": paths, "rpaths": {e.path: r for e, r in bad}})
