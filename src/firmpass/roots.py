"""Root filesystems inside an unpacked tree: the container's top, and every directory that looks like
a device's root (a rootfs tarball's ``squashfs-root/``, a chroot, a container rootfs).  Shared by the
stages that read files by the path the device sees them at (identify's package databases, checks)."""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from firmpass.model import FileEntry

ROOT_MAX_DEPTH = 8  # directory levels searched for a root filesystem below a container's top
ROOT_MAX_PER_CONTAINER = 16
# a root's etc/ holds at least one of these (keeps /usr with a /usr/etc from counting as a root)
ETC_MARKS = {"passwd", "shadow", "group", "inittab", "init.d", "rc.d", "rcS", "fstab", "profile", "os-release",
             "openwrt_release", "hostname", "systemd", "banner", "hosts", "services", "inetd.conf", "config"}


def find_roots(files: Iterable[FileEntry]) -> dict[str, tuple[str, ...]]:
    """Root filesystems per container: the top ("") plus every directory, at any depth up to
    ROOT_MAX_DEPTH, that holds ``etc/`` and one of ``bin/``, ``sbin/``, ``lib/`` (a rootfs tarball's
    ``squashfs-root/``, a chroot, a container rootfs).  Deepest first, so a file belongs to the
    innermost root that holds it.  Directories are seen from the entries and from file paths alike
    (archives do not always list their directories); a symlinked ``bin`` counts (merged /usr)."""
    dirs: dict[str, set[str]] = {}
    etc_marks: dict[str, set[str]] = {}  # container -> directories whose etc/ holds a system file
    for f in files:
        parts = f.path.strip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "etc" and parts[-1] in ETC_MARKS:
            etc_marks.setdefault(f.container, set()).add("/" + "/".join(parts[:-2]))
        if f.type not in ("dir", "symlink"):
            parts = parts[:-1]
        s = dirs.setdefault(f.container, set())
        for i in range(1, min(len(parts), ROOT_MAX_DEPTH + 2) + 1):
            s.add("/" + "/".join(parts[:i]))
    out: dict[str, tuple[str, ...]] = {}
    for c, ds in dirs.items():
        found = []
        for d in ds:
            if d.count("/") > ROOT_MAX_DEPTH or posixpath.basename(d) in ("usr", "local") \
                    or d not in etc_marks.get(c, ()):
                continue
            if d + "/etc" in ds and any(d + "/" + x in ds for x in ("bin", "sbin", "lib")):
                found.append(d)
        found.sort(key=lambda d: (-d.count("/"), d))
        out[c] = tuple(found[:ROOT_MAX_PER_CONTAINER]) + ("",)
    return out
