"""Vendor firmware containers: WRG/WRGG03, SEAMA (and a seal), SHRS (encrypted: recognised and
said so), TP-Link v1/v2, Netgear CHK, Realtek cs6c/cr6c, written by tests/unpack/vendor_writers.py
from their published layouts, and Android boot images v0-v4 written by Debian's mkbootimg and
checked against its unpack_bootimg."""
from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unpack import vendor_writers as vw
from tests.unpack.compare import differences
from tests.unpack.conftest import unpack


@pytest.fixture(scope="module")
def parts(corpus, tmp_path_factory):
    """A small LZMA "kernel" (the start of the corpus's real kernel) and a squashfs of /etc."""
    d = tmp_path_factory.mktemp("parts")
    raw = (corpus / "kernel.bin").read_bytes()[: 1 << 20]
    kernel = lzma.compress(raw, format=lzma.FORMAT_ALONE, preset=1)
    subprocess.run(["mksquashfs", str(corpus / "rootfs" / "etc"), str(d / "etc.sqfs"), "-comp", "xz", "-all-root",
                    "-noappend", "-no-progress"], check=True, capture_output=True)
    return {"raw": raw, "kernel": kernel, "sqfs": (d / "etc.sqfs").read_bytes()}


def _etc(src_tree):
    return {p[len("/etc"):]: v for p, v in src_tree.items() if p.startswith("/etc/")}


def _check_payload(ctx, out: Path, parts, src_tree, top: str):
    nodes = ctx.result.image.container_chain
    assert nodes[0].format == top
    lz = [n for n in nodes if n.format == "lzma"]
    assert lz, [n.format for n in nodes]
    kid = next(n for n in nodes if n.parent == lz[0].id)
    assert (out / kid.blob).read_bytes() == parts["raw"]
    sq = [fs for fs in ctx.filesystems() if ctx.result.files and
          next(f.chain for f in ctx.result.files if f.container == fs)[-1] == "squashfs"]
    assert sq, [n.format for n in nodes]
    files = [f for f in ctx.result.files if f.container == sq[0]]
    assert differences(_etc(src_tree), files, out, owners=False) == []
    return nodes


def _d_link(parts) -> bytes:
    """The layout of D-Link's WRG images: LZMA kernel right after the header, root filesystem at a
    64 KiB boundary later."""
    k = parts["kernel"]
    pad = (-(0x60 + len(k))) % 0x10000
    return k + b"\xff" * pad + parts["sqfs"]


@pytest.mark.parametrize("big", [False, True])
def test_wrg_header_lzma_kernel_and_squashfs(big, parts, src_tree, tmp_path):
    img = tmp_path / "dlink.bin"
    img.write_bytes(vw.wrg(_d_link(parts), big=big))
    ctx = unpack(img, tmp_path / "out")
    nodes = _check_payload(ctx, tmp_path / "out", parts, src_tree, "wrgg")
    m = nodes[0].meta
    assert m["format"] == "WRG" and m["signature"] == "wrgg19_c_dlwbr_dir300" and m["devname"] == "dir300"
    assert m["endian"] == ("big" if big else "little") and m["size"] == len(_d_link(parts))
    assert not ctx.result.warnings, [w.message.en for w in ctx.result.warnings]


def test_wrgg03_header(parts, src_tree, tmp_path):
    img = tmp_path / "dap.bin"
    img.write_bytes(vw.wrgg03(_d_link(parts)))
    ctx = unpack(img, tmp_path / "out")
    m = _check_payload(ctx, tmp_path / "out", parts, src_tree, "wrgg")[0].meta
    assert (m["format"], m["model"], m["devname"]) == ("WRGG03", "DAP-2553", "dap2553")


def test_seama_entity_and_seal(parts, src_tree, tmp_path):
    ent = vw.seama(_d_link(parts), ["dev=/dev/mtdblock/1", "type=firmware"])
    img = tmp_path / "seal.bin"
    img.write_bytes(vw.seama_seal(["signature=wrgac01_dlink.2013gui_dir850l"], ent))
    ctx = unpack(img, tmp_path / "out")
    ents = [n for n in ctx.result.image.container_chain if n.format == "seama"]
    assert len(ents) == 2 and ents[0].meta["seal"] and ents[0].meta["metadata"]["signature"].endswith("dir850l")
    assert ents[1].meta["md5_ok"] is True and ents[1].meta["metadata"]["type"] == "firmware"
    img2 = tmp_path / "one.bin"
    img2.write_bytes(ent)
    _check_payload(unpack(img2, tmp_path / "out2"), tmp_path / "out2", parts, src_tree, "seama")


def test_seama_bad_md5_is_a_warning(parts, tmp_path):
    b = bytearray(vw.seama(parts["kernel"], ["type=firmware"]))
    b[-100] ^= 0xFF
    img = tmp_path / "bad.bin"
    img.write_bytes(bytes(b))
    ctx = unpack(img, tmp_path / "out")
    assert ctx.result.image.container_chain[0].meta["md5_ok"] is False
    assert any(w.code == "bad_crc" and "SEAMA MD5" in w.message.en for w in ctx.result.warnings)


