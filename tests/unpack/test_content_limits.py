"""Content of filesystems is bounded before it is read and streamed while it is written; a reused
output directory starts clean and a file that cannot be written is named in a warning."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from firmpass.formats import jffs2
from firmpass.unpack import engine
from tests.unpack.conftest import unpack

ROOT = Path(__file__).resolve().parents[2]

# Unpacks argv[1] into argv[2] (argv[3]: max_ratio or "-") in a fresh process and prints, as JSON,
# how much the peak RSS grew during the unpack stage, the files and the warnings.
DRIVER = r"""
import json, re, sys
from pathlib import Path
def hwm():  # peak RSS (kB) of this process's memory map; ru_maxrss would include the parent's peak
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
import firmpass.formats.squashfs_legacy  # imported before the baseline, as the handler imports it lazily
from firmpass.context import ScanOptions
from firmpass.pipeline import new_context, run_stages
opts = ScanOptions()
if sys.argv[3] != "-":
    opts.limits.max_ratio = float(sys.argv[3])
ctx = new_context(Path(sys.argv[1]), Path(sys.argv[2]), opts)
before = hwm()
run_stages(ctx, ["unpack"])
grown = hwm() - before
print(json.dumps({"rss_growth_kb": grown,
                  "files": {f.path: {"size": f.size, "disk_path": f.disk_path} for f in ctx.result.files},
                  "warnings": [{"code": w.code, "en": w.message.en, "zh": w.message.zh, "part": w.part}
                               for w in ctx.result.warnings],
                  "status": {n.id: n.status for n in ctx.result.image.container_chain}}))
