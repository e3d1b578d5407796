"""Compressed streams found after an arbitrary vendor header: LZMA-alone (found by a plausible header
and a stream that decodes, no magic), xz, lz4 frames, lzop, zstd and bzip2; including a series of
LZMA-alone streams after a header, as RTOS web-server images store their pages.  Each stream's output
must be byte-identical to the reference tool's (lz4 -d, lzop -d, xz -d, zstd -d) or to the source."""
from __future__ import annotations

import bz2
import lzma
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unpack.conftest import unpack

HEADER = b"WEBS\x01\x00" + bytes(range(256)) * 3  # a made-up vendor header: no format of its own


def _tool(args: list[str], data: bytes) -> bytes:
    if not shutil.which(args[0]):
        pytest.skip(f"{args[0]} is not installed")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def _streams(ctx):
    return [n for n in ctx.result.image.container_chain if n.parent == "0"]


def _out(tmp_path: Path, ctx, node) -> bytes:
    kid = next(n for n in ctx.result.image.container_chain if n.parent == node.id)
    return (tmp_path / kid.blob).read_bytes()


def test_series_of_lzma_alone_streams_after_a_header(corpus, tmp_path):
    root = corpus / "rootfs"
    pages = [(root / "bin" / "busybox").read_bytes()[:300_000], (root / "etc" / "passwd").read_bytes() * 40,
             (root / "etc" / "shadow").read_bytes() * 30, bytes(random.Random(5).randbytes(20_000))]
    blob, made = HEADER, []
    for i, p in enumerate(pages):
        if i == 1:  # OpenWrt/vendor kernels' properties: lc=1 lp=2 pb=2 (props byte 0x6d)
            f = [{"id": lzma.FILTER_LZMA1, "lc": 1, "lp": 2, "pb": 2, "dict_size": 1 << 23}]
            c = lzma.compress(p, format=lzma.FORMAT_ALONE, filters=f)
        else:
            c = _tool(["xz", "--format=lzma", "-6", "-c"], p)
        if i == 2:  # the LZMA SDK's writer records the uncompressed size instead of -1
            c = c[:5] + len(p).to_bytes(8, "little") + c[13:]
        made.append(c)
        blob += c + b"\0" * (i * 3)
    img = tmp_path / "webs.bin"
    img.write_bytes(blob)
    ctx = unpack(img, tmp_path / "out")
    got = _streams(ctx)
    assert [n.format for n in got] == ["lzma"] * 4
    assert got[1].offset == len(HEADER) + len(made[0]) and bytes((tmp_path / "out" / got[1].blob).read_bytes()[:1]) == b"\x6d"
    for n, p in zip(got, pages):
        assert n.status == "ok" and _out(tmp_path / "out", ctx, n) == p
    assert not ctx.result.warnings


def test_other_streams_after_a_header_match_their_tools(corpus, tmp_path):
    data = (corpus / "rootfs" / "bin" / "busybox").read_bytes()[:500_000]
    parts = {
        "xz": _tool(["xz", "-c"], data),
        "lz4": _tool(["lz4", "-q", "-c"], data),
        "lzop": _tool(["lzop", "-c"], data),
        "zstd": _tool(["zstd", "-q", "-c"], data),
        "bzip2": bz2.compress(data),
    }
    blob = HEADER
    for c in parts.values():
        blob += c + b"\xff" * 13
    img = tmp_path / "mixed.bin"
    img.write_bytes(blob)
    ctx = unpack(img, tmp_path / "out")
    got = _streams(ctx)
    assert [n.format for n in got] == list(parts)
    refs = {"xz": ["xz", "-dc"], "lz4": ["lz4", "-dc"], "lzop": ["lzop", "-dc"], "zstd": ["zstd", "-dc"]}
    for n in got:
        out = _out(tmp_path / "out", ctx, n)
        assert out == data
        if n.format in refs:  # the reference tool agrees
            assert _tool(refs[n.format], parts[n.format]) == out


@pytest.mark.parametrize("opts", [["-1"], ["-9"], ["--crc32"], ["-1", "--no-name"]])
def test_lzop_variants(opts, corpus, tmp_path):
    data = (corpus / "rootfs" / "bin" / "busybox").read_bytes()[:700_000]
    c = _tool(["lzop", *opts, "-c"], data)
    img = tmp_path / "x.bin"
    img.write_bytes(HEADER + c)
    ctx = unpack(img, tmp_path / "out")
    (n,) = _streams(ctx)
    assert n.format == "lzop" and _out(tmp_path / "out", ctx, n) == data


def test_lzma_lookalikes_are_not_carved(tmp_path):
    """Bytes that start like an LZMA header (5d 00 00 ...) but are not one: no lzma part."""
    rnd = random.Random(11)
    blob = bytearray(HEADER + rnd.randbytes(1 << 20))
    for k in range(200):
        at = 4096 + k * 4000
        dic = rnd.choice([1 << 16, 1 << 23, 3 << 20, 12345])
        blob[at: at + 14] = bytes([0x5D]) + dic.to_bytes(4, "little") + b"\xff" * 8 + b"\0"
    blob += lzma.compress(b"real stream " * 1000, format=lzma.FORMAT_ALONE)
    img = tmp_path / "noise.bin"
    img.write_bytes(bytes(blob))
    ctx = unpack(img, tmp_path / "out")
    got = _streams(ctx)
    assert [n.format for n in got] == ["lzma"] and got[0].offset == len(blob) - len(
        lzma.compress(b"real stream " * 1000, format=lzma.FORMAT_ALONE))
