"""Readers bounded against sizes an image declares (found in review): a JFFS2 data node or a UBIFS
data block that claims gigabytes is decompressed to at most one page/block, and a limit hit inside a
compressed stream is reported as a limit (the stream's views of the mapped image used to turn it
into a BufferError)."""
from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


from tests.clitool import cli  # noqa: E402


def test_limit_inside_a_gzip_stream_is_a_limit_not_an_internal_error(corpus, tmp_path):
    r = cli("unpack", str(corpus / "initramfs.cpio.gz"), "-o", str(tmp_path / "o"), "--max-files", "10")
    assert r.returncode == 0 and "internal error" not in r.stderr and "BufferError" not in r.stderr, r.stderr
    assert "--max-files" in r.stderr
    data = json.loads((tmp_path / "o" / "findings.json").read_text())
    assert len(data["files"]) == 10  # what was unpacked before the limit is kept
    r = cli("unpack", str(corpus / "firmware.bin"), "-o", str(tmp_path / "o2"), "--max-size", "300K")
    assert r.returncode in (0, 2) and "internal error" not in r.stderr and "--max-size" in r.stderr, r.stderr


def _jffs2_zero_nodes(nodes: int, dsize: int, isize: int) -> bytes:
    """A little-endian JFFS2 image: one dirent 'big' and `nodes` COMPR_ZERO data nodes that each
    declare `dsize` bytes for an inode of `isize` bytes."""
    from firmpass.formats.jffs2 import crc

    def node(ntype: int, fixed: bytes, tail_of: bytes) -> bytes:
        hdr = struct.pack("<HHI", 0x1985, ntype, 12 + len(fixed) + 8 + len(tail_of))
        hdr += struct.pack("<I", crc(hdr))
        return hdr, crc(hdr + fixed)

    out = b""
    fixed = struct.pack("<IIIIBB2x", 1, 1, 2, 0, 3, 8)
    hdr, ncrc = node(0xE001, fixed, b"big")
    d = hdr + fixed + struct.pack("<II", ncrc, crc(b"big")) + b"big"
    out += d + b"\xff" * (-len(d) % 4)
    for v in range(nodes):
        fixed = struct.pack("<IIIHHIIIIIIIBBH", 2, v + 1, stat.S_IFREG | 0o644, 0, 0, isize, 0, 0, 0, 0, 0, dsize, 1, 0, 0)
        hdr, ncrc = node(0xE002, fixed, b"")
        d = hdr + fixed + struct.pack("<II", crc(b""), ncrc)
        out += d + b"\xff" * (-len(d) % 4)
    return out + b"\xff" * (-len(out) % 65536)


def test_jffs2_node_declaring_gigabytes_costs_one_page(tmp_path):
    img = tmp_path / "zero.jffs2"
    img.write_bytes(_jffs2_zero_nodes(20, 2 << 30, 100))
    # peak RSS of this process's own memory map (VmHWM): ru_maxrss would carry the pytest worker's
    # peak across fork+exec
    code = ("import re,sys; from firmpass.cli import main\n"
            "try: main(['unpack', sys.argv[1], '-o', sys.argv[2]])\n"
            "except SystemExit: pass\n"
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")
    r = subprocess.run([sys.executable, "-c", code, str(img), str(tmp_path / "o")], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), timeout=300)
    rss_mb = int(r.stdout.strip().splitlines()[-1]) // 1024
    assert rss_mb < 400, rss_mb  # was > 4 GB: 2 GiB of zeros built per node
    data = json.loads((tmp_path / "o" / "findings.json").read_text())
    big = next(f for f in data["files"] if f["path"] == "/big")
    assert big["size"] == 100 and (tmp_path / "o" / big["disk_path"]).read_bytes() == bytes(100)


def test_ubifs_block_with_a_huge_zstd_frame_is_one_block():
    import zstandard
    from ubireader.ubifs.defines import UBIFS_COMPR_ZSTD, UBIFS_DATA_KEY, UBIFS_S_KEY_BLOCK_BITS

    from firmpass.unpack.handlers.ubi import _ubifs_content

    frame = zstandard.ZstdCompressor(level=1, write_content_size=True).compress(bytes(256 << 20))

    class Node:
        key = {"khash": UBIFS_DATA_KEY << UBIFS_S_KEY_BLOCK_BITS}
        offset, compr_len, compr_type, size = 0, len(frame), UBIFS_COMPR_ZSTD, 0xFFFFFFF0

    class FS:
        file = io.BytesIO(frame)
        master_key = None

    tracemalloc.start()
    try:
        out = b"".join(_ubifs_content(FS(), {"data": [Node()]}, {}, 4096))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == bytes(4096) and peak < 16 << 20, peak


def test_an_unpacked_directory_firmpass_did_not_make_is_never_deleted(corpus, tmp_path):
    home = tmp_path / "home"
    (home / "unpacked" / "photos").mkdir(parents=True)
    (home / "unpacked" / "photos" / "a.txt").write_text("precious\n")
    r = cli("unpack", str(corpus / "rootfs.jffs2"), "-o", str(home))
    assert r.returncode == 2 and "not made by firmpass" in r.stderr and "并非由 firmpass 生成" in r.stderr
    assert (home / "unpacked" / "photos" / "a.txt").read_text() == "precious\n"
    out = tmp_path / "out"  # firmpass's own output directory is rebuilt on a rerun
    assert cli("unpack", str(corpus / "rootfs.jffs2"), "-o", str(out)).returncode == 0
    assert cli("unpack", str(corpus / "rootfs.jffs2"), "-o", str(out)).returncode == 0
    prof = out / "unpacked" / "p.yaml"
    prof.write_text("schema_version: 1\nproduct: {name: X}\n")
    r = cli("scan", str(corpus / "rootfs.jffs2"), "-o", str(out), "--profile", str(prof), "--no-pdf")
    assert r.returncode == 2 and "p.yaml" in r.stderr and prof.exists()  # an input inside the tree is not deleted


def test_file_count_limit_inside_a_filesystem_keeps_what_was_listed(corpus, tmp_path):
    """--max-files hit while walking a squashfs: the entries listed before it are published, with their
    content, and the limit message is bilingual."""
    r = cli("unpack", str(corpus / "rootfs-xz.sqfs"), "-o", str(tmp_path / "o"), "--max-files", "40")
    assert r.returncode == 0, r.stderr
    assert "--max-files" in r.stderr and "文件数超过 40 个" in r.stderr
    data = json.loads((tmp_path / "o" / "findings.json").read_text())
    assert len(data["files"]) == 40
    assert any(f["type"] == "file" and f.get("disk_path") for f in data["files"])
