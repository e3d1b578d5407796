"""Binary hardening per ELF (HARD-001, HARD-002); summary in extra["hardening"].

The facts come from the one ELF reader, formats/elf.py, read once per content by the inventory stage
(the same binary in several filesystems is parsed once); this module only judges them."""
from __future__ import annotations

from firmpass.checks.base import CheckRun, Hit, in_dir
from firmpass.checks.registry import check
from firmpass.formats import elf as elfr
from firmpass.model import Text

ELF_MAX = elfr.MAX_BYTES
WRITABLE_PREFIXES = ("/tmp", "/var", "/mnt", "/data", "/media", "/overlay", "/home", "/run", "/dev/shm")


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
            facts = elfr.facts_for(run.ctx, e.sha256, lambda e=e: run.ctx.read(e, ELF_MAX))
            cache[ck] = facts.hardening if facts is not None else None
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