def test_shrs_is_recognised_as_encrypted(tmp_path):
    img = tmp_path / "enc.bin"
    img.write_bytes(vw.shrs(1 << 20, os.urandom((1 << 20) + 16)))
    ctx = unpack(img, tmp_path / "out")
    n = ctx.result.image.container_chain[0]
    assert n.format == "shrs" and n.meta["encrypted"] and n.meta["decrypted_size"] == 1 << 20
    (w,) = [w for w in ctx.result.warnings if w.code == "encrypted_container"]
    assert "encrypted" in w.message.en and "加密" in w.message.zh


@pytest.mark.parametrize("version", [1, 2, 3])
def test_tplink_header(version, parts, src_tree, tmp_path):
    img = tmp_path / "tplink.bin"
    img.write_bytes(vw.tplink(parts["kernel"], parts["sqfs"], version=version,
                              rootfs_ofs=(0x200 + len(parts["kernel"]) + 0xFFFF) & ~0xFFFF))
    ctx = unpack(img, tmp_path / "out")
    m = _check_payload(ctx, tmp_path / "out", parts, src_tree, "tplink")[0].meta
    assert m["header_version"] == version and m["kernel"] == [0x200, len(parts["kernel"])]
    assert m["kernel_load"] == "0x80060000"


def test_netgear_chk(parts, src_tree, tmp_path):
    img = tmp_path / "r7000.chk"
    img.write_bytes(vw.netgear_chk(parts["kernel"], parts["sqfs"]))
    ctx = unpack(img, tmp_path / "out")
    m = _check_payload(ctx, tmp_path / "out", parts, src_tree, "netgear-chk")[0].meta
    assert m["board_id"] == "U12H139T00_NETGEAR" and m["rootfs_len"] == len(parts["sqfs"])


def test_realtek_kernel_then_rootfs(parts, src_tree, tmp_path):
    img = tmp_path / "rtl.bin"
    img.write_bytes(vw.realtek(b"cs6c", parts["kernel"]) + vw.realtek(b"cr6c", parts["sqfs"], start=0, burn=0x130000))
    ctx = unpack(img, tmp_path / "out")
    nodes = ctx.result.image.container_chain
    rt = [n for n in nodes if n.format == "realtek"]
    assert [n.meta["part"] for n in rt] == ["kernel", "rootfs"] and rt[1].meta["burn_addr"] == "0x130000"
    assert rt[1].offset == 16 + len(parts["kernel"]) + len(parts["kernel"]) % 2 + 2
    lz = next(n for n in nodes if n.format == "lzma")
    assert (tmp_path / "out" / next(n for n in nodes if n.parent == lz.id).blob).read_bytes() == parts["raw"]
    sq = [fs for fs in ctx.filesystems()]
    assert differences(_etc(src_tree), [f for f in ctx.result.files if f.container == sq[0]], tmp_path / "out",
                       owners=False) == []


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_android_boot_image_matches_unpack_bootimg(version, corpus, parts, tmp_path):
    if not shutil.which("mkbootimg") or not shutil.which("unpack_bootimg"):
        pytest.skip("Debian's mkbootimg is not installed")
    k, r = tmp_path / "kernel", tmp_path / "ramdisk"
    k.write_bytes(gzip.compress(parts["raw"], 1))
    subprocess.run(f"cd {corpus / 'rootfs'} && find etc | cpio -o -H newc --quiet | gzip -1 > {r}", shell=True,
                   check=True)
    args = ["mkbootimg", "--kernel", str(k), "--ramdisk", str(r), "--header_version", str(version),
            "--cmdline", "console=ttyS0 root=/dev/ram0", "-o", str(tmp_path / "boot.img")]
    if version < 3:
        args += ["--second", str(corpus / "board.dtb"), "--pagesize", "2048", "--board", "acme"]
    if version == 2:
        args += ["--dtb", str(corpus / "board.dtb")]
    if version == 4:  # Debian's mkbootimg stops at v3: written from the published layout, read back as v3
        args[args.index("--header_version") + 1] = "3"
        (tmp_path / "boot.img").write_bytes(vw.android_v4(k.read_bytes(), r.read_bytes(), b"SIG" * 300,
                                                          "console=ttyS0 root=/dev/ram0"))
        args[-1] = str(tmp_path / "ref.img")
    subprocess.run(args, check=True, capture_output=True)
    ref = tmp_path / "ref"
    subprocess.run(["unpack_bootimg", "--boot_img", str(tmp_path / ("ref.img" if version == 4 else "boot.img")),
                    "--out", str(ref)], check=True, capture_output=True)
    ctx = unpack(tmp_path / "boot.img", tmp_path / "out")
    nodes = ctx.result.image.container_chain
    top = nodes[0]
    assert top.format == "android-boot" and top.meta["header_version"] == version
    assert top.meta["cmdline"].startswith("console=ttyS0 root=/dev/ram0")
    secs = {n.meta.get("android_section"): n for n in nodes if n.parent == "0"}
    assert (tmp_path / "out" / secs["kernel"].blob).read_bytes() == (ref / "kernel").read_bytes()
    assert (tmp_path / "out" / secs["ramdisk"].blob).read_bytes() == (ref / "ramdisk").read_bytes()
    if version == 4:
        assert top.meta["sections"]["signature"][1] == 900 and "signature" not in secs
    if version < 3:
        assert (tmp_path / "out" / secs["second"].blob).read_bytes() == (ref / "second").read_bytes()
    # the ramdisk is opened: gzip, then the cpio with /etc
    assert any(f.path == "/etc/passwd" for f in ctx.result.files)
