"""Linux kernel versions from real kernel images, one per payload compressor (issue 11, item 4).

tests/corpus/build-kernels.sh fetches Debian's ARM kernels: the armmp and marvell zImages (XZ payloads,
as shipped), the arm64 Image (uncompressed, as shipped); build.sh's x86 bzImage carries Debian's own
LZ4 payload.  Debian builds no kernel with gzip, LZMA, LZO, zstd or bzip2, so for those the script
takes the real armmp kernel's decompressed image and recompresses it with the command the kernel's
own build uses for that compressor, behind the real zImage's decompressor stub.  The stub is not run,
and it does not matter to the search: the version is read from the banner inside the payload, which
is the real kernel's; only the compressed bytes around it are made here.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from firmpass.identify import identify
from firmpass.formats import kernel as kern
from firmpass.model import FileEntry
from tests.treectx import context_from_tree

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def _kernels(corpus) -> dict:
    return json.loads((Path(corpus) / "kernels" / "kernels.json").read_text())


NAMES = ["zImage-xz", "zImage-marvell-xz", "Image-arm64", "vmlinux-arm", "zImage-gzip", "zImage-lzma", "zImage-lzo",
         "zImage-lz4", "zImage-zstd", "zImage-bzip2", "uImage-lzo", "uImage-lz4"]


@pytest.mark.parametrize("name", NAMES)
def test_version_per_compressor(corpus, name):
    truth = _kernels(corpus)[name]
    data = (Path(corpus) / "kernels" / name).read_bytes()
    kv = kern.kernel_version(data)
    assert kv is not None, name
    assert kv["version"] == truth["version"]  # the upstream version (Debian 6.1.x-n), not the ABI name 6.1.0
    assert kv["release"].startswith("6.1.0-") and kv["release"] != kv["version"]
    c = truth["compressor"]
    assert kv["method"] == ("kernel-banner" if c == "none" else f"kernel-banner-{c}")


def test_every_compressor_covered(corpus):
    """Every compressor identify reads has a real kernel (or a real kernel recompressed) in the corpus."""
    have = {t["compressor"] for t in _kernels(corpus).values()} | {"lz4"}  # + kernel.bin (Debian's LZ4 bzImage)
    assert set(kern.COMPRESSORS) <= have


def test_debian_bzimage_lz4_payload(corpus):
    """Debian's x86 cloud kernel compresses its payload with LZ4: the banner is found there too."""
    pl = kern.payload_version((Path(corpus) / "kernel.bin").read_bytes())
    assert pl["method"] == "kernel-banner-lz4"


