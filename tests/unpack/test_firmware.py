"""firmware.bin: vendor header + uImage(gzip kernel) + squashfs + jffs2 + signed FIT(kernel, fdt, squashfs)."""
from __future__ import annotations

import hashlib

from tests.unpack.compare import differences


def test_all_nested_parts(firmware):
    nodes = {n.id: n for n in firmware.result.image.container_chain}
    got = {i: n.format for i, n in nodes.items()}
    assert got == {"0": "vendor-header", "0.1": "uimage", "0.1.1": "gzip", "0.1.1.1": "linux-kernel",
                   "0.2": "squashfs", "0.3": "jffs2", "0.4": "fit", "0.4.1": "gzip", "0.4.1.1": "linux-kernel",
                   "0.4.2": "dtb", "0.4.3": "squashfs"}
    assert all(n.status == "ok" for n in nodes.values())
    assert nodes["0.1"].offset == 0x10000  # sections are 64 KiB aligned in the vendor container
    assert not firmware.result.warnings


def test_boot_headers_and_blobs(firmware, corpus):
    nodes = {n.id: n for n in firmware.result.image.container_chain}
    u = nodes["0.1"].meta
    assert (u["name"], u["type"], u["arch"], u["os"], u["comp"]) == ("Linux-acme-r1000", "kernel", "x86_64", "linux", "gzip")
    assert u["header_crc_ok"] and u["data_crc_ok"]
    fit = nodes["0.4"].meta
    assert {i["name"]: i["type"] for i in fit["images"]} == {"kernel-1": "kernel", "fdt-1": "flat_dt", "rootfs-1": "ramdisk"}
    conf = fit["configurations"]["conf-1"]
    assert conf["signatures"][0]["algo"] == ["sha256,rsa2048"] and conf["signatures"][0]["key-name-hint"] == ["dev"]
    assert nodes["0.4.2"].meta["model"] == "ACME R1000"
    # the raw boot blobs stay on disk for the checks stage, byte-identical to what was packed
    for nid, src in (("0.1", "uImage-kernel"), ("0.4", "fit-signed.itb"), ("0.4.2", "board.dtb"), ("0.2", "rootfs-xz.sqfs")):
        blob = firmware.out / nodes[nid].blob
        assert blob.read_bytes() == (corpus / src).read_bytes(), nid
    kernel = firmware.out / nodes["0.1.1.1"].blob
    assert kernel.read_bytes() == (corpus / "kernel.bin").read_bytes()
    assert nodes["0.1.1.1"].meta["version_string"].split()[0][0].isdigit()


def test_three_rootfs_copies(firmware, src_tree):
    chains = {}
    for fs in firmware.filesystems():
        files = [f for f in firmware.result.files if f.container == fs]
        chains[fs] = files[0].chain
        assert differences(src_tree, files, firmware.out, owners=False) == [], fs
    assert chains == {"0.2": ["vendor-header", "squashfs"], "0.3": ["vendor-header", "jffs2"],
                      "0.4.3": ["vendor-header", "fit", "squashfs"]}


def test_inventory_hashes_and_elf(firmware, corpus):
    files = [f for f in firmware.result.files if f.type == "file"]
    assert files and all(f.sha256 and f.sha512 for f in files)
    shadow = next(f for f in files if f.path == "/etc/shadow")
    raw = (corpus / "rootfs/etc/shadow").read_bytes()
    assert shadow.sha256 == hashlib.sha256(raw).hexdigest() and shadow.sha512 == hashlib.sha512(raw).hexdigest()
    bb = next(f for f in files if f.path == "/bin/busybox")
    assert (bb.elf.elf_class, bb.elf.machine, bb.elf.endian, bb.elf.type) == (64, "x86-64", "little", "EXEC")
    libc = next(f for f in files if f.path.endswith("/libc.so.6"))
    assert libc.elf.type == "DYN"
    assert shadow.elf is None
