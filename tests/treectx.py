"""Test helper: a ScanContext over a plain directory tree (e.g. the corpus rootfs), so a stage can be
tested on real files without going through unpack.  Metadata comes from lstat of the tree, which the
corpus builder (run as root) created with the intended modes.  Integration tests use the real
pipeline instead."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from firmpass import __version__
from firmpass.context import ScanContext, ScanOptions
from firmpass.model import FileEntry, ImageInfo, ScanResult, ToolInfo


def entries_from_tree(root: Path, container: str = "0.1", chain: list[str] | None = None) -> list[FileEntry]:
    out: list[FileEntry] = []
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            rel = "/" + str(p.relative_to(root))
            m = st.st_mode
            typ = ("dir" if stat.S_ISDIR(m) else "symlink" if stat.S_ISLNK(m) else "file" if stat.S_ISREG(m)
                   else "chardev" if stat.S_ISCHR(m) else "blockdev" if stat.S_ISBLK(m)
                   else "fifo" if stat.S_ISFIFO(m) else "socket")
            out.append(FileEntry(
                path=rel, container=container, chain=chain or ["squashfs"], type=typ,
                size=st.st_size if typ == "file" else 0, mode=stat.S_IMODE(m), uid=st.st_uid, gid=st.st_gid,
                link_target=os.readlink(p) if typ == "symlink" else None,
                device=(os.major(st.st_rdev), os.minor(st.st_rdev)) if typ in ("chardev", "blockdev") else None,
                disk_path=str(p) if typ == "file" else None,  # absolute: Path(out) / abs == abs
            ))
    return out


def context_from_tree(root: Path, out: Path, options: ScanOptions | None = None) -> ScanContext:
    out.mkdir(parents=True, exist_ok=True)
    result = ScanResult(tool=ToolInfo(version=__version__),
                        image=ImageInfo(path=str(root), name=Path(root).name, sha256="0" * 64, size=0))
    result.files = entries_from_tree(root)
    return ScanContext(image=Path(root), out=out, result=result, options=options)
