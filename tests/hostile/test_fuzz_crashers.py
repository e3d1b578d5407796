"""Crashers found by fuzzing, kept as regression tests whose inputs are made here from the fuzzer's
code-built seeds (bench/fuzz.py), never stored as blobs."""
import struct
import time

from bench import fuzz


def test_squashfs_block_size_outside_the_format_fails_fast(tmp_path):
    """A squashfs superblock claiming 2 GiB blocks (block_log 31), handed straight to the handler (as the
    first fuzzer harness did, without the probe that rejects it): dissect.squashfs inflated every
    block to 2 GiB and the handler ran 276 s past a 20 s deadline.  Now refused at once."""
    seed = bytearray(fuzz.seeds(tmp_path / "seeds")["squashfs"][0])
    for size, log in ((1 << 31, 31), (1 << 24, 24), (0, 0), (4096, 13)):
        b = bytearray(seed)
        struct.pack_into("<I", b, 12, size)
        struct.pack_into("<H", b, 22, log)
        work = tmp_path / f"w{log}-{size}"
        work.mkdir()
        t0 = time.monotonic()
        status = _run_direct(bytes(b), work)
        assert time.monotonic() - t0 < 10
        assert status == "failed", (size, log, status)
    # the unmodified image still unpacks
    work = tmp_path / "ok"
    work.mkdir()
    assert _run_direct(bytes(seed), work) == "ok"


def _run_direct(data: bytes, work):
    """The squashfs handler run on `data` without its probe (Unpacker.run catches the handler's errors
    and records the part as failed)."""
    import mmap

    from firmpass.context import Limits, ScanContext, ScanOptions
    from firmpass.model import ImageInfo, ScanResult, ToolInfo
    from firmpass.unpack import handlers  # noqa: F401
    from firmpass.unpack.engine import REGISTRY, Src, Unpacker

    h = next(x for x in REGISTRY if x.name == "squashfs")
    img = work / "in.bin"
    img.write_bytes(data)
    res = ScanResult(tool=ToolInfo(version="t"), image=ImageInfo(path=str(img), name="in.bin", sha256="-",
                                                                   sha512="-", size=len(data)))
    ctx = ScanContext(image=img, out=work / "out", result=res,
                      options=ScanOptions(limits=Limits(max_seconds=20)))
    u = Unpacker(ctx)
    u.reset_output()
    node = u.new_node(None, h.name, size=len(data), blob=str(img))
    with open(img, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        u.run(h, node, Src(img, mm, 0, len(mm)), 0)
    return node.status


def test_ext4_huge_directory_honours_the_deadline(tmp_path):
    """An ext4 directory of many empty files: listing it and writing files that have no block to write
    never looked at the clock (50,000 of them ran 28 s past --timeout 30).  Now the listing checks it
    every 1024 entries and every file written checks it.  Run with the deadline already behind (the
    engine's clock starts at the context's start): the limit stops the handler and no file is written
    after it (before, every listed file was still written)."""
    import mmap
    import shutil
    import subprocess

    import pytest

    from firmpass.context import Limits, ScanContext, ScanOptions
    from firmpass.errors import LimitExceeded
    from firmpass.model import ImageInfo, ScanResult, ToolInfo
    from firmpass.unpack import handlers  # noqa: F401
    from firmpass.unpack.engine import REGISTRY, Src, Unpacker

    if not shutil.which("mke2fs"):
        pytest.skip("mke2fs (e2fsprogs) is not installed")
    root = tmp_path / "root" / "d"
    root.mkdir(parents=True)
    for i in range(3000):
        (root / f"f{i}").touch()
    img = tmp_path / "big-dir.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-N", "4000", "-d", str(root.parent), "-F", str(img), "16M"],
                   check=True, capture_output=True)
    h = next(x for x in REGISTRY if x.name == "ext")
    res = ScanResult(tool=ToolInfo(version="t"), image=ImageInfo(path=str(img), name=img.name, sha256="-",
                                                                   sha512="-", size=img.stat().st_size))
    out = tmp_path / "out"
    ctx = ScanContext(image=img, out=out, result=res, options=ScanOptions(limits=Limits(max_seconds=60)))
    ctx.started = time.monotonic() - 120  # the deadline passed a minute ago
    u = Unpacker(ctx)
    u.reset_output()
    node = u.new_node(None, h.name, size=img.stat().st_size, blob=str(img))
    with open(img, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        with pytest.raises(LimitExceeded, match="more than 60 s"):
            u.run(h, node, Src(img, mm, 0, len(mm)), 0)
    written = [p for p in (out / "unpacked").rglob("f*") if p.is_file()]
    assert written == []
