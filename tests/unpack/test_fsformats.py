"""cramfs, romfs, YAFFS2, 7z, RAR, Matter OTA and Arcadyan images: from Debian's writers over the
corpus tree (tests/corpus/build-vendorfs.sh), from the test writer that follows the published YAFFS2
layout, and the real samples in ../shared/data/formats (skipped where ../shared is absent)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unpack import yaffs2_writer
from tests.unpack.compare import differences
from tests.unpack.conftest import unpack

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "formats"
LSB_RELEASE = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n"  # the file the binwalk samples hold


def sample(name: str) -> Path:
    p = SHARED / name
    if not p.is_file():
        pytest.skip(f"{p} is absent (the format samples live in ../shared/data/formats beside the repository)")
    return p


def built(corpus: Path, name: str) -> Path:
    p = corpus / name
    if not p.is_file():
        pytest.skip(f"{name} was not built: its writer is not installed (see tests/corpus/build-vendorfs.sh)")
    return p


def fs_files(ctx, chain: list[str]):
    hits = [fs for fs in ctx.filesystems() if next(f.chain for f in ctx.result.files if f.container == fs) == chain]
    assert hits, f"no filesystem with chain {chain}: {[n.format for n in ctx.result.image.container_chain]}"
    return [f for f in ctx.result.files if f.container == hits[0]]


def by_path(ctx) -> dict:
    return {f.path: f for f in ctx.result.files}


# ------------------------------------------------------------------ Debian writers over the corpus tree
@pytest.mark.parametrize("name", ["rootfs.cramfs", "rootfs-be.cramfs"])
def test_cramfs_both_byte_orders_unpack_identically(name, corpus, src_tree, tmp_path):
    ctx = unpack(built(corpus, name), tmp_path)
    root = ctx.result.image.container_chain[0]
    assert root.format == "cramfs" and root.meta["endian"] == ("big" if "-be" in name else "little")
    # cramfs keeps modes, 16-bit uids and 8-bit gids (the corpus tree's owners fit)
    assert differences(src_tree, fs_files(ctx, ["cramfs"]), tmp_path, owners=True) == []
    assert not ctx.result.warnings


def test_cramfs_bytes_match_fsck_cramfs(corpus, tmp_path):
    """Every regular file is byte-identical to what util-linux's fsck.cramfs --extract writes."""
    fsck = shutil.which("fsck.cramfs") or "/sbin/fsck.cramfs"
    if not Path(fsck).exists():
        pytest.skip("fsck.cramfs (util-linux) is not installed")
    ref = tmp_path / "ref"
    subprocess.run([fsck, f"--extract={ref}", str(built(corpus, "rootfs.cramfs"))], check=True, capture_output=True)
    ctx = unpack(corpus / "rootfs.cramfs", tmp_path / "out")
    n = 0
    for f in fs_files(ctx, ["cramfs"]):
        if f.type == "file":
            assert (tmp_path / "out" / f.disk_path).read_bytes() == (ref / f.path.lstrip("/")).read_bytes(), f.path
            n += 1
    assert n > 100


def test_romfs_unpacks_names_types_content_and_devices(corpus, src_tree, tmp_path):
    """romfs stores no owners and no permission bits (only an executable flag): the modes are the ones the
    Linux kernel gives (0644 / 0755 with the flag, symlinks 0777, devices 0600); everything else matches."""
    ctx = unpack(built(corpus, "rootfs.romfs"), tmp_path)
    files = fs_files(ctx, ["romfs"])
    diffs = differences(src_tree, files, tmp_path, owners=False)
    assert diffs and all(": mode " in d for d in diffs)  # permissions are all romfs loses
    got = {f.path: f for f in files}
    assert got["/bin/busybox"].mode == 0o755 and got["/etc/shadow"].mode == 0o644
    assert got["/dev/console"].type == "chardev" and got["/dev/console"].device == (5, 1)
    assert ctx.result.image.container_chain[0].meta["volume"] == "acme-rootfs"


def test_7z_unpacks_identically(corpus, src_tree, tmp_path):
    ctx = unpack(built(corpus, "etc.7z"), tmp_path)
    src = {p: v for p, v in src_tree.items() if p == "/etc" or p.startswith("/etc/")}
    assert differences(src, fs_files(ctx, ["7z"]), tmp_path, owners=False) == []


