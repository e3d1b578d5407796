"""Padding after a part: a filesystem followed by erased flash (0xFF) or zeros is one part, not a
'concat' of the filesystem and an unknown tail; anything else after it is still carved."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from firmpass.unpack.engine import _pad_len
from tests.unpack.conftest import unpack

MKSQUASHFS = shutil.which("mksquashfs")


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_pad_len_counts_zero_and_erased_flash_runs(fill):
    buf = b"DATA" + fill * 100 + b"x"
    assert _pad_len(buf, 4, len(buf)) == 100
    assert _pad_len(buf, 4, 50) == 46  # bounded by end
    assert _pad_len(buf, 0, len(buf)) == 0
    assert _pad_len(buf, 10, 10) == 0


def test_pad_len_does_not_mix_fills():
    buf = b"\xff" * 8 + b"\x00" * 8
    assert _pad_len(buf, 0, len(buf)) == 8  # one fill per run: 0xFF then zeros is not one padding


@pytest.fixture
def small_sqfs(tmp_path):
    if MKSQUASHFS is None:
        pytest.skip("mksquashfs (squashfs-tools) is not installed")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello\n" * 100)
    img = tmp_path / "s.sqfs"
    subprocess.run([MKSQUASHFS, str(src), str(img), "-noappend", "-nopad", "-quiet", "-no-progress"],
                   check=True, capture_output=True)
    return img.read_bytes()


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"], ids=["zeros", "erased-flash"])
def test_filesystem_then_padding_is_one_part(fill, small_sqfs, tmp_path):
    img = tmp_path / "img.bin"
    img.write_bytes(small_sqfs + fill * 8192)
    ctx = unpack(img, tmp_path / "out")
    chain = ctx.result.image.container_chain
    assert [(n.format, n.offset) for n in chain] == [("squashfs", 0)]
    assert [f.path for f in ctx.result.files if f.type == "file"] == ["/a.txt"]
    assert not ctx.result.warnings


def test_filesystem_then_padding_then_data_is_carved(small_sqfs, tmp_path):
    """Padding ends where other bytes start: the tail is not padding and the file is carved."""
    img = tmp_path / "img.bin"
    img.write_bytes(small_sqfs + b"\xff" * 4096 + small_sqfs)
    ctx = unpack(img, tmp_path / "out")
    parts = [(n.format, n.offset) for n in ctx.result.image.container_chain if n.format == "squashfs"]
    assert parts == [("squashfs", 0), ("squashfs", len(small_sqfs) + 4096)]

