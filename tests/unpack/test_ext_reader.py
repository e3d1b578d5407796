"""The ext2/3/4 reader (unpack/handlers/ext.py): its own superblock / inode / directory / extent reading
checked against e2fsprogs on images mke2fs writes from a tree built here (every layout the reader
reads itself or hands to dissect.extfs), against debugfs on the corpus image, and on truncated and
bit-flipped copies."""
from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firmpass.errors import UnusableInput
from tests.unpack.compare import source_tree
from tests.unpack.conftest import unpack

MKE2FS = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
DEBUGFS = shutil.which("debugfs") or "/usr/sbin/debugfs"
pytestmark = pytest.mark.skipif(not (os.path.exists(MKE2FS) and os.path.exists(DEBUGFS)),
                                reason="e2fsprogs (mke2fs, debugfs) not installed")

# mke2fs options -> which of the reader's paths the image exercises
LAYOUTS = {
    "ext4": ["-t", "ext4"],  # depth-0 extents read here; the sparse file's extent tree through dissect
    "ext4-1k-64bit": ["-t", "ext4", "-b", "1024", "-O", "64bit"],  # 64-byte group descriptors, 1 KiB blocks
    "ext4-inline": ["-t", "ext4", "-O", "inline_data"],  # small files and directories inside the inode
    "ext3": ["-t", "ext3", "-b", "1024"],  # indirect blocks (dissect), a journal
    "ext2-nofiletype": ["-t", "ext2", "-O", "^filetype", "-I", "128"],  # 16-bit name lengths, 128-byte inodes
}