"""


def mksquashfs(src: Path, img: Path) -> Path:
    # gzip with 1 MiB blocks: mksquashfs scans a 6 GiB sparse file in ~2 s this way (xz/128K: ~20 s)
    subprocess.run(["mksquashfs", str(src), str(img), "-noappend", "-quiet", "-no-progress", "-comp", "gzip",
                    "-b", "1M"], check=True, capture_output=True, timeout=300)
    return img


def run_driver(img: Path, out: Path, max_ratio: float | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    r = subprocess.run([sys.executable, "-c", DRIVER, str(img), str(out), "-" if max_ratio is None else str(max_ratio)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sparse_sqfs(tmp_path_factory) -> Path:
    """A ~4 KiB squashfs: a 6 GiB sparse file, a 300 MiB sparse file (under the per-file limit, far over
    what 4 KiB may expand to) and a normal file."""
    d = tmp_path_factory.mktemp("sparse")
    src = d / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "hostname").write_bytes(b"acme-router\n")
    for name, size in (("huge.img", 6 << 30), ("big.img", 300 << 20)):
        with open(src / name, "wb") as fh:
            fh.truncate(size)
    img = mksquashfs(src, d / "sparse.sqfs")
    assert img.stat().st_size < 64 << 10
    return img


def test_sparse_files_are_refused_before_reading(sparse_sqfs, tmp_path):
    out = tmp_path / "out"
    r = run_driver(sparse_sqfs, out)
    files = r["files"]
    # the normal file is extracted, the rest of the image unpacked
    assert (out / files["/etc/hostname"]["disk_path"]).read_bytes() == b"acme-router\n"
    # the sparse files keep their metadata (declared size) but no content
    assert files["/huge.img"] == {"size": 6 << 30, "disk_path": None}
    assert files["/big.img"] == {"size": 300 << 20, "disk_path": None}
    # one bilingual warning names both files and the part
    w = [w for w in r["warnings"] if w["code"] == "files_too_large"]
    assert len(w) == 1 and w[0]["part"] == "0"
    for lang in ("en", "zh"):
        assert "/huge.img" in w[0][lang] and "/big.img" in w[0][lang] and "squashfs part 0" in w[0][lang]
    assert "未解出" in w[0]["zh"]
    assert r["status"]["0"] == "partial"
    # nothing large was read into memory nor written
    assert r["rss_growth_kb"] < 64 << 10, r["rss_growth_kb"]
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 1 << 20


def test_allowed_sparse_file_is_streamed(sparse_sqfs, tmp_path):
    """With the ratio raised, the 300 MiB file is extracted, in chunks: memory does not grow with it."""
    out = tmp_path / "out"
    r = run_driver(sparse_sqfs, out, max_ratio=1e6)
    big = r["files"]["/big.img"]
    assert big["disk_path"] and (out / big["disk_path"]).stat().st_size == 300 << 20
    with open(out / big["disk_path"], "rb") as fh:
        fh.seek((300 << 20) - 4096)
        assert fh.read() == bytes(4096)
    assert r["files"]["/huge.img"]["disk_path"] is None  # still over the per-file limit
    w = [w for w in r["warnings"] if w["code"] == "files_too_large"]
    assert len(w) == 1 and "/huge.img" in w[0]["en"] and "/big.img" not in w[0]["en"]
    assert r["rss_growth_kb"] < 64 << 10, r["rss_growth_kb"]


def test_large_file_streams_byte_identical(tmp_path, monkeypatch):
    src = tmp_path / "src"
    (src / "opt").mkdir(parents=True)
    blob = os.urandom(20 << 20)
    (src / "opt" / "blob.bin").write_bytes(blob)
    (src / "opt" / "small.txt").write_bytes(b"small\n")
    img = mksquashfs(src, tmp_path / "big.sqfs")
    seen: dict[str, list[int]] = {}
    real_write = engine.SafeTree.write

    def counting_write(self, path, chunks):  # records the size of every chunk the writer receives
        sizes = seen.setdefault(path, [])

        def gen():
            for c in ([chunks] if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks):
                sizes.append(len(c))
                yield c
        return real_write(self, path, gen())

    monkeypatch.setattr(engine.SafeTree, "write", counting_write)
    ctx = unpack(img, tmp_path / "out")
    files = {f.path: f for f in ctx.result.files}
    got = (tmp_path / "out" / files["/opt/blob.bin"].disk_path).read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()
    assert (tmp_path / "out" / files["/opt/small.txt"].disk_path).read_bytes() == b"small\n"
    assert len(seen["opt/blob.bin"]) >= 20 and max(seen["opt/blob.bin"]) <= 1 << 20
    assert not ctx.result.warnings


def test_jffs2_windowed_read_matches_whole_read(corpus):
    """The windowed JFFS2 reader gives the same bytes as the whole-file reader (small windows, so data
    nodes straddle window edges)."""
    buf = (corpus / "rootfs.jffs2").read_bytes()
    fs = jffs2.parse(buf, 0, len(buf))
    checked = 0
    for ino in fs.inodes.values():
        if ino.isize and ino.frags and (ino.mode & 0o170000) == 0o100000:
            assert b"".join(fs.iter_read(ino, 3000)) == fs.read(ino, 1 << 30), ino.ino
            checked += 1
    assert checked > 100


# ------------------------------------------------------------------------------ reused output dir
def _snapshot(ctx, out: Path) -> tuple[list[dict], dict[str, str]]:
    files = sorted((f.model_dump() for f in ctx.result.files), key=lambda f: (f["container"], f["path"]))
    content = {f["disk_path"]: hashlib.sha256((out / f["disk_path"]).read_bytes()).hexdigest()
               for f in files if f["disk_path"]}
    return files, content


def test_reused_output_dir_with_stale_symlink(corpus, tmp_path):
    out = tmp_path / "out"
    first = unpack(corpus / "rootfs-gzip.sqfs", out, inventory=True)
    files1, content1 = _snapshot(first, out)
    etc = next(f for f in first.result.files if f.path == "/etc/passwd" and f.disk_path)
    etc_dir = (out / etc.disk_path).parent
    # an earlier run's tree, tampered with: etc/ is now a symlink pointing out of OUT, plus junk
    outside = tmp_path / "outside"
    outside.mkdir()
    for p in sorted(etc_dir.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() or p.is_symlink() else p.rmdir()
    etc_dir.rmdir()
    etc_dir.symlink_to(outside, target_is_directory=True)
    (out / "unpacked" / "9.junk").mkdir()
    (out / "unpacked" / "9.junk" / "stale").write_text("old")

    second = unpack(corpus / "rootfs-gzip.sqfs", out, inventory=True)
    files2, content2 = _snapshot(second, out)
    assert files2 == files1
    assert content2 == content1
    assert list(outside.iterdir()) == []  # nothing written through the stale link
    assert not (out / "unpacked" / "9.junk").exists()
    assert not etc_dir.is_symlink()
    assert not [w for w in second.result.warnings if w.code == "files_unwritten"]


def test_image_inside_unpacked_dir_is_refused(corpus, tmp_path):
    out = tmp_path / "out"
    (out / "unpacked").mkdir(parents=True)
    img = out / "unpacked" / "etc.tar"
    img.write_bytes((corpus / "etc.tar").read_bytes())
    from firmpass.errors import UnusableInput

    with pytest.raises(UnusableInput) as e:
        unpack(img, out)
    assert img.exists() and "etc.tar" in e.value.text.en and e.value.text.zh


def test_unwritable_file_is_named_in_a_warning(tmp_path):
    t = tmp_path / "clash.tar"
    with tarfile.open(t, "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in (("bin/sh", b"file"), ("bin/sh/inner", b"under a file"), ("etc/ok", b"ok")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    ctx = unpack(t, tmp_path / "out")
    files = {f.path: f for f in ctx.result.files}
    assert files["/bin/sh/inner"].disk_path is None and files["/etc/ok"].disk_path
    w = [w for w in ctx.result.warnings if w.code == "files_unwritten"]
    assert len(w) == 1 and "/bin/sh/inner" in w[0].message.en and "/bin/sh/inner" in w[0].message.zh
    assert "1 files" in w[0].message.en
