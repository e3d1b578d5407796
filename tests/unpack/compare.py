"""Compare what unpack recorded (and wrote) with the corpus source tree, entry by entry."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from firmpass.model import FileEntry

TYPES = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chardev",
         stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}


def source_tree(root: Path) -> dict[str, dict]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            t = TYPES[stat.S_IFMT(st.st_mode)]
            d = {"type": t, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if t == "file":
                d["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
                d["size"] = st.st_size
            elif t == "symlink":
                d["link"] = os.readlink(p)
            elif t in ("chardev", "blockdev"):
                d["device"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            out["/" + str(p.relative_to(root))] = d
    return out


def differences(src: dict[str, dict], files: list[FileEntry], out: Path, owners: bool = True,
                limit: int = 20) -> list[str]:
    """Human-readable differences (empty list = identical in content and metadata)."""
    got = {f.path: f for f in files}
    diffs = []
    for path in sorted(set(src) - set(got)):
        diffs.append(f"missing {path}")
    for path in sorted(set(got) - set(src)):
        diffs.append(f"extra {path}")
    for path in sorted(set(src) & set(got)):
        s, f = src[path], got[path]
        ftype = "file" if f.type == "hardlink" else f.type
        if ftype != s["type"]:
            diffs.append(f"{path}: type {f.type} != {s['type']}")
            continue
        if f.mode != s["mode"]:
            diffs.append(f"{path}: mode {f.mode:04o} != {s['mode']:04o}")
        if owners and (f.uid, f.gid) != (s["uid"], s["gid"]):
            diffs.append(f"{path}: owner {f.uid}:{f.gid} != {s['uid']}:{s['gid']}")
        if s["type"] == "file":
            if f.size != s["size"]:
                diffs.append(f"{path}: size {f.size} != {s['size']}")
            if f.disk_path is None:
                diffs.append(f"{path}: no content on disk")
            else:
                p = out / f.disk_path
                if p.is_symlink() or hashlib.sha256(p.read_bytes()).hexdigest() != s["sha256"]:
                    diffs.append(f"{path}: content differs")
        elif s["type"] == "symlink" and f.link_target != s["link"]:
            diffs.append(f"{path}: link {f.link_target!r} != {s['link']!r}")
        elif s["type"] in ("chardev", "blockdev") and tuple(f.device or ()) != s["device"]:
            diffs.append(f"{path}: device {f.device} != {s['device']}")
    return diffs[:limit] + ([f"... {len(diffs) - limit} more"] if len(diffs) > limit else [])
