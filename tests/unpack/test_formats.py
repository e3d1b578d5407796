"""Every corpus format unpacks to the source tree: same entries, content (sha256), modes incl.
setuid/sticky, owners, symlink targets and device numbers, as stored in the image."""
from __future__ import annotations

import pytest

from tests.unpack.compare import differences
from tests.unpack.conftest import unpack

BASE = {
    # squashfs is built with -all-root and jffs2 with --squash-uids: owners are 0 there
    "rootfs-xz.sqfs": {"chain": ["squashfs"], "owners": False},
    "rootfs-gzip.sqfs": {"chain": ["squashfs"], "owners": False},
    "rootfs.jffs2": {"chain": ["jffs2"], "owners": False},
    "initramfs.cpio.gz": {"chain": ["gzip", "cpio"], "owners": False},
    "rootfs.ubi": {"chain": ["ubi", "ubifs"], "owners": True},
    "rootfs.ubifs": {"chain": ["ubifs"], "owners": True},
    "uImage-multi": {"chain": ["uimage", "squashfs"], "owners": False},
}


# made by tests/corpus/build-formats.sh, which describes each in formats.json (named here so that the
# parametrisation does not depend on the corpus being built before collection)
ADDON = ["rootfs-lzo.sqfs", "rootfs-lz4.sqfs", "rootfs-zstd.sqfs", "rootfs.ext4", "rootfs.ext4.simg", "etc.ext2",
         "rootfs-odc.cpio", "etc.tar", "etc.tar.gz", "etc.tar.xz", "etc.tar.bz2", "etc.tar.zst", "etc.tar.lzma",
         "www.zip", "rootfs-be-lzo.jffs2", "fit-external.itb", "uImage-ramdisk", "router.trx", "vendor-blob.bin"]


def _subset(src: dict, spec: dict) -> dict:
    root = spec.get("root")
    if root:  # the image's root is this directory of the source tree
        src = {p[len(root):]: v for p, v in src.items() if p.startswith(root + "/")}
    keep = spec.get("subset")
    if keep:
        keep = [keep] if isinstance(keep, str) else keep
        src = {p: v for p, v in src.items() if any(p == k or p.startswith(k + "/") for k in keep)}
    if spec.get("chain") == ["zip"] or spec.get("no_devices"):  # zip and 7z hold no device nodes or fifos
        src = {p: v for p, v in src.items() if v["type"] in ("file", "dir", "symlink")}
    return src


def test_addon_list_matches_formats_json(formats):
    assert sorted(formats) == sorted(ADDON)


@pytest.mark.parametrize("name", sorted(BASE) + sorted(ADDON))
def test_format_unpacks_identically(name, corpus, src_tree, formats, tmp_path):
    spec = BASE.get(name) or formats[name]
    ctx = unpack(corpus / name, tmp_path)
    chains = {fs: next(f.chain for f in ctx.result.files if f.container == fs) for fs in ctx.filesystems()}
    wanted = [spec["chain"]] + spec.get("also", [])
    for chain in wanted:
        hits = [fs for fs, c in chains.items() if c == chain]
        assert hits, f"{name}: no filesystem with chain {chain}; got {chains}"
        files = [f for f in ctx.result.files if f.container == hits[0]
                 and not any(f.path == i or f.path.startswith(i + "/") for i in spec.get("ignore", []))]
        src = _subset(src_tree, spec)
        assert differences(src, files, tmp_path, owners=spec["owners"]) == []
    assert not [w for w in ctx.result.warnings], [w.message.en for w in ctx.result.warnings]
    # nothing but the unpack layout was written
    assert {p.name for p in tmp_path.iterdir()} <= {"unpacked", "findings.json"}


def test_true_metadata_not_extractor_defaults(corpus, tmp_path):
    """The modes a careless extractor loses: 0600 shadow, 1777 tmp, 0700 root, absolute symlinks."""
    ctx = unpack(corpus / "rootfs-gzip.sqfs", tmp_path)
    get = {f.path: f for f in ctx.result.files}
    assert get["/etc/shadow"].mode == 0o600
    assert get["/tmp"].mode == 0o1777 and get["/tmp"].type == "dir"
    assert get["/root"].mode == 0o700
    assert get["/bin/sh"].type == "symlink" and get["/bin/sh"].link_target.startswith("/")
    assert get["/dev/console"].type == "chardev" and get["/dev/console"].device == (5, 1)
    assert get["/dev/console"].disk_path is None  # device nodes are never created on disk
    # the disk copy is never executable, whatever the image says
    assert get["/bin/busybox"].mode & 0o111
    assert not (tmp_path / get["/bin/busybox"].disk_path).stat().st_mode & 0o111
