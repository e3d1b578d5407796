"""Filesystem permissions (FS-001 .. FS-004) on the true modes recorded by the inventory.

Aggregated: one finding lists all paths (the evidence lists each, per container), not one finding
per file.  Device nodes, sockets, FIFOs and symlinks are left out (their modes are by design)."""
from __future__ import annotations

import posixpath

from firmpass.checks.base import CheckRun, Hit
from firmpass.checks.registry import check
from firmpass.model import Text

MAX_LISTED = 25


def _list(paths: list[str]) -> str:
    ps = sorted(set(paths))
    return ", ".join(ps[:MAX_LISTED]) + (f" (+{len(ps) - MAX_LISTED})" if len(ps) > MAX_LISTED else "")


def _agg(run: CheckRun, ents, key, extra_params=None, detail=lambda e: None):
    paths = sorted({e.path for e in ents})
    evs = [run.ev(e, None, f"{e.mode_str} uid={e.uid} gid={e.gid} {e.type}", detail(e))
           for e in sorted(ents, key=lambda e: (e.path, e.container))]
    return Hit(key=key, evidence=evs, params={"count": len(paths), "paths": _list(paths), **(extra_params or {})},
               data={"paths": paths, "count": len(paths),
                     "modes": {e.path: e.mode_str for e in ents}})


@check("FS-001")
def world_writable(run: CheckRun):
    ents = [e for e in run.ctx.result.files if e.type in ("file", "dir") and e.mode & 0o002
            and not (e.type == "dir" and e.mode & 0o1000)]
    if ents:
        yield _agg(run, ents, ("ww",))


def _suid_detail(e) -> Text:
    bits = [b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if e.mode & m]
    return Text(en=" ".join(bits), zh="设置了 " + "、".join(bits) + " 位")


@check("FS-002")
def setuid(run: CheckRun):
    ents = [e for e in run.ctx.result.files if e.type == "file" and e.mode & 0o6000]
    if ents:
        bb = any(posixpath.basename(e.path) == "busybox" and e.mode & 0o4000 for e in ents)
        note = Text(en="; a setuid busybox makes every applet (sh, vi, ...) a candidate for privilege escalation"
                    if bb else "", zh="；setuid 的 busybox 使每个 applet（sh、vi 等）都可能被用来提权" if bb else "")
        h = _agg(run, ents, ("suid",), {"busybox_note": note},
                 detail=_suid_detail)
        if bb:
            h.severity = "high"
        yield h


@check("FS-003")
def world_writable_setuid(run: CheckRun):
    ents = [e for e in run.ctx.result.files if e.type == "file" and e.mode & 0o6000 and e.mode & 0o022]
    if ents:
        yield _agg(run, ents, ("ww-suid",))


@check("FS-004")
def account_files(run: CheckRun):
    for path in ("/etc/shadow", "/etc/gshadow", "/etc/passwd"):
        for e in run.find(path):
            en, zh = [], []
            if path != "/etc/passwd" and e.mode & 0o004:
                en.append("password hashes are readable by every user")
                zh.append("所有用户都能读取口令哈希")
            if e.mode & 0o002:
                en.append("any user can rewrite it and add a root account")
                zh.append("任何用户都能改写它并添加 root 账户")
            if not en:
                continue
            yield Hit(key=("acct", e.path), evidence=[run.ev(e, None, f"{e.mode_str} uid={e.uid} gid={e.gid}")],
                      params={"path": e.path, "mode": e.mode_str, "uid": e.uid,
                              "problem": Text(en="; ".join(en), zh="；".join(zh))},
                      data={"mode": e.mode_str, "uid": e.uid, "gid": e.gid})
