"""squashfs 4.0 content read block by block (handlers/squashfs._blocks, not dissect's FileStream):
the bytes of files around the block size, with fragments, sparse blocks and none, equal unsquashfs's."""
from __future__ import annotations

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
