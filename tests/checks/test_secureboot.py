"""Secure boot on the corpus' real U-Boot images: FIT signature verified with the control DTB's key."""
import struct
import zlib

import pytest

from firmpass.formats import fdt as fdtmod
from firmpass.formats import uboot
from firmpass.model import ContainerNode
from tests.checks.conftest import empty_ctx, file_entry, run_checks


def boot_ctx(tmp_path, blobs):
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.image.container_chain = [
        ContainerNode(id=f"0.{i}", parent="0", format=fmt, blob=str(p), size=p.stat().st_size, source_path=None)
        for i, (fmt, p) in enumerate(blobs, 1)]
    return run_checks(ctx)


def checks_of(ctx):
    return sorted(f.check for f in ctx.result.findings if f.check.startswith("BOOT"))


@pytest.fixture(scope="module")
def keys(corpus):
    return uboot.keys_from_dtb(fdtmod.parse((corpus / "u-boot-pubkey.dtb").read_bytes()))


def test_pubkey_dtb(keys):
    assert keys["dev"]["kind"] == "rsa" and keys["dev"]["bits"] == 2048 and keys["dev"]["required"] == "conf"


def test_signed_fit_verified(corpus, tmp_path):
    ctx = boot_ctx(tmp_path, [("fit", corpus / "fit-signed.itb"), ("dtb", corpus / "u-boot-pubkey.dtb")])
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == "verified" and sb["control_dtb_keys"] == ["dev"]
    img = sb["images"][0]
    sig = img["fit"]["configs"]["conf-1"]["signatures"][0]
    assert sig["status"] == "verified" and sig["algo"] == "sha256,rsa2048" and sig["key"] == "dev"
    assert all(h["ok"] for i in img["fit"]["images"].values() for h in i["hashes"])
    assert "BOOT-001" not in checks_of(ctx) and "BOOT-002" not in checks_of(ctx)


def test_unsigned_fit_and_signed_told_apart(corpus, tmp_path):
    a = boot_ctx(tmp_path / "a", [("fit", corpus / "fit.itb")])
    assert a.result.extra["secure_boot"]["verdict"] == "unsigned" and "BOOT-001" in checks_of(a)
    b = boot_ctx(tmp_path / "b", [("fit", corpus / "fit-signed.itb")])
    assert b.result.extra["secure_boot"]["verdict"] == "signed_no_key"
    assert "BOOT-003" in checks_of(b) and "BOOT-001" not in checks_of(b)


def _flip(data: bytes, node: str, prop: str, at: int) -> bytes:
    f = fdtmod.parse(data)
    p = f.node(node).prop(prop)
    b = bytearray(data)
    b[f.off_struct + p.offset + 12 + at] ^= 0x01
    return bytes(b)


def test_flipped_kernel_byte_fails(corpus, tmp_path, keys):
    data = _flip((corpus / "fit-signed.itb").read_bytes(), "/images/kernel-1", "data", 4096)
    rep = uboot.verify_fit(data, keys)
    assert rep.verdict == "signature_invalid"
    assert any("kernel-1" in r for r in rep.reasons)
    p = tmp_path / "bad.itb"
    p.write_bytes(data)
    ctx = boot_ctx(tmp_path, [("fit", p), ("dtb", corpus / "u-boot-pubkey.dtb")])
    assert ctx.result.extra["secure_boot"]["verdict"] == "signature_invalid"
    f = next(f for f in ctx.result.findings if f.check == "BOOT-002")
    assert f.severity == "critical" and "kernel-1" in f.description.en


def test_flipped_signed_hash_breaks_rsa(corpus, keys):
    # the hash value is inside the signed region: the RSA signature itself must fail
    data = _flip((corpus / "fit-signed.itb").read_bytes(), "/images/fdt-1/hash-1", "value", 0)
    rep = uboot.verify_fit(data, keys)
    sig = rep.configs["conf-1"]["signatures"][0]
    assert rep.verdict == "signature_invalid"
    assert any("does not verify" in r for r in sig["reasons"])