def _rar(corpus, name: str) -> Path:
    meta = json.loads((corpus / "vendorfs.json").read_text())
    p = corpus / "rar" / name
    if meta.get("rar") == "none" or not p.is_file():
        pytest.skip("the rarfile sdist's RAR test files were not fetched (offline corpus build)")
    return p


@pytest.mark.parametrize("name", ["rar3-subdirs.rar", "rar5-subdirs.rar"])
def test_rar4_and_rar5_unpack(name, corpus, tmp_path):
    ctx = unpack(_rar(corpus, name), tmp_path)
    node = ctx.result.image.container_chain[0]
    assert node.format == "rar" and node.meta["rar_version"] == (5 if name.startswith("rar5") else 4)
    got = by_path(ctx)
    assert {"/sub/dir1/file1.txt", "/sub/dir2/file2.txt", "/sub/with space/long fn.txt",
            "/sub/üȵĩöḋè/file.txt", "/sub/empty"} <= set(got)
    assert got["/sub/empty"].type == "dir"
    assert (tmp_path / got["/sub/dir1/file1.txt"].disk_path).read_bytes() == b"file1\n"
    assert (tmp_path / got["/sub/with space/long fn.txt"].disk_path).read_bytes() == b"long fn\n"


@pytest.mark.parametrize("name", ["rar3-symlink-unix.rar", "rar5-symlink-unix.rar"])
def test_rar_symlinks_kept_verbatim(name, corpus, tmp_path):
    ctx = unpack(_rar(corpus, name), tmp_path)
    got = by_path(ctx)
    assert got["/data_link"].type == "symlink" and got["/data_link"].link_target == "data.txt"
    assert got["/random_link"].link_target == "../random123"  # recorded, never followed
    assert got["/data.txt"].mode == 0o664


# ------------------------------------------------------------------ YAFFS2 from the published layout
LAYOUTS = [
    {"page": 2048, "spare": 64},
    {"page": 2048, "spare": 64, "tag_off": 2, "endian": ">"},
    {"page": 2048, "spare": 64, "tag_off": 2, "extra": True},
    {"page": 4096, "spare": 128, "extra": True},
    {"page": 2048, "spare": 64, "tag_off": 40},  # ECC bytes first, tags at the end of the OOB
    {"page": 512, "spare": 16},
    {"page": 512, "spare": 16, "yaffs1": True},
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()))
def test_yaffs2_layouts_unpack_identically(layout, corpus, src_tree, tmp_path):
    img = tmp_path / "rootfs.yaffs2"
    yaffs2_writer.write(corpus / "rootfs", img, **layout)
    ctx = unpack(img, tmp_path / "out")
    node = ctx.result.image.container_chain[0]
    assert node.format == "yaffs2"
    assert (node.meta["page"], node.meta["spare"]) == (layout["page"], layout["spare"])
    assert node.meta["tags"] == ("yaffs1" if layout.get("yaffs1") else "yaffs2")
    # owners, modes, hard links, symlinks and device numbers are all in the object headers
    assert differences(src_tree, fs_files(ctx, ["yaffs2"]), tmp_path / "out", owners=True) == []
    assert not ctx.result.warnings


def _nand_dump(tree: Path, tmp_path: Path, page: int, spare: int, **kw) -> tuple[bytes, int]:
    """A raw NAND dump as a programmer reads it (each page followed by its spare area): a 'bootloader'
    partition of two erase blocks, the YAFFS2 partition at the next erase-block boundary, erased blocks
    after it.  Returns the dump and the YAFFS2 offset."""
    fs = tmp_path / "part.yaffs2"
    yaffs2_writer.write(tree, fs, page=page, spare=spare, **kw)
    chunk, pages = page + spare, (32 if page == 512 else 64)
    block = chunk * pages
    boot = b"".join((b"U-Boot SPL 2016.03 (vendor) %06d " % i).ljust(page, b"\0") + b"\xff" * spare
                    for i in range(2 * pages))
    data = fs.read_bytes()
    data += b"\xff" * (-len(data) % block) + b"\xff" * block
    return boot + data, len(boot)


