"""Build real filesystem images whose file names are not UTF-8 (GBK, Latin-1, invalid bytes), with
the system's own tools (mksquashfs, mke2fs -d, mkfs.jffs2, tar, cpio, zip): the regression material
for B1/B2, made at test time."""
from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

GBK = "配置文件.conf".encode("gbk")  # a Chinese name as many vendor SDKs still write it
LATIN1 = "café-réglage.txt".encode("latin-1")
INVALID = b"bad\xff\xfe\x80name"
NAMES = (GBK, LATIN1, INVALID)


def rootfs(dst: Path) -> Path:
    """A tiny rootfs: an empty root password, telnetd in rcS, and three files with non-UTF-8 names
    (one of them a directory holding a shadow-like file that checks must still see)."""
    d = os.fsencode(dst)
    for sub in (b"etc", b"etc/init.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, b"etc/passwd"), "wb") as f:
        f.write(b"root::0:0:root:/root:/bin/sh\n")
    with open(os.path.join(d, b"etc/init.d/rcS"), "wb") as f:
        f.write(b"#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh\n")
    os.chmod(os.path.join(d, b"etc/init.d/rcS"), 0o755)
    for n in NAMES:
        with open(os.path.join(d, b"etc", n), "wb") as f:
            f.write(b"password=admin\n")
    sub = os.path.join(d, b"etc", GBK + b".d")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, b"passwd"), "wb") as f:
        f.write(b"ops::0:0::/:/bin/sh\n")
    os.symlink(b"../etc/" + GBK, os.path.join(d, b"etc", b"link-" + LATIN1))
    os.makedirs(os.path.join(d, b"etc/ssl/private"), exist_ok=True)
    with open(os.path.join(d, b"etc/ssl/private", KEY_NAME), "wb") as f:
        f.write(private_key_pem())
    return dst


KEY_NAME = "设备私钥.pem".encode("gbk")


def private_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption())


def _run(*cmd) -> None:
    subprocess.run(list(cmd), check=True, capture_output=True, timeout=300)


def build(fmt: str, tmp: Path) -> Path:
    src = rootfs(tmp / f"root-{fmt}")
    out = tmp / f"image.{fmt}"
    if fmt == "squashfs":
        _run("mksquashfs", str(src), str(out), "-noappend", "-all-root", "-quiet")
    elif fmt == "ext4":
        _run("mke2fs", "-q", "-t", "ext4", "-d", str(src), "-F", str(out), "4M")
    elif fmt == "jffs2":
        _run("mkfs.jffs2", "-r", str(src), "-o", str(out), "-e", "0x10000", "--pad=0x100000")
    elif fmt == "tar":
        _tar_bytes(src, out)
    elif fmt == "cpio":
        names = subprocess.run(["find", "."], cwd=src, capture_output=True, check=True).stdout
        with open(out, "wb") as fh:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=src, input=names, stdout=fh, check=True)
    elif fmt == "zip":
        _run("sh", "-c", f"cd '{src}' && zip -qry '{out}' .")
    else:
        raise ValueError(fmt)
    return out


def _tar_bytes(src: Path, out: Path) -> None:
    """tar with raw byte names (tarfile with surrogateescape writes the bytes as they are)."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
        t.add(str(src), arcname=".")


def nested_tar(tmp: Path) -> Path:
    """An outer tar whose only member is an inner rootfs tar that has non-UTF-8 names (B2: the nested
    rootfs's empty root password and telnetd must not vanish)."""
    inner = tmp / "inner.tar"
    _tar_bytes(rootfs(tmp / "root-inner"), inner)
    outer = tmp / "outer.tar"
    with tarfile.open(outer, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
        t.add(str(inner), arcname=os.fsdecode(b"firmware/rootfs-" + GBK + b".tar"))
    return outer