def test_wrong_key_rejected(corpus, keys):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = {"dev": dict(keys["dev"], key=rsa.generate_private_key(65537, 2048).public_key())}
    assert uboot.verify_fit((corpus / "fit-signed.itb").read_bytes(), other).verdict == "signature_invalid"


def test_legacy_uimage_unsigned(corpus, tmp_path):
    ctx = boot_ctx(tmp_path, [("uimage", corpus / "uImage-kernel")])
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == "unsigned" and sb["images"][0]["uimage"]["name"] == "Linux-acme-r1000"
    assert sb["images"][0]["uimage"]["header_crc_ok"]
    f = next(f for f in ctx.result.findings if f.check == "BOOT-001")
    assert "legacy uImage" in f.evidence[0].detail.en and "旧式 uImage 'Linux-acme-r1000'" in f.evidence[0].detail.zh


def test_boot_files_found_inside_filesystem(corpus, tmp_path):
    """A FIT and the U-Boot DTB stored as regular files of a filesystem (e.g. /boot)."""
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.files = [file_entry("/boot/image.itb", corpus / "fit-signed.itb"),
                        file_entry("/boot/u-boot.dtb", corpus / "u-boot-pubkey.dtb")]
    run_checks(ctx)
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == "verified"
    assert sb["images"][0]["locations"] == [{"path": "/boot/image.itb", "container": "0.1"}]
    # the board DTB inside the FIT puts the kernel console on the serial port
    assert any(f.check == "BOOT-004" and f.data.get("console") == "ttyS0,115200" for f in ctx.result.findings)


def test_uboot_env(tmp_path):
    body = b"bootdelay=3\0bootargs=console=ttyS0,115200 root=/dev/mtdblock2\0bootcmd=bootm\0\0"
    body += b"\0" * (0x1000 - 4 - len(body))
    env = struct.pack("<I", zlib.crc32(body)) + body
    p = tmp_path / "env.bin"
    p.write_bytes(env)
    parsed = uboot.parse_env(env)
    assert parsed["vars"]["bootdelay"] == "3" and not parsed["redundant"]
    assert uboot.parse_env(env[:-1] + b"x") is None  # CRC no longer matches
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.files = [file_entry("/dev-env/u-boot-env.bin", p)]
    run_checks(ctx)
    issues = {f.data.get("bootdelay") or f.data.get("console") for f in ctx.result.findings if f.check == "BOOT-004"}
    assert issues == {"3", "ttyS0,115200"}


def test_find_regions_covers_signed_nodes(corpus):
    f = fdtmod.parse((corpus / "fit-signed.itb").read_bytes())
    sig = f.node("/configurations/conf-1/signature-1")
    nodes = sig.prop("hashed-nodes").as_strs()
    regions = fdtmod.find_regions(f, nodes, uboot.EXCLUDED_PROPS)
    data_prop = f.node("/images/kernel-1").prop("data")
    start = f.off_struct + data_prop.offset
    # the kernel payload is never part of the signed regions; the hash value is
    assert all(not (o <= start + 12 < o + s) for o, s in regions)
    hv = f.off_struct + f.node("/images/kernel-1/hash-1").prop("value").offset
    assert any(o <= hv < o + s for o, s in regions)
    assert sum(s for _, s in regions) < 4096


def test_hostile_boot_blobs(corpus, tmp_path):
    """Truncated FIT, garbage with an FDT magic, a uImage header alone: verdicts, never a crash."""
    fit = (corpus / "fit-signed.itb").read_bytes()
    (tmp_path / "trunc.itb").write_bytes(fit[:5000])
    (tmp_path / "junk.dtb").write_bytes(b"\xd0\x0d\xfe\xed" + b"\xff" * 200)
    (tmp_path / "hdr.uimg").write_bytes((corpus / "uImage-kernel").read_bytes()[:64])
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.files = [file_entry(f"/boot/{n}", tmp_path / n) for n in ("trunc.itb", "junk.dtb", "hdr.uimg")]
    run_checks(ctx)
    assert not ctx.result.warnings
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == "unsigned"  # the uImage header: legacy format
    assert sb["images"][0]["uimage"]["data_crc_ok"] is False


