"""The real-size archive rows of bench/bench_formats.py: the whole corpus rootfs as tar.xz, tar.gz, zip and
7z (tests/unpack/rootfs_archives.py, Debian's writers at their fastest level here) unpack to the source
tree: every entry's type, mode, owner (tar), link target and content."""
from __future__ import annotations

import shutil

import pytest

from tests.unpack.compare import differences
from tests.unpack.conftest import unpack
from tests.unpack.rootfs_archives import KINDS, write

CHAIN = {"tar.xz": ["xz", "tar"], "tar.gz": ["gzip", "tar"], "zip": ["zip"], "7z": ["7z"]}
TOOL = {"tar.xz": "xz", "tar.gz": "gzip", "zip": "zip", "7z": "7zz"}


@pytest.mark.parametrize("kind", KINDS)
def test_rootfs_archive_unpacks_to_the_source_tree(kind, corpus, src_tree, tmp_path):
    if shutil.which(TOOL[kind]) is None:
        pytest.skip(f"{TOOL[kind]} is not installed")
    img = write(corpus / "rootfs", kind, tmp_path / f"rootfs.{kind}", fast=True)
    ctx = unpack(img, tmp_path / "out")
    fss = [fs for fs in ctx.filesystems() if next(f.chain for f in ctx.result.files if f.container == fs) == CHAIN[kind]]
    assert fss, [n.format for n in ctx.result.image.container_chain]
    files = [f for f in ctx.result.files if f.container == fss[0]]
    src = src_tree
    if kind in ("zip", "7z"):  # no device nodes in these (see rootfs_archives)
        src = {p: v for p, v in src_tree.items() if v["type"] in ("file", "dir", "symlink")}
    assert len(files) > 600
    assert differences(src, files, tmp_path / "out", owners=kind.startswith("tar")) == []
    assert not ctx.result.warnings, [w.message.en for w in ctx.result.warnings]
