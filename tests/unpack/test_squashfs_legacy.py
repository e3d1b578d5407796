"""Legacy and vendor squashfs (1.x-3.x and vendor 4.x, both byte orders, gzip and vendor LZMA variants).

Three kinds of reference, so that reader and test writer cannot share one misunderstanding:
- a real vendor image (../shared/data/formats/squashfs_v2.bin: big-endian squashfs 2.0 from a
  Broadcom router SDK) against Debian's unsquashfs listing;
- images of the corpus's real binaries written by tests/unpack/sqlegacy_writer.py, which Debian's
  unsquashfs (an independent 1.x-3.x reader) must extract to the source tree too;
- the same writer's LZMA variants, which no installed tool reads, against the source tree;
- for 4.x, Debian's own mksquashfs images given a vendor magic or a lying compressor id.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from firmpass.formats import squashfs_legacy as sl
from tests.unpack.compare import differences, source_tree
from tests.unpack.conftest import unpack
from tests.unpack.sqlegacy_writer import build
from tests.unpack.test_hostile import cli

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / ".." / "shared"
V2 = SHARED / "data" / "formats" / "squashfs_v2.bin"
UNSQUASHFS = shutil.which("unsquashfs")

# small enough to build in seconds, with binaries, symlinks, devices, setuid files and two owners
SUBSET = ("bin", "sbin", "etc", "dev", "var", "www", "usr/bin", "usr/sbin")


def _sub(rel: str) -> bool:
    return rel.split("/")[0] in SUBSET or rel in ("usr",) or any(rel == s or rel.startswith(s + "/") for s in SUBSET)


@pytest.fixture(scope="module")
def rootfs(corpus) -> Path:
    return corpus / "rootfs"


@pytest.fixture(scope="module")
def src(rootfs) -> dict:
    return {p: v for p, v in source_tree(rootfs).items() if _sub(p[1:])}


def _need_v2():
    if not V2.is_file():
        pytest.skip(f"{V2} is absent (../shared is not checked out beside the repository)")


def _parts(ctx):
    return [n for n in ctx.result.image.container_chain if n.format == "squashfs-legacy"]


# ------------------------------------------------------------------------------------- the real sample
def _unsquashfs_listing(img: Path) -> dict[str, dict]:
    """`unsquashfs -lln` (numeric owners) as {path: type, mode, uid, gid, size, link, device}."""
    r = subprocess.run([UNSQUASHFS, "-lln", str(img)], capture_output=True, text=True, check=True)
    out = {}
    types = {"d": "dir", "-": "file", "l": "symlink", "c": "chardev", "b": "blockdev", "p": "fifo", "s": "socket"}
    for line in r.stdout.splitlines():
        m = re.match(r"([dlcbps-])([rwxsStT-]{9}) (\d+)/(\d+) +(\d+|\d+, *\d+) \S+ \S+ squashfs-root(/.*?)?"
                     r"(?: -> (.*))?$", line)
        if not m or not m.group(6):
            continue
        perms = m.group(2)
        mode = 0
        for i, ch in enumerate(perms):
            if ch not in "-ST":
                mode |= 1 << (8 - i)
        if perms[2] in "sS":
            mode |= stat.S_ISUID
        if perms[5] in "sS":
            mode |= stat.S_ISGID
        if perms[8] in "tT":
            mode |= stat.S_ISVTX
        d = {"type": types[m.group(1)], "mode": mode, "uid": int(m.group(3)), "gid": int(m.group(4))}
        if "," in m.group(5):
            d["device"] = tuple(int(x) for x in m.group(5).split(","))
        elif d["type"] == "file":
            d["size"] = int(m.group(5))
        if m.group(7) is not None:
            d["link"] = m.group(7)
        out[m.group(6)] = d
    return out


@pytest.mark.skipif(UNSQUASHFS is None, reason="Debian's unsquashfs (squashfs-tools) is not installed")
def test_real_v2_sample_matches_unsquashfs_listing(tmp_path):
    """Names, types, modes, owners, sizes, link targets and device numbers of every one of the 430
    entries equal Debian's unsquashfs listing of the real big-endian squashfs 2.0 image."""
    _need_v2()
    ref = _unsquashfs_listing(V2)
    assert len(ref) == 430
    ctx = unpack(V2, tmp_path)
    (part,) = _parts(ctx)
    assert part.status == "ok" and part.meta["version"] == "2.0" and part.meta["endian"] == "big"
    got = {f.path: f for f in ctx.result.files}
    assert set(got) == set(ref)
    for path, r in ref.items():
        f = got[path]
        assert (f.type, f.mode, f.uid, f.gid) == (r["type"], r["mode"], r["uid"], r["gid"]), path
        if "size" in r:
            assert f.size == r["size"] and (tmp_path / f.disk_path).stat().st_size == r["size"], path
        if "link" in r:
            assert f.link_target == r["link"], path
        if "device" in r:
            assert tuple(f.device) == r["device"], path


