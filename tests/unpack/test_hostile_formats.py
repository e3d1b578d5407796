"""The hostile-input treatment for the newer handlers (cramfs, romfs, YAFFS2, 7z, RAR, Matter OTA,
Arcadyan, and the vendor containers): truncated, bit-flipped and size-lying copies give partial
results or a clean "not firmware" (exit 2), never a traceback."""
from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from firmpass.errors import UnusableInput
from tests.unpack import yaffs2_writer
from tests.unpack.conftest import unpack
from tests.unpack.test_hostile import cli


def _mutants(data: bytes, seed: int, size_fields: list[tuple[int, str]]) -> list[tuple[str, bytes]]:
    """Truncated at several points, bit-flipped in the header and the body, and with each declared size
    set to absurd values."""
    rnd = random.Random(seed)
    out = [(f"trunc{k}", data[: len(data) * k // 8]) for k in (1, 3, 5, 7)]
    out.append(("trunc-header", data[:40]))
    for i in range(6):
        b = bytearray(data)
        for _ in range(4 if i < 3 else 64):
            pos = rnd.randrange(min(len(b), 512)) if i < 3 else rnd.randrange(len(b))
            b[pos] ^= 1 << rnd.randrange(8)
        out.append((f"flip{i}", bytes(b)))
    for off, fmt in size_fields:
        n = struct.calcsize(fmt)
        for v in (0, 1, (1 << (8 * n - 1)) - 1, (1 << (8 * n)) - 1):
            b = bytearray(data)
            b[off: off + n] = struct.pack(fmt, v)
            out.append((f"size{off}-{v:x}", bytes(b)))
    return out


def _check(tmp_path: Path, name: str, data: bytes, size_fields: list[tuple[int, str]], seed: int = 1) -> int:
    opened = 0
    for tag, d in _mutants(data, seed, size_fields):
        img = tmp_path / f"{name}-{tag}.bin"
        img.write_bytes(d)
        try:
            ctx = unpack(img, tmp_path / f"out-{tag}")
        except UnusableInput:
            continue  # exit 2 with one clear line: allowed for a copy that no longer looks like firmware
        opened += 1
        for n in ctx.result.image.container_chain:
            assert n.status in ("ok", "partial", "failed", "skipped"), (tag, n)
    return opened


def _mkcramfs() -> str:
    p = shutil.which("mkfs.cramfs") or "/sbin/mkfs.cramfs"
    if not Path(p).exists():
        pytest.skip("mkfs.cramfs (util-linux) is not installed")
    return p


def _small_tree(corpus) -> Path:
    return corpus / "rootfs" / "etc"


def test_hostile_cramfs(corpus, tmp_path):
    for big in (False, True):
        img = tmp_path / "etc.cramfs"
        subprocess.run([_mkcramfs(), *(["-N", "big"] if big else []), str(_small_tree(corpus)), str(img)],
                       check=True, capture_output=True)
        e = ">" if big else "<"
        assert _check(tmp_path, f"cramfs{big}", img.read_bytes(), [(4, e + "I"), (44, e + "I"), (68, e + "I")]) > 4


def test_hostile_romfs(corpus, tmp_path):
    if not shutil.which("genromfs"):
        pytest.skip("genromfs is not installed")
    img = tmp_path / "etc.romfs"
    subprocess.run(["genromfs", "-d", str(_small_tree(corpus)), "-f", str(img)], check=True, capture_output=True)
    assert _check(tmp_path, "romfs", img.read_bytes(), [(8, ">I"), (0x28, ">I"), (0x38, ">I")]) > 4


def test_hostile_yaffs2(corpus, tmp_path):
    img = tmp_path / "etc.yaffs2"
    yaffs2_writer.write(_small_tree(corpus), img)
    assert _check(tmp_path, "yaffs2", img.read_bytes(), [(292, "<I"), (2048 + 12, "<I"), (2112 + 2048 + 12, "<I")]) > 4


def test_hostile_7z_and_rar(corpus, tmp_path):
    # a 7z keeps its directory at the end of one solid LZMA block: most damaged copies are "not
    # firmware" (exit 2); what matters is that none raises
    if (corpus / "etc.7z").is_file():
        assert _check(tmp_path, "7z", (corpus / "etc.7z").read_bytes(), [(12, "<Q"), (20, "<Q")]) >= 1
    rar = corpus / "rar" / "rar5-subdirs.rar"
    if rar.is_file():
        _check(tmp_path, "rar5", rar.read_bytes(), [(12, "<I")])
        _check(tmp_path, "rar3", (corpus / "rar" / "rar3-subdirs.rar").read_bytes(), [(0x14, "<I")])


def _matter(payload: bytes) -> bytes:
    import hashlib

    tlv = (b"\x15" + b"\x25\x00" + struct.pack("<H", 0xFFF1) + b"\x25\x01" + struct.pack("<H", 0x8000)
           + b"\x26\x02" + struct.pack("<I", 2) + b"\x2c\x03\x03" + b"2.0" + b"\x26\x04" + struct.pack("<I", len(payload))
           + b"\x24\x08\x01" + b"\x30\x09\x20" + hashlib.sha256(payload).digest() + b"\x18")
    return struct.pack("<IQI", 0x1BEEF11E, 16 + len(tlv) + len(payload), len(tlv)) + tlv + payload


def test_hostile_matter_ota(corpus, tmp_path):
    data = _matter((corpus / "rootfs-gzip.sqfs").read_bytes()[:200_000])
    assert _check(tmp_path, "matter", data, [(4, "<Q"), (12, "<I"), (0x23, "<I")]) > 4


def test_hostile_cli_no_traceback(corpus, tmp_path):
    """Through the CLI: a size-lying cramfs and a truncated YAFFS2 give exit 0 or 2 and no traceback."""
    img = tmp_path / "etc.cramfs"
    subprocess.run([_mkcramfs(), str(_small_tree(corpus)), str(img)], check=True, capture_output=True)
    b = bytearray(img.read_bytes())
    b[4:8] = struct.pack("<I", 0x7FFFFFFF)
    lie = tmp_path / "lie.cramfs"
    lie.write_bytes(bytes(b))
    y = tmp_path / "etc.yaffs2"
    yaffs2_writer.write(_small_tree(corpus), y)
    ty = tmp_path / "trunc.yaffs2"
    ty.write_bytes(y.read_bytes()[: 2112 * 7 + 100])
    for p in (lie, ty):
        r = cli("unpack", str(p), "-o", str(tmp_path / f"o-{p.name}"))
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("seed", [3, 4])
def test_hostile_random_yaffs_spares(corpus, tmp_path, seed):
    """Spare areas overwritten with noise: the chunks whose tags still parse are read, the rest counted."""
    img = tmp_path / "etc.yaffs2"
    yaffs2_writer.write(_small_tree(corpus), img)
    b = bytearray(img.read_bytes())
    rnd = random.Random(seed)
    for i in range(1, len(b) // 2112, 3):
        b[i * 2112 + 2048: i * 2112 + 2064] = rnd.randbytes(16)
    img.write_bytes(bytes(b))
    ctx = unpack(img, tmp_path / "out")
    node = ctx.result.image.container_chain[0]
    assert node.format == "yaffs2" and node.meta["bad_chunks"] > 0
    assert any(w.code == "bad_chunks" for w in ctx.result.warnings)


def _vendor_images(corpus):
    import lzma

    from tests.unpack import vendor_writers as vw

    k = lzma.compress((corpus / "kernel.bin").read_bytes()[:200_000], format=lzma.FORMAT_ALONE, preset=0)
    sq = (corpus / "rootfs-xz.sqfs").read_bytes()[:300_000]  # a truncated squashfs inside: partial on purpose
    return {
        "wrg": (vw.wrg(k + sq), [(40, "<I"), (32, "<I")]),
        "wrgg03": (vw.wrgg03(k + sq), [(0x68, ">I")]),
        "seama": (vw.seama(k + sq, ["type=firmware"]), [(6, ">H"), (8, ">I")]),
        "tplink1": (vw.tplink(k, sq, 1, rootfs_ofs=0x40000), [(0x7C, ">I"), (0x80, ">I"), (0x84, ">I"), (0x8C, ">I")]),
        "tplink2": (vw.tplink(k, sq, 2, rootfs_ofs=0x40000), [(0x70, ">I"), (0x78, ">I"), (0x80, ">I")]),
        "chk": (vw.netgear_chk(k, sq), [(4, ">I"), (24, ">I"), (28, ">I")]),
        "realtek": (vw.realtek(b"cs6c", k) + vw.realtek(b"cr6c", sq, start=0), [(12, ">I")]),
        "shrs": (vw.shrs(50_000, bytes(50_016)), [(4, ">I"), (8, ">I")]),
        "android4": (vw.android_v4(k, sq, b"S" * 100, "console=ttyS0"), [(8, "<I"), (12, "<I"), (1580, "<I")]),
    }


@pytest.mark.parametrize("name", ["wrg", "wrgg03", "seama", "tplink1", "tplink2", "chk", "realtek", "shrs",
                                  "android4"])
def test_hostile_vendor_containers(name, corpus, tmp_path):
    data, fields = _vendor_images(corpus)[name]
    assert _check(tmp_path, name, data, fields) >= 1


def test_hostile_arcadyan_sample(tmp_path):
    p = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "formats" / "arcadyan.bin"
    if not p.is_file():
        pytest.skip(f"{p} is absent (the format samples live in ../shared/data/formats beside the repository)")
    _check(tmp_path, "arcadyan", p.read_bytes()[:200_000], [(0x69, "<I"), (0x6C, "<I")])