def _mkenv(tmp_path, text: str, name="uboot-env.bin"):
    """A real U-Boot environment blob made by u-boot-tools' mkenvimage."""
    import shutil
    import subprocess

    if not shutil.which("mkenvimage"):
        pytest.skip("mkenvimage (u-boot-tools) not installed")
    src = tmp_path / "env.txt"
    src.write_text(text)
    out = tmp_path / name
    subprocess.run(["mkenvimage", "-s", "0x4000", "-o", str(out), str(src)], check=True)
    return out


def test_verify_off_in_env_blob_links_to_verdict(corpus, tmp_path):
    env = _mkenv(tmp_path, "bootdelay=3\nsilent=1\nverify=n\nbootcmd=bootm 0x9f050000\n"
                           "bootargs=console=ttyS0,115200 root=/dev/mtdblock2\n")
    ctx = boot_ctx(tmp_path, [("fit", corpus / "fit-signed.itb"), ("dtb", corpus / "u-boot-pubkey.dtb"),
                              ("uboot-env", env)])
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == "verification_disabled" and sb["verdict_images"] == "verified"
    assert sb["verify_disabled"][0]["value"] == "n"
    f = [x for x in ctx.result.findings if x.check == "BOOT-006"]
    assert len(f) == 1 and f[0].evidence[0].excerpt == "verify=n"
    assert "signed FIT" in f[0].description.en and f[0].data["signed_fits"]
    bd = next(x for x in ctx.result.findings if x.check == "BOOT-004" and "bootdelay" in x.data)
    assert bd.data["silent"] and "silent=1" in bd.title.en
    # the assessment's secure-boot fact reads the new verdict as bad
    from firmpass.assess.facts import BAD, fact_secure_boot
    assert fact_secure_boot(ctx.result, None).state == BAD


def test_verify_off_in_text_env_and_script(tmp_path):
    from tests.checks.test_vendor import vtree

    r = vtree(tmp_path, {"/etc/u-boot-initial-env": "bootdelay=0\nverify=no\n",
                         "/usr/sbin/fw_upgrade.sh": "#!/bin/sh\nfw_setenv verify n\nmtd write $1 firmware\n",
                         "/etc/fw_env.config": "/dev/mtd1 0x0 0x10000 0x10000\n",
                         "/etc/notes.txt": "verify = yes\n"})
    got = sorted((f.evidence[0].path, f.evidence[0].line) for f in r.findings if f.check == "BOOT-006")
    assert got == [("/etc/u-boot-initial-env", 2), ("/usr/sbin/fw_upgrade.sh", 2)]


def test_bootm_of_legacy_image_next_to_signed_fit(corpus, tmp_path):
    """A signed FIT and an unsigned legacy uImage in one image, and a bootcmd that bootm's without a FIT
    configuration: the legacy image boots without any signature check."""
    env = _mkenv(tmp_path, "bootdelay=0\nbootcmd=bootm 0x81000000\n")
    ctx = boot_ctx(tmp_path, [("fit", corpus / "fit-signed.itb"), ("dtb", corpus / "u-boot-pubkey.dtb"),
                              ("uimage", corpus / "uImage-ramdisk"), ("uboot-env", env)])
    f = [x for x in ctx.result.findings if x.check == "BOOT-006"]
    assert len(f) == 1 and f[0].data["bootcmd"] == "bootm 0x81000000" and f[0].data["legacy_images"]
    assert "bootm" in f[0].title.en + f[0].description.en
    # a FIT configuration in the boot command (bootm addr#conf) is the signed path: no finding
    env2 = _mkenv(tmp_path, "bootdelay=0\nbootcmd=bootm 0x81000000#conf-1\n", name="env2.bin")
    ctx2 = boot_ctx(tmp_path / "b", [("fit", corpus / "fit-signed.itb"), ("dtb", corpus / "u-boot-pubkey.dtb"),
                                     ("uimage", corpus / "uImage-ramdisk"), ("uboot-env", env2)])
    assert not [x for x in ctx2.result.findings if x.check == "BOOT-006"]