@pytest.mark.skipif(UNSQUASHFS is None, reason="Debian's unsquashfs (squashfs-tools) is not installed")
def test_real_v2_sample_content_is_lzma_and_decodes_whole(tmp_path):
    """The sample's blocks are LZMA (props + dictionary header, Broadcom's variant) although its
    flags look like gzip: unsquashfs stops at the first file ("gzip uncompress failed"), so no
    installed extractor gives reference bytes.  Content is checked against the image's own
    structure instead: every ELF's section headers end inside the file at the declared size and its
    section names are readable, every web page decodes as text."""
    _need_v2()
    r = subprocess.run([UNSQUASHFS, "-d", str(tmp_path / "ref"), str(V2)], capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "uncompress failed" in r.stderr
    ctx = unpack(V2, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.meta["compression"] == "lzma"
    elves = pages = 0
    for f in ctx.result.files:
        if f.type != "file":
            continue
        data = (tmp_path / "out" / f.disk_path).read_bytes()
        assert len(data) == f.size
        if data[:4] == b"\x7fELF":
            e = ">" if data[5] == 2 else "<"
            shoff, = struct.unpack_from(e + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
            if shnum:
                assert shoff + shnum * shentsize <= len(data), f.path
                stroff, = struct.unpack_from(e + "I", data, shoff + shstrndx * shentsize + 16)
                assert data[stroff: stroff + 1] == b"\0" and b".text" in data[stroff:], f.path
            elves += 1
        elif f.path.endswith((".html", ".js", ".css")):
            data.decode("ascii")
            pages += 1
    assert elves > 20 and pages > 50


# ------------------------------------------------------------------------------- writer-made images
@pytest.mark.parametrize("major,be", [(1, False), (1, True), (2, False), (2, True), (3, False), (3, True)])
def test_gzip_images_read_like_unsquashfs(major, be, rootfs, src, tmp_path):
    img = tmp_path / f"v{major}.sqfs"
    img.write_bytes(build(rootfs, major, be, "gzip", include=_sub))
    if UNSQUASHFS:  # the writer follows the format: Debian's reader extracts the source tree from it
        subprocess.run([UNSQUASHFS, "-n", "-d", str(tmp_path / "ref"), str(img)], check=True, capture_output=True)
        ref = source_tree(tmp_path / "ref")
        assert {p: {k: v for k, v in d.items() if k != "uid" and k != "gid"} for p, d in ref.items()} == \
               {p: {k: v for k, v in d.items() if k != "uid" and k != "gid"} for p, d in src.items()}
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.status == "ok" and part.meta["version"] == f"{major}.0" and part.meta["compression"] == "gzip"
    assert part.meta["endian"] == ("big" if be else "little")
    assert differences(src, ctx.result.files, tmp_path / "out") == []


@pytest.mark.parametrize("major,be,codec,magic", [
    (3, False, "lzma-alone", None),   # sqlzma / OpenWrt-style
    (3, True, "lzma-props", None),    # Broadcom-style 5-byte header
    (2, True, "lzma-raw", None),      # no header, properties fixed by the SDK
    (3, False, "lzma-alone", b"shsq"),  # a vendor magic
])
def test_lzma_variants(major, be, codec, magic, rootfs, src, tmp_path):
    keep = ("bin", "etc", "dev")
    srcs = {p: v for p, v in src.items() if p.split("/")[1] in keep}
    img = tmp_path / "lzma.sqfs"
    img.write_bytes(build(rootfs, major, be, codec, include=lambda rel: rel.split("/")[0] in keep, magic=magic))
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.status == "ok" and part.meta["compression"].startswith("lzma")
    if codec == "lzma-raw":
        assert part.meta["compression"] == "lzma-raw(lc=0,lp=2,pb=2)"
    assert differences(srcs, ctx.result.files, tmp_path / "out") == []


# ------------------------------------------------------------------------------- 4.x vendor variants
@pytest.mark.parametrize("name", ["rootfs-gzip.sqfs", "rootfs-xz.sqfs", "rootfs-lzo.sqfs", "rootfs-lz4.sqfs",
                                  "rootfs-zstd.sqfs"])
def test_real_v4_images_with_a_vendor_magic(name, corpus, src_tree, formats, tmp_path):
    """Debian's mksquashfs images with the magic a vendor used ("shsq"): the standard reader refuses
    them, ours reads every compressor to the source tree (real 4.0 bytes: an independent check of
    the 4.x layout this module reads)."""
    from tests.unpack.test_formats import BASE, _subset

    data = bytearray((corpus / name).read_bytes())
    data[:4] = b"shsq"
    img = tmp_path / "vendor.sqfs"
    img.write_bytes(bytes(data))
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.status == "ok" and part.meta["version"] == "4.0" and part.meta["magic"] == "shsq"
    spec = BASE.get(name) or formats[name]
    assert differences(_subset(src_tree, spec), ctx.result.files, tmp_path / "out",
                       owners=spec.get("owners", True)) == []


def test_real_xz_image_whose_compressor_id_says_gzip(corpus, src_tree, tmp_path):
    data = bytearray((corpus / "rootfs-xz.sqfs").read_bytes())
    struct.pack_into("<H", data, 20, 1)  # the id says gzip, the blocks are xz
    img = tmp_path / "liar.sqfs"
    img.write_bytes(bytes(data))
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.meta["compression_id"] == "gzip" and part.meta["compression"] == "xz" and part.status == "ok"
    assert differences(src_tree, ctx.result.files, tmp_path / "out", owners=False) == []


@pytest.mark.parametrize("be,codec,comp_id", [(True, "gzip", 1), (False, "lzma-props", 1), (True, "lzma-alone", 2)])
def test_v4_writer_variants(be, codec, comp_id, rootfs, src, tmp_path):
    """Big-endian 4.0 and LZMA blocks under a gzip id (Realtek/Broadcom SDKs): the writer's little-endian
    gzip 4.0 is first checked with unsquashfs and dissect (the standard path), then the variants."""
    keep = ("bin", "etc", "dev")
    srcs = {p: v for p, v in src.items() if p.split("/")[1] in keep}
    def inc(rel):
        return rel.split("/")[0] in keep

    std = tmp_path / "std.sqfs"
    std.write_bytes(build(rootfs, 4, False, "gzip", include=inc))
    if UNSQUASHFS:
        subprocess.run([UNSQUASHFS, "-n", "-d", str(tmp_path / "ref"), str(std)], check=True, capture_output=True)
        assert source_tree(tmp_path / "ref") == srcs
    ctx = unpack(std, tmp_path / "std")
    assert [n.format for n in ctx.result.image.container_chain] == ["squashfs"]
    assert differences(srcs, ctx.result.files, tmp_path / "std") == []
    img = tmp_path / "v4.sqfs"
    img.write_bytes(build(rootfs, 4, be, codec, include=inc, comp_id=comp_id))
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.status == "ok" and part.meta["endian"] == ("big" if be else "little")
    assert differences(srcs, ctx.result.files, tmp_path / "out") == []


def test_carved_after_a_vendor_header(rootfs, src, tmp_path):
    img = tmp_path / "fw.bin"
    keep = ("etc",)
    body = build(rootfs, 3, True, "gzip", include=lambda rel: rel.split("/")[0] in keep)
    img.write_bytes(b"wrgg" + bytes(0x7C) + body + b"\xff" * 4096)
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.offset == 0x80 and part.status == "ok"
    srcs = {p: v for p, v in src.items() if p.split("/")[1] in keep}
    assert differences(srcs, [f for f in ctx.result.files if f.container == part.id], tmp_path / "out") == []


# ------------------------------------------------------------------------------------ hostile input
def _hostile_copies(data: bytes, seed: int):
    rnd = random.Random(seed)
    yield "truncated-half", data[: len(data) // 2]
    yield "truncated-tables", data[: len(data) - 6000]
    for i in range(6):
        b = bytearray(data)
        for _ in range(40):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        yield f"flipped-{i}", bytes(b)
    b = bytearray(data)  # metadata tables flipped (inode and directory tables are at the end)
    for _ in range(60):
        b[rnd.randrange(len(b) - 20000, len(b))] ^= 0xFF
    yield "flipped-tables", bytes(b)
    sb = sl.detect(data, 0, len(data))
    e = sb.endian
    lies = [("size-lie", 8, "I", 0xFFFFFF00), ("inodes-lie", 4, "I", 0xFFFFFFFF),
            ("root-lie", 43, "Q", 0xFFFF_0000_1FFF), ("ids-lie", 37, "B", 255)]
    if sb.major == 4:
        lies = [("size-lie", 40, "Q", 1 << 40), ("frags-lie", 16, "I", 0xFFFFFFFF),
                ("root-lie", 32, "Q", 0xFFFF_0000_1FFF), ("ids-lie", 26, "H", 0xFFFF), ("blocksize-lie", 12, "I", 1 << 20)]
    for name, off, fmt, val in lies:
        b = bytearray(data)
        struct.pack_into(e + fmt, b, off, val)
        yield name, bytes(b)
    if sb.major == 3:
        b = bytearray(data)
        struct.pack_into(e + "Q", b, 63, 1 << 40)
        yield "size64-lie", bytes(b)


def _check_hostile(data: bytes, seed: int, tmp_path: Path) -> None:
    """Every hostile copy: a partial result or the one-line 'unusable input' answer, never a traceback.
    In-process for speed (UnusableInput is what the CLI turns into exit 2); two copies through the CLI."""
    from firmpass.errors import UnusableInput

    tmp_path.mkdir(parents=True, exist_ok=True)
    for i, (name, copy) in enumerate(_hostile_copies(data, seed)):
        img = tmp_path / f"{name}.bin"
        img.write_bytes(copy)
        if i < 2:
            r = cli("unpack", str(img), "-o", str(tmp_path / f"out-{name}"))
            assert r.returncode in (0, 2), (name, r.stderr)
            assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, (name, r.stderr)
            if r.returncode == 2:
                assert len([x for x in r.stderr.splitlines() if x.strip()]) == 1, (name, r.stderr)
            continue
        try:
            ctx = unpack(img, tmp_path / f"out-{name}")
        except UnusableInput:
            continue
        for part in _parts(ctx):
            if part.status != "ok":
                assert any(w.part == part.id for w in ctx.result.warnings), name


def test_hostile_copies_of_writer_images(rootfs, tmp_path):
    keep = ("etc", "bin")
    for major, be in ((3, False), (2, True), (1, False), (4, True)):
        data = build(rootfs, major, be, "gzip", include=lambda rel: rel.split("/")[0] in keep)
        _check_hostile(data, major, tmp_path / f"v{major}")


def test_hostile_copies_of_real_sample(tmp_path):
    _need_v2()
    _check_hostile(V2.read_bytes(), 11, tmp_path)


def test_truncated_sample_keeps_what_is_readable(tmp_path):
    """Cut in its data, the image still lists every entry (tables are at the end... so cut the data
    instead by zeroing a stretch): the files whose blocks were lost are named, the rest unpack."""
    _need_v2()
    b = bytearray(V2.read_bytes())
    b[0x100000:0x180000] = bytes(0x80000)
    img = tmp_path / "holed.bin"
    img.write_bytes(bytes(b))
    ctx = unpack(img, tmp_path / "out")
    (part,) = _parts(ctx)
    assert part.status == "partial" and part.meta["unreadable"]
    assert any(w.code == "files_unreadable" for w in ctx.result.warnings)
    files = [f for f in ctx.result.files if f.type == "file"]
    assert len(ctx.result.files) == 430 and sum(1 for f in files if f.disk_path) > len(files) // 2


def test_directory_loop_terminates(rootfs, tmp_path, monkeypatch):
    """A directory listing that points back at the root (a hostile image's cycle) is walked once:
    the shared walk keys directories by inode reference."""
    data = build(rootfs, 3, False, "gzip", include=lambda rel: rel == "etc")
    listdir = sl.LegacySquashfs.listdir

    def looping(self, d):
        return listdir(self, d) + [(b"again", self.sb.root_inode)]

    monkeypatch.setattr(sl.LegacySquashfs, "listdir", looping)
    img = tmp_path / "loop.sqfs"
    img.write_bytes(data)
    ctx = unpack(img, tmp_path / "out")
    paths = {f.path for f in ctx.result.files}
    assert paths == {"/etc", "/etc/again", "/again", "/again/etc", "/again/again"}  # each directory walked once


@pytest.mark.skipif(os.geteuid() != 0, reason="making files of 40 owners needs root")
@pytest.mark.parametrize("major,be", [(1, False), (1, True), (3, True)])
def test_many_owners(major, be, tmp_path):
    """40 owners: past 16, squashfs 1.x keeps the uid index's high bits in the inode type (in the ipc
    inode's offset field for a fifo).  unsquashfs and firmpass must both give every owner back."""
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    want = {}
    for i in range(1, 41):
        p = tree / "d" / f"f{i}"
        p.write_text(f"file {i}\n")
        os.chown(p, 1000 + i, 2000 + i % 7)
        want[f"/d/f{i}"] = (1000 + i, 2000 + i % 7)
    os.mkfifo(tree / "d" / "fifo")
    os.chown(tree / "d" / "fifo", 1039, 2001)
    want["/d/fifo"] = (1039, 2001)
    img = tmp_path / "owners.sqfs"
    img.write_bytes(build(tree, major, be, "gzip"))
    if UNSQUASHFS:
        ref = _unsquashfs_listing(img)
        assert {p: (d["uid"], d["gid"]) for p, d in ref.items() if p != "/d"} == want
    ctx = unpack(img, tmp_path / "out")
    got = {f.path: (f.uid, f.gid) for f in ctx.result.files if f.path != "/d"}
    assert got == want
