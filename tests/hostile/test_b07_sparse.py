"""B7: a 44-byte Android sparse image whose one FILL chunk expands to 1 GiB is stopped by the ratio
limit before anything is written; a real sparse image (img2simg) within the ratio still expands."""
import os
import shutil
import struct
import subprocess
import time

import pytest

from firmpass.context import ScanOptions
from firmpass.pipeline import scan

MAGIC, FILL = 0xED26FF3A, 0xCAC2


def fill_bomb(path, blocks=262144, blk=4096):
    hdr = struct.pack("<I4H4I", MAGIC, 1, 0, 28, 12, blk, blocks, 1, 0)
    chunk = struct.pack("<2H2I", FILL, 0, blocks, 12 + 4) + b"\xa5\x5a\xa5\x5a"
    path.write_bytes(hdr + chunk)
    assert path.stat().st_size == 44
    return path


def test_fill_bomb_alone_is_one_line_exit_2(tmp_path):
    import sys

    img = fill_bomb(tmp_path / "bomb.simg")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", "scan", str(img), "-o", str(tmp_path / "out"), "--no-pdf"],
                       capture_output=True, text=True, timeout=300)
    assert time.monotonic() - t0 < 60
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--max-ratio" in r.stderr
    written = sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file())
    assert written < (1 << 20)


def test_fill_bomb_inside_a_tar_fails_alone(tmp_path):
    import io
    import tarfile

    bomb = fill_bomb(tmp_path / "bomb.simg").read_bytes()
    img = tmp_path / "fw.tar"
    with tarfile.open(img, "w") as t:
        for name, data in (("etc/passwd", b"root::0:0::/root:/bin/sh\n"), ("userdata.img", bomb)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    ctx = scan(img, tmp_path / "out", ScanOptions(pdf=False, progress=False), stages=["unpack", "inventory", "checks"])
    sp = [n for n in ctx.result.image.container_chain if n.format == "android-sparse"]
    assert sp and sp[0].status == "failed" and sp[0].meta["limit_option"] == "--max-ratio"
    assert "CRED-001" in {f.check for f in ctx.result.findings}
    written = sum(f.stat().st_size for f in (tmp_path / "out" / "unpacked").rglob("*") if f.is_file())
    assert written < (1 << 20)


@pytest.mark.skipif(not shutil.which("img2simg"), reason="img2simg (android-sdk-libsparse-utils) not installed")
def test_real_sparse_image_still_expands(tmp_path):
    raw = tmp_path / "raw.img"
    raw.write_bytes(os.urandom(256 * 1024) + b"\0" * (3 << 20))  # random data then zeros (DONT_CARE/FILL)
    subprocess.run(["img2simg", str(raw), str(tmp_path / "x.simg")], check=True, capture_output=True)
    ctx = scan(tmp_path / "x.simg", tmp_path / "out", ScanOptions(pdf=False, progress=False), stages=["unpack"])
    node = ctx.result.image.container_chain[0]
    assert node.format == "android-sparse" and node.status == "ok", node