@pytest.mark.parametrize("page,spare,kw", [(2048, 64, {}), (512, 16, {}), (4096, 128, {"tag_off": 2}),
                                           (2048, 64, {"tag_off": 40})],
                         ids=["2048-64", "512-16", "4096-128-after-bbm", "2048-64-ecc-first"])
def test_yaffs2_inside_a_raw_nand_dump(page, spare, kw, corpus, tmp_path):
    """YAFFS2 is found at its erase-block boundary inside a whole NAND dump with spare areas, and reads
    to the same tree as on its own (names, modes, owners, content)."""
    from tests.unpack.compare import source_tree

    tree = corpus / "rootfs" / "etc"
    dump, at = _nand_dump(tree, tmp_path, page, spare, **kw)
    img = tmp_path / "nand.bin"
    img.write_bytes(dump)
    ctx = unpack(img, tmp_path / "out")
    ys = [n for n in ctx.result.image.container_chain if n.format == "yaffs2"]
    assert [(n.offset, n.meta["page"], n.meta["spare"]) for n in ys] == [(at, page, spare)]
    files = [f for f in ctx.result.files if f.container == ys[0].id]
    assert differences(source_tree(tree), files, tmp_path / "out", owners=True) == []


def test_yaffs2_nand_scan_finds_nothing_in_other_data(corpus, tmp_path):
    """A dump-sized file of other data (the corpus's ext4 image, a whole number of 2048+64 chunks after
    trimming) gives no YAFFS2 part: the candidate offsets still have to read as consistent tags."""
    data = (corpus / "rootfs.ext4").read_bytes()
    data = data[: len(data) // 2112 * 2112]
    img = tmp_path / "x.bin"
    img.write_bytes(b"\0" * 2112 * 64 + data[2112 * 64:])
    ctx = unpack(img, tmp_path / "out")
    assert "yaffs2" not in {n.format for n in ctx.result.image.container_chain}


# ------------------------------------------------------------------ the real samples (../shared)
def test_sample_cramfs_matches_fsck_cramfs(tmp_path):
    p = sample("cramfs.bin")
    ctx = unpack(p, tmp_path)
    f = by_path(ctx)["/lsb-release"]
    assert (f.mode, f.uid, f.gid, f.size) == (0o644, 1000, 232, 104)  # gid 1000 cut to cramfs's 8 bits
    data = (tmp_path / f.disk_path).read_bytes()
    assert data.startswith(LSB_RELEASE.encode())
    fsck = shutil.which("fsck.cramfs") or "/sbin/fsck.cramfs"
    if Path(fsck).exists():
        subprocess.run([fsck, f"--extract={tmp_path / 'ref'}", str(p)], check=True, capture_output=True)
        assert (tmp_path / "ref" / "lsb-release").read_bytes() == data


def test_sample_romfs(tmp_path):
    ctx = unpack(sample("romfs.bin"), tmp_path)
    f = by_path(ctx)["/lsb-release"]
    assert ctx.result.image.container_chain[0].format == "romfs"
    assert (tmp_path / f.disk_path).read_bytes().startswith(LSB_RELEASE.encode()) and f.size == 104


def test_sample_7z_matches_7z_listing(tmp_path):
    p = sample("7z.bin")
    ctx = unpack(p, tmp_path)
    f = by_path(ctx)["/lsb-release"]
    assert (tmp_path / f.disk_path).read_bytes().startswith(LSB_RELEASE.encode()) and f.size == 104
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        out = subprocess.run([seven, "x", "-so", str(p), "lsb-release"], capture_output=True, check=True).stdout
        assert out == (tmp_path / f.disk_path).read_bytes()


def test_sample_yaffs2_names_and_sizes(tmp_path):
    """The names and sizes are readable in the image: each object header's name, and its data chunks'
    byte counts in the spare tags (8 chunks of 2048 bytes minus 1285 for mkyaffs2image.c...)."""
    ctx = unpack(sample("yaffs2.bin"), tmp_path)
    node = ctx.result.image.container_chain[0]
    assert (node.format, node.meta["page"], node.meta["spare"], node.meta["tag_offset"]) == ("yaffs2", 2048, 64, 0)
    got = {f.path: f for f in ctx.result.files}
    assert len(got) == 13
    assert got["/mkyaffs2image.c"].size == 7 * 2048 + 0x303
    assert got["/yaffs_guts.h"].size == 13 * 2048 + 0x282
    assert got["/yutilsenv.h"].size == 0x34C
    for f in got.values():
        text = (tmp_path / f.disk_path).read_bytes()
        assert len(text) == f.size and b"\xff" not in text and text.startswith(b"/*")
        assert f.mode == 0o664 and (f.uid, f.gid) == (1000, 1000)
    assert (tmp_path / got["/mkyaffs2image.c"].disk_path).read_bytes().rstrip().endswith(b"exit(error);\n}")


def test_sample_matter_ota_header_and_payload(tmp_path):
    ctx = unpack(sample("matter_ota.bin"), tmp_path)
    node, payload = ctx.result.image.container_chain[:2]
    assert node.format == "matter-ota"
    assert node.meta["vendor_id"] == 0x1234 and node.meta["product_id"] == 0x1234
    assert node.meta["software_version_string"] == "1.2.120.0" and node.meta["payload_size"] == 8
    assert node.meta["image_digest_type"] == "sha256" and node.meta["image_digest_ok"] is True
    assert (tmp_path / payload.blob).read_bytes() == b"PAYLOAD\n" and payload.offset == 0x58


def test_sample_arcadyan_deobfuscated_lzma(tmp_path):
    ctx = unpack(sample("arcadyan.bin"), tmp_path)
    chain = ctx.result.image.container_chain
    assert [n.format for n in chain[:2]] == ["arcadyan", "lzma"]
    assert chain[1].meta["decompressed_size"] == 2813252 and chain[1].status == "ok"
    # the de-obfuscated LZMA header (properties 0x5d, 8 MiB dictionary) declares 0x2aed44 bytes
    lz = (tmp_path / chain[1].blob).read_bytes()
    assert lz[:5] == bytes.fromhex("5d00008000") and int.from_bytes(lz[5:13], "little") == 0x2AED44
    assert (tmp_path / chain[2].blob).stat().st_size == 0x2AED44
    assert not ctx.result.warnings


# ------------------------------------------------------------------ every sample in ../shared opens
# What each sample is (../shared/data/formats/README.md) and the parts firmpass must find in it.  A
# sample added to the directory without a line here fails the test below, so none is left unchecked.
SAMPLE_FORMATS = {
    "7z.bin": ["7z"],
    "arcadyan.bin": ["arcadyan", "lzma"],
    "cramfs.bin": ["cramfs"],
    "matter_ota.bin": ["matter-ota"],
    "romfs.bin": ["romfs"],
    "squashfs_v2.bin": ["squashfs-legacy"],
    "yaffs2.bin": ["yaffs2"],
}


def _all_samples() -> list[str]:
    return sorted(p.name for p in SHARED.glob("*.bin")) if SHARED.is_dir() else ["(../shared absent)"]


@pytest.mark.parametrize("name", _all_samples())
def test_every_shared_sample_opens(name, tmp_path):
    """Every image in ../shared/data/formats opens: its format is recognised at offset 0, every part
    is read without a warning, and the filesystems and archives give files."""
    p = sample(name)
    assert name in SAMPLE_FORMATS, f"{name} is a new sample: say in SAMPLE_FORMATS what it must open as"
    ctx = unpack(p, tmp_path)
    chain = ctx.result.image.container_chain
    want = SAMPLE_FORMATS[name]
    assert [n.format for n in chain[:len(want)]] == want and chain[0].offset == 0
    assert all(n.status == "ok" for n in chain), [(n.format, n.status) for n in chain]
    assert not ctx.result.warnings
    if want[0] not in ("arcadyan", "matter-ota"):  # those two hold a kernel stream / a payload, not files
        assert ctx.result.files and all(f.container == chain[0].id for f in ctx.result.files)


def test_hostile_copies_of_a_nand_dump(corpus, tmp_path):
    """Truncated and bit-flipped copies of a NAND dump holding YAFFS2: partial results, never a traceback."""
    from tests.unpack.test_hostile_formats import _check

    dump, _ = _nand_dump(corpus / "rootfs" / "etc", tmp_path, 512, 16)
    assert _check(tmp_path, "nand", dump, []) > 0