def _tree(root: Path) -> None:
    """Every kind of entry the walk meets, each in the size class that picks a different read path."""
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "shadow").write_text("root::19000:0:99999:7:::\n")
    os.chmod(root / "etc" / "shadow", 0o600)
    (root / "empty").write_bytes(b"")
    (root / "medium").write_bytes(bytes(range(100)))  # inline_data: 60 bytes in i_block, 40 in system.data
    (root / "small").mkdir()  # inline_data: entries in i_block and in system.data
    for i in range(6):
        (root / "small" / f"name-{i:03d}").write_text(str(i))
    rnd = random.Random(7)
    (root / "multi").write_bytes(rnd.randbytes(300_000))  # several blocks, one extent
    with open(root / "sparse", "wb") as f:  # ten islands: more than four extents, so an extent tree
        for i in range(10):
            f.seek(i << 20)
            f.write(bytes([65 + i]) * 5000)
        f.truncate(11 << 20)
    with open(root / "holes", "wb") as f:  # two islands: in-inode extents with a hole between and after
        f.write(b"head" * 1000)
        f.seek(3 << 20)
        f.write(b"tail" * 1000)
        f.truncate(5 << 20)
    (root / "fast").symlink_to("etc/passwd")  # target kept in the inode
    (root / "slow").symlink_to("/" + "long-target/" * 8 + "x")  # 60+ bytes: target in a data block
    os.link(root / "etc" / "passwd", root / "passwd.hard")
    big = root / "many"  # enough names for an indexed (htree) directory
    big.mkdir()
    for i in range(400):
        (big / f"entry-{i:04d}").write_text(str(i))
    (root / "sbin").mkdir()
    os.chmod(root / "sbin", 0o750)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    os.mkfifo(root / "fifo")
    if os.geteuid() == 0:
        os.mknod(root / "console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
        os.mknod(root / "sda", 0o660 | stat.S_IFBLK, os.makedev(8, 0))
        os.chown(root / "etc" / "shadow", 0, 42)
        os.chown(root / "sbin", 1000, 70000)  # a gid above 65535: the high half of the inode's gid


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("extsrc") / "root"
    root.mkdir()
    _tree(root)
    return root


def _image(source: Path, opts: list[str], dest: Path) -> Path:
    img = dest / "fs.img"
    subprocess.run([MKE2FS, "-q", "-F", *opts, "-d", str(source), str(img), "32M"], check=True, capture_output=True)
    return img


def _debugfs_tree(img: Path, dest: Path) -> dict:
    """debugfs's own extraction (rdump: regular files, symlinks and directories; devices and fifos it
    leaves out)."""
    dest.mkdir()
    subprocess.run([DEBUGFS, "-R", f"rdump / {dest}", str(img)], check=True, capture_output=True)
    return source_tree(dest)


def _ours(img: Path, out: Path):
    ctx = unpack(img, out)
    fs = ctx.filesystems()
    files = {f.path: f for f in ctx.result.files if fs and f.container == fs[-1]}
    files.pop("/lost+found", None)
    return ctx, files


def _check(truth: dict, files: dict, out: Path, owners: bool, what: str, dir_modes: bool = True,
           small_bytes: bool = True) -> None:
    import hashlib

    assert set(truth) == set(files), f"{what}: names differ: {sorted(set(truth) ^ set(files))[:10]}"
    for p, t in truth.items():
        f = files[p]
        typ = "file" if f.type == "hardlink" else f.type
        assert typ == t["type"], f"{what}: {p}: {typ} != {t['type']}"
        if dir_modes or typ != "dir":
            assert f.mode == t["mode"], f"{what}: {p}: {f.mode:o} != {t['mode']:o}"
        if owners:
            assert (f.uid, f.gid) == (t["uid"], t["gid"]), f"{what}: {p}: owner"
        if t["type"] == "file" and (small_bytes or f.size > 60):
            assert f.size == t["size"], f"{what}: {p}: size"
            assert hashlib.sha256((out / f.disk_path).read_bytes()).hexdigest() == t["sha256"], f"{what}: {p}: bytes"
        elif t["type"] == "symlink":
            assert f.link_target == t["link"], f"{what}: {p}: link"
        elif t["type"] in ("chardev", "blockdev"):
            assert tuple(f.device) == t["device"], f"{what}: {p}: device"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts_match_source_and_debugfs(layout, source, tmp_path):
    """Names, types, modes, owners, device numbers, link targets and bytes: equal to the tree mke2fs was
    given, and the files, links and directories equal to what debugfs extracts from the same image."""
    img = _image(source, LAYOUTS[layout], tmp_path)
    ctx, files = _ours(img, tmp_path / "out")
    node = next(n for n in ctx.result.image.container_chain if n.format.startswith("ext"))
    assert node.status == "ok", node
    assert node.format == layout.split("-")[0]
    truth = source_tree(source)
    holed = ("/sparse", "/holes") if layout == "ext4-inline" else ()
    for p in holed:  # this mke2fs with inline_data writes them without their trailing hole (/sparse 9442304
        del truth[p]  # bytes, as debugfs's stat says too): the debugfs comparison below checks them
    _check(truth, {p: f for p, f in files.items() if p not in holed}, tmp_path / "out",
           owners=os.geteuid() == 0, what=f"{layout} vs source")
    ref = _debugfs_tree(img, tmp_path / "ref")
    ref.pop("/lost+found", None)
    mine = {p: f for p, f in files.items() if f.type in ("file", "hardlink", "symlink", "dir")}
    # rdump's directories lose the sticky bit (its mkdir, not the image: the source check above has 1777)
    # and its files of inline data come out padded to 60 bytes (a 30-byte passwd: 30 bytes, then 30 NULs):
    # those small ones are checked against the source above
    _check(ref, mine, tmp_path / "out", owners=False, what=f"{layout} vs debugfs", dir_modes=False,
           small_bytes=layout != "ext4-inline")
    a, b = (tmp_path / "out" / files[p].disk_path for p in ("/passwd.hard", "/etc/passwd"))
    assert os.path.samefile(a, b)  # one inode in the image: one file on disk, hard-linked


def test_corpus_image_matches_debugfs(corpus, tmp_path):
    """The corpus's real ext4 (the bench image): every file, link and directory as debugfs extracts it."""
    img = corpus / "rootfs.ext4"
    _, files = _ours(img, tmp_path / "out")
    ref = _debugfs_tree(img, tmp_path / "ref")
    ref.pop("/lost+found", None)
    mine = {p: f for p, f in files.items() if f.type in ("file", "hardlink", "symlink", "dir")}
    assert len(ref) > 500
    _check(ref, mine, tmp_path / "out", owners=False, what="rootfs.ext4 vs debugfs", dir_modes=False)


def test_common_layout_needs_no_dissect(corpus, tmp_path):
    """An ordinary ext4 (in-inode extents only) is read without importing dissect.extfs (its import alone
    is about 50 ms of a 100 MB image's unpack); an image with an extent tree does import it."""
    code = ("import sys; from pathlib import Path; from tests.unpack.conftest import unpack; "
            "unpack(Path(sys.argv[1]), Path(sys.argv[2])); print('dissect.extfs' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                       str(Path(__file__).parents[2])]))
    r = subprocess.run([sys.executable, "-c", code, str(corpus / "rootfs.ext4"), str(tmp_path / "a")],
                       capture_output=True, text=True, env=env, check=True)
    assert r.stdout.strip().splitlines()[-1] == "False"


def _runs_clean(img: Path, out: Path):
    """Unpack a damaged image: no exception but the engine's own "cannot be opened" escapes (exit 2,
    when not even the root directory can be read), nothing is written outside `out`, and no file on
    disk is larger than the size its entry declares."""
    try:
        ctx = unpack(img, out)
    except UnusableInput as ex:
        assert "corrupt or truncated" in ex.text.en and ex.text.zh != ex.text.en
        return None
    for f in ctx.result.files:
        if f.disk_path:
            p = (out / f.disk_path)
            assert p.resolve().is_relative_to(out.resolve())
            if p.is_file() and not p.is_symlink():
                assert p.stat().st_size <= f.size
    return ctx


@pytest.mark.parametrize("cut", [2048, 70_000, 1 << 20, 5 << 20])
def test_truncated(source, tmp_path, cut):
    img = _image(source, LAYOUTS["ext4"], tmp_path)
    data = img.read_bytes()
    bad = tmp_path / "cut.img"
    bad.write_bytes(data[:cut])
    _runs_clean(bad, tmp_path / "out")


@pytest.mark.parametrize("seed", range(6))
def test_bit_flipped(source, tmp_path, seed):
    """Flips in the metadata blocks (superblock, group descriptors, inode table, directories): a partial
    result at worst, every file written still within its declared size."""
    img = _image(source, LAYOUTS["ext4-1k-64bit" if seed % 2 else "ext4"], tmp_path)
    data = bytearray(img.read_bytes())
    rnd = random.Random(seed)
    for _ in range(400):
        i = rnd.randrange(1024, 1 << 20)  # where mke2fs puts the metadata of a 32 MiB image
        data[i] ^= 1 << rnd.randrange(8)
    bad = tmp_path / "flipped.img"
    bad.write_bytes(bytes(data))
    _runs_clean(bad, tmp_path / "out")


def test_size_lying_inode(source, tmp_path):
    """A regular file whose inode claims 1 TiB: refused by the part's budget, not read, not a traceback."""
    img = _image(source, LAYOUTS["ext4"], tmp_path)
    out = subprocess.run([DEBUGFS, "-R", "stat /multi", str(img)], capture_output=True, text=True).stdout
    assert "Size: 300000" in out
    subprocess.run([DEBUGFS, "-w", "-R", "sif /multi size 1099511627776", str(img)], check=True, capture_output=True)
    ctx = _runs_clean(img, tmp_path / "out")
    f = next(f for f in ctx.result.files if f.path == "/multi")
    assert f.size == 1 << 40 and f.disk_path is None
    assert any("multi" in str(w) for w in ctx.result.warnings)
