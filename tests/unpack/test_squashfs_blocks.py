"""squashfs 4.0 content read block by block (handlers/squashfs._blocks, not dissect's FileStream):
the bytes of files around the block size, with fragments, sparse blocks and none, equal unsquashfs's."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.unpack.conftest import unpack

MKSQUASHFS = shutil.which("mksquashfs")


@pytest.mark.parametrize("opts", [[], ["-no-fragments"], ["-always-use-fragments"]], ids=["default", "no-frag", "frag"])
def test_squashfs_block_reader_matches_unsquashfs(opts, tmp_path):
    """Sizes around the block size, a tail in a fragment or in a block of its own, a sparse (all-zero)
    block between data, an empty file: firmpass's bytes equal Debian's unsquashfs's."""
    unsquashfs = shutil.which("unsquashfs")
    if MKSQUASHFS is None or unsquashfs is None:
        pytest.skip("mksquashfs/unsquashfs (squashfs-tools) are not installed")
    src = tmp_path / "src"
    src.mkdir()
    bs = 4096
    rnd = bytes((i * 7919 + (i >> 8)) & 0xFF for i in range(3 * bs + 77))
    files = {"empty": b"", "one": b"x", "block": rnd[:bs], "block+1": rnd[:bs + 1], "three+": rnd,
             "sparse": rnd[:bs] + bytes(2 * bs) + rnd[:100], "tiny-tails": b"ab" * 5}
    for k, v in files.items():
        (src / k).write_bytes(v)
    img = tmp_path / "s.sqfs"
    subprocess.run([MKSQUASHFS, str(src), str(img), "-noappend", "-b", str(bs), "-quiet", "-no-progress", *opts],
                   check=True, capture_output=True)
    subprocess.run([unsquashfs, "-q", "-n", "-d", str(tmp_path / "ref"), str(img)], check=True, capture_output=True)
    ctx = unpack(img, tmp_path / "out")
    got = {f.path.lstrip("/"): (tmp_path / "out" / f.disk_path).read_bytes() for f in ctx.result.files if f.type == "file"}
    assert got == {k: (tmp_path / "ref" / k).read_bytes() for k in files} == files


@pytest.mark.parametrize("comp", ["gzip", "zstd"])
def test_hostile_copies_of_squashfs4(comp, corpus, tmp_path):
    """Truncated, bit-flipped and size-lying copies of a real squashfs 4.0 (the block-by-block reader, ISA-L
    inflate for gzip, content on several threads): partial results or exit 2, never a traceback."""
    from tests.unpack.test_hostile_formats import _check

    if MKSQUASHFS is None:
        pytest.skip("mksquashfs (squashfs-tools) is not installed")
    img = tmp_path / "etc.sqfs"
    subprocess.run([MKSQUASHFS, str(corpus / "rootfs" / "etc"), str(img), "-noappend", "-comp", comp, "-b", "4096",
                    "-quiet", "-no-progress"], check=True, capture_output=True)
    # bytes_used (40) and the inode/directory/fragment table starts (64, 72, 80)
    assert _check(tmp_path, comp, img.read_bytes(), [(40, "<Q"), (64, "<Q"), (72, "<Q"), (80, "<Q")]) > 0


def test_hostile_copies_of_ext2(corpus, tmp_path):
    """The same for ext2 read on several threads, one reader per thread."""
    from tests.unpack.test_hostile_formats import _check

    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    if not os.path.exists(mke2fs):
        pytest.skip("mke2fs (e2fsprogs) is not installed")
    img = tmp_path / "etc.ext2"
    subprocess.run([mke2fs, "-q", "-t", "ext2", "-b", "1024", "-d", str(corpus / "rootfs" / "etc"), str(img), "4M"],
                   check=True, capture_output=True)
    # s_inodes_count, s_blocks_count, s_log_block_size, s_inodes_per_group
    assert _check(tmp_path, "ext2", img.read_bytes(), [(1024, "<I"), (1028, "<I"), (1048, "<I"), (1064, "<I")]) > 0