def test_truncated_payload_and_bounds(corpus):
    data = (Path(corpus) / "kernels" / "zImage-gzip").read_bytes()
    # the banner sits far into the kernel: a payload cut short before it gives no version, and no error
    assert kern.kernel_version(data[: len(data) // 10]) is None
    assert kern.payload_version(data, limit=1 << 16) is None  # bounded in bytes
    t = time.process_time()
    assert kern.payload_version((Path(corpus) / "kernels" / "zImage-bzip2").read_bytes(), seconds=0.2) is None
    assert time.process_time() - t < 5  # bounded in CPU time (one 1 MiB chunk may finish after the deadline)


def test_lz4_literal_banner_not_taken(corpus):
    """An LZ4 stream keeps the banner's first words as a literal run: a cut banner is not a version."""
    data = (Path(corpus) / "kernels" / "zImage-lz4").read_bytes()
    assert b"Linux version 6.1.0-" in data  # the literal is there ...
    assert kern.kernel_version(data, decompress=False) is None  # ... and is not read as the banner


@pytest.mark.parametrize("name,method", [("zImage-gzip", "kernel-banner-gzip"), ("uImage-lzo", "kernel-banner-lzo"),
                                         ("vmlinux-arm", "kernel-banner")])
def test_scan_names_kernel(corpus, tmp_path, name, method):
    """The whole scan path: unpack recognises the ARM zImage / the uImage / carves the raw Image (whose
    code holds xz and zstd magics), identify reads the banner from the payload or the image."""
    from firmpass.pipeline import scan

    ctx = scan(Path(corpus) / "kernels" / name, tmp_path / "out", stages=["unpack", "inventory", "identify"])
    lx = [c for c in ctx.result.components if c.name == "linux"]
    assert lx and lx[0].version == _kernels(corpus)[name]["version"]
    assert lx[0].evidence[0].method == method and lx[0].hashes["sha256"]
    assert ctx.result.image.opened is True


@pytest.mark.parametrize("c", ["xz", "gzip", "lzma", "lzo", "lz4", "zstd", "bzip2"])
def test_zimage_leaf_records_payload_compression(corpus, tmp_path, c):
    """The unpack stage's kernel leaf names the compressor of an ARM zImage's payload (bytes after the stub)."""
    from tests.unpack.conftest import unpack

    ctx = unpack(Path(corpus) / "kernels" / f"zImage-{c}", tmp_path / "out")
    root = ctx.result.image.container_chain[0]
    assert root.format == "linux-kernel" and root.meta["kind"] == "ARM zImage"
    assert root.meta["payload_compression"] == c and root.meta["payload_offset"] > 0x30


def test_module_vermagic_real_debian(corpus, tmp_path):
    """A real module of Debian's armmp kernel: vermagic= names the release it was built for."""
    ko = next((Path(corpus) / "kernels" / "modules").rglob("mii.ko"))
    release = ko.relative_to(Path(corpus) / "kernels" / "modules").parts[2]
    m = ko.read_bytes()
    tag = kern.module_tag(m)
    assert tag == ("vermagic", release)
    ctx = context_from_tree(tmp_path, tmp_path / "out")
    path = f"/lib/modules/{release}/kernel/drivers/net/mii.ko"
    ctx.result.files.append(FileEntry(path=path, container="0.1", type="file", size=len(m), disk_path=str(ko)))
    lx = [c for c in identify(ctx, use_package_db=False) if c.name == "linux"]
    assert lx[0].version == "6.1.0" and lx[0].evidence[0].method == "vermagic"  # the ABI version: weak
    assert lx[0].confidence < 0.95 and ctx.result.extra["kernel"]["modules"] == [path]


def test_module_without_vermagic_real_openwrt():
    """OpenWrt strips vermagic from its modules (real 3.18 modules of the router rootfs in ../shared):
    no version from them, and no error."""
    import tarfile

    tb = SHARED / "data" / "firmware" / "ph0wn-r0-rootfs-mipsel.tar.bz2"
    if not tb.is_file():
        pytest.skip("../shared/data/firmware is absent")
    with tarfile.open(tb) as t:
        m = t.extractfile("rootfs-mipsel/lib/modules/3.18.109/mii.ko").read()
    assert b"license=GPL" in m and kern.module_tag(m) is None


def test_module_kernel_version_linux24(tmp_path):
    """Linux 2.4 modules (*.o) name their kernel in .modinfo as kernel_version=.  Crafted: no real 2.4
    module is in the corpus or ../shared; the bytes follow the .modinfo layout (NUL-separated tags)."""
    modinfo = b"\x00kernel_version=2.4.20\x00using_checksums=1\x00license=GPL\x00"
    assert kern.module_tag(modinfo) == ("kernel_version", "2.4.20")
    assert kern.is_module("/lib/modules/2.4.20/kernel/drivers/net/pcnet32.o")
    assert not kern.is_module("/usr/lib/crt1.o")
    o = tmp_path / "pcnet32.o"
    o.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(57) + modinfo)
    ctx = context_from_tree(tmp_path, tmp_path / "out")
    ctx.result.files.append(FileEntry(path="/lib/modules/2.4.20/kernel/drivers/net/pcnet32.o", container="0.1",
                                      type="file", size=o.stat().st_size, disk_path=str(o)))
    lx = [c for c in identify(ctx, use_package_db=False) if c.name == "linux"]
    assert lx[0].version == "2.4.20" and lx[0].evidence[0].match == "kernel_version=2.4.20"
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


@pytest.mark.parametrize("c", ["xz", "lzo"])
def test_identify_uses_the_payload_unpack_recorded(corpus, tmp_path, monkeypatch, c):
    """Issue 17 (4): identify reads the kernel version from the payload the unpack stage's kernel leaf
    found (ContainerNode.meta), decompressing that one stream, not searching the stub for magics again;
    the answer is the one the search gives, and the kernel is recorded once."""
    from firmpass.pipeline import scan

    data = (Path(corpus) / "kernels" / f"zImage-{c}").read_bytes()
    streams = []
    real = kern._search_stream
    monkeypatch.setattr(kern, "_search_stream", lambda *a, **k: streams.append(1) or real(*a, **k))
    searched = kern.kernel_version(data)  # without what unpack recorded: every plausible magic is tried
    n_search = len(streams)
    streams.clear()
    ctx = scan(Path(corpus) / "kernels" / f"zImage-{c}", tmp_path / "out", stages=["unpack", "inventory", "identify"])
    node = ctx.result.image.container_chain[0]
    assert node.meta["payload_compression"] == c
    assert len(streams) == 1 < n_search  # one stream decompressed: the recorded one
    lx = [x for x in ctx.result.components if x.name == "linux"]
    assert len(lx) == 1 and lx[0].version == searched["version"] == _kernels(corpus)[f"zImage-{c}"]["version"]
    assert lx[0].evidence[0].method == searched["method"] == f"kernel-banner-{c}"
    assert ctx.result.extra["kernel"]["version"] == searched["version"]


def test_identify_takes_the_bzimage_version_unpack_read(corpus, tmp_path, monkeypatch):
    """The x86 bzImage's version string, read by unpack from the setup header, is not parsed again."""
    from firmpass.pipeline import scan

    data = (Path(corpus) / "kernel.bin").read_bytes()
    header = kern.bzimage_version(data)
    monkeypatch.setattr(kern, "bzimage_version", lambda d: pytest.fail("bzImage header parsed again"))
    ctx = scan(Path(corpus) / "kernel.bin", tmp_path / "out", stages=["unpack", "inventory", "identify"])
    assert ctx.result.image.container_chain[0].meta["version_string"] == header["banner"]
    lx = [x for x in ctx.result.components if x.name == "linux"]
    assert len(lx) == 1 and lx[0].version == header["version"] and lx[0].evidence[0].method == "bzimage-header"
    # a recorded string as long as unpack's 256-byte read may be cut: the header is read again, whole
    monkeypatch.undo()
    assert kern.kernel_version(data, decompress=False, recorded={"version_string": "9.9." + "x" * 300}) == header
