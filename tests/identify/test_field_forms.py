"""The version forms of real 2005-2017 router firmware (issue 12): on real string samples
(tests/fixtures/identify/field_strings.json) and, where ../shared is present, on the real MIPS router
root filesystem in shared/data/firmware (ph0wn-r0-rootfs-mipsel.tar.bz2)."""
from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from firmpass.identify import identify
from firmpass.identify.signatures import match_file, version_strings
from tests.treectx import context_from_tree

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PH0WN = SHARED / "data" / "firmware" / "ph0wn-r0-rootfs-mipsel.tar.bz2"
SAMPLES = json.loads((Path(__file__).parents[1] / "fixtures" / "identify" / "field_strings.json").read_text())["samples"]


@pytest.mark.parametrize("s", SAMPLES, ids=[f"{s['file']}-{'-'.join(s['expect'])}-{s['source'].split()[0]}" for s in SAMPLES])
def test_field_string_forms(s):
    # the strings among unrelated bytes, through the same extraction as a real binary
    blob = b"\x7fELF\x01\x01\x01\x00" + b"\x00".join(x.encode() for x in s["strings"]) + b"\x00\xff"
    got = {m.rule.id: m.version for m in match_file(s["file"], version_strings(blob)) if m.version}
    for rid, v in s["expect"].items():
        assert got.get(rid) == v, (rid, got)


def test_file_name_alone_never_names_a_product(corpus, tmp_path):
    """A copy of the corpus' real BusyBox named telnetd: BusyBox, not GNU inetutils."""
    bb = (Path(corpus) / "rootfs" / "bin" / "busybox").resolve()
    (tmp_path / "root" / "usr" / "sbin").mkdir(parents=True)
    shutil.copy(bb, tmp_path / "root" / "usr" / "sbin" / "telnetd")
    comps = identify(context_from_tree(tmp_path / "root", tmp_path / "out"), use_package_db=False)
    assert [(c.name, c.version) for c in comps] == [("busybox", "1.35.0")]
    assert comps[0].evidence[0].path == "/usr/sbin/telnetd"


