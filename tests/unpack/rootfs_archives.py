"""Archives of the whole corpus rootfs (41 MB, 637 entries) by Debian's own writers: tar.xz, tar.gz, zip
and 7z.  The corpus's etc.tar.xz, www.zip and etc.7z hold a few KiB, where an extractor's time is its
start-up; these are the same formats at a size where throughput counts (bench/bench_formats.py rows),
and tests/unpack/test_rootfs_archives.py checks that each unpacks to the source tree.

No RAR: nothing in Debian main writes RAR (`rar` is non-free).

zip and 7z cannot hold device nodes (zip would read /dev/urandom as a file): their member lists are
the tree less its character and block devices; tar keeps everything with the numeric owners.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

KINDS = ("tar.xz", "tar.gz", "zip", "7z")


def _members(src: Path, special: bool = False) -> list[str]:
    """Every path under src (sorted, relative, no '.') less device nodes, fifos and sockets; or with
    special=True those only."""
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if (p.is_symlink() or p.is_dir() or p.is_file()) != special:
                out.append(str(p.relative_to(src)))
    return sorted(out)


def write(src: Path, kind: str, dest: Path, fast: bool = False) -> Path:
    """src's tree as a `kind` archive at dest.  fast: the lowest compression level (the tests; the
    bench uses each tool's default level, as a vendor would)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    if kind in ("tar.xz", "tar.gz"):
        comp = (["xz", "-T1", "-0" if fast else "-6"] if kind == "tar.xz" else ["gzip", "-n", "-1" if fast else "-6"])
        with open(tmp, "wb") as fh:
            tar = subprocess.Popen(["tar", "--sort=name", "--numeric-owner", "-C", str(src), "-cf", "-", "."],
                                   stdout=subprocess.PIPE)
            subprocess.run(comp, stdin=tar.stdout, stdout=fh, check=True)
            tar.stdout.close()
            if tar.wait():
                raise RuntimeError("tar failed")
    elif kind == "zip":
        names = "\n".join(_members(src)) + "\n"
        subprocess.run(["zip", "-q", "-y", "-X", "-1" if fast else "-6", "-@", str(tmp)], input=names.encode(),
                       cwd=src, check=True)
    elif kind == "7z":
        # 7zz adds a listed directory's content too: the device nodes are excluded by name
        lst, excl = dest.with_name(dest.name + ".list"), dest.with_name(dest.name + ".exclude")
        lst.write_text("\n".join(_members(src)) + "\n")
        excl.write_text("".join(p + "\n" for p in _members(src, special=True)))
        try:
            subprocess.run(["7zz", "a", "-snl", "-bd", "-y", "-mx1" if fast else "-mx5", str(tmp), f"@{lst}",
                            f"-x@{excl}"], cwd=src, check=True, capture_output=True)
        finally:
            lst.unlink(missing_ok=True)
            excl.unlink(missing_ok=True)
    else:
        raise ValueError(kind)
    os.replace(tmp, dest)
    return dest