def _safe(member, dest):
    """tarfile's data filter, except that a member it refuses (absolute symlinks such as
    etc/resolv.conf -> /tmp/resolv.conf) is left out instead of failing the extraction."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


@pytest.fixture(scope="module")
def ph0wn_ctx(tmp_path_factory):
    """identify over the real router rootfs, binary evidence only (its opkg status ignored)."""
    if not PH0WN.is_file():
        pytest.skip(f"real router rootfs not available ({PH0WN} absent)")
    d = tmp_path_factory.mktemp("ph0wn")
    with tarfile.open(PH0WN) as t:
        t.extractall(d, filter=_safe)
    ctx = context_from_tree(d / "rootfs-mipsel", tmp_path_factory.mktemp("out"))
    from firmpass.pipeline import hash_file

    # the tree is what the tarball holds: the image is the tarball
    ctx.result.image.name = PH0WN.name
    ctx.result.image.sha256, ctx.result.image.sha512, ctx.result.image.size = hash_file(PH0WN)
    ctx.result.components = identify(ctx, use_package_db=False)
    return ctx


@pytest.fixture(scope="module")
def ph0wn(ph0wn_ctx):
    return {c.name: c for c in ph0wn_ctx.result.components}


def test_ph0wn_multicall_wpad_is_hostapd_and_wpa_supplicant(ph0wn):
    """One file, two components; the version as the binary gives it: a 2.6 development snapshot
    ('2.6-devel' sorts before 2.6, so a fix released in 2.6 still applies)."""
    from firmpass.vulns.versions import compare

    for name in ("hostapd", "wpa_supplicant"):
        c = ph0wn[name]
        assert c.version == "2.6-devel" and c.properties["main_file"] == "/usr/sbin/wpad"
        assert c.cpe == f"cpe:2.3:a:w1.fi:{name}:2.6-devel:*:*:*:*:*:*:*"
        assert any("v2.6-devel" in e.match for e in c.evidence)
    assert compare("2.6-devel", "2.6") < 0 and compare("2.6-devel", "2.5") > 0


def test_ph0wn_kernel_from_its_modules_directory(ph0wn):
    """No kernel image in the rootfs and modinfo stripped: the release /lib/modules/ is named after."""
    k = ph0wn["linux"]
    assert k.version == "3.18.109" and k.confidence == 0.5
    assert k.evidence[0].method == "modules-dir" and k.hashes.get("sha512")
    assert k.properties["main_file"].startswith("/lib/modules/3.18.109/")


def test_ph0wn_sbom_valid_and_passes_own_check(ph0wn_ctx):
    from firmpass import sbom
    from firmpass.sbom.check import check_sbom

    sbom.run(ph0wn_ctx)
    assert sbom.validate_cyclonedx((ph0wn_ctx.out / "sbom.cdx.json").read_text()) == []
    for name in ("sbom.cdx.json", "sbom.spdx.json"):
        rep = check_sbom(ph0wn_ctx.out / name)
        assert [f for f in rep["fields"] if f["missing"] and f["status"] in ("required", "if-exists")] == [], name


def test_ph0wn_dropbear_openssl_busybox_zlib(ph0wn):
    assert ph0wn["dropbear_ssh"].version == "2017.75"
    assert ph0wn["dropbear_ssh"].properties["main_file"] == "/usr/sbin/dropbear"
    assert ph0wn["openssl"].version == "1.0.2n"
    assert ph0wn["busybox"].version == "1.23.2"
    assert ph0wn["zlib"].version == "1.2.8"
    assert ph0wn["json-c"].version == "0.12"  # "'0.12": a padding byte glued to json_c_version()'s string
    assert ph0wn["util-linux"].version == "2.25.2" and ph0wn["iw"].version == "4.3"


def test_ph0wn_uclibc_is_one_component(ph0wn):
    """libc.so.0, libm-0.9.33.2.so, libdl, libcrypt, libutil, ld-uClibc: one uclibc 0.9.33.2 component."""
    c = ph0wn["uclibc"]
    assert c.version == "0.9.33.2"
    for f in ("/lib/libuClibc-0.9.33.2.so", "/lib/ld-uClibc-0.9.33.2.so", "/lib/libm-0.9.33.2.so",
              "/lib/libdl-0.9.33.2.so", "/lib/libcrypt-0.9.33.2.so", "/lib/libutil-0.9.33.2.so"):
        assert f in c.files, f
    assert not {"libc", "libm", "libdl", "libcrypt", "libutil", "ld-uClibc"} & set(ph0wn)


def test_ph0wn_package_database_in_a_subfolder_root(tmp_path):
    """The real tarball keeps its root filesystem in rootfs-mipsel/, with OpenWrt's opkg status and
    info/*.list files under it: identify reads them there (they were looked for at the top only, and
    its 41 packages were not read), each package a component at its opkg version, with its listed files."""
    if not PH0WN.is_file():
        pytest.skip(f"real router rootfs not available ({PH0WN} absent)")
    from firmpass.context import ScanOptions
    from firmpass.pipeline import new_context, run_stages

    ctx = new_context(PH0WN, tmp_path / "out", ScanOptions(pdf=False, progress=False))
    run_stages(ctx, ["unpack", "inventory", "identify"])
    comps = {c.name: c for c in ctx.result.components}
    status = "/rootfs-mipsel/usr/lib/opkg/status"
    for name, version, f in (("libubox", "2015-11-08", "/rootfs-mipsel/lib/libubox.so"),
                             ("libblobmsg-json", "2015-11-08", "/rootfs-mipsel/lib/libblobmsg_json.so"),
                             ("procd", "2015-10-29.1", "/rootfs-mipsel/sbin/procd"),
                             ("ubox", "2015-11-22", "/rootfs-mipsel/lib/libvalidate.so")):
        c = comps[name]
        assert c.version == version and c.properties["package_db"] == "opkg", name
        assert any(e.path == status and e.method == "opkg-status" for e in c.evidence), name
        assert f in c.files, (name, c.files)
    # the SONAME-only components of the same libraries are gone: the package owns their files
    assert not {"libblobmsg_json", "libjson_script", "libsetlbf", "libvalidate"} & set(comps)
    assert len([c for c in ctx.result.components if c.properties.get("package_db") == "opkg"]) == 41
