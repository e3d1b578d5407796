"""Package-database parsers.  The corpus has a real dpkg status (test_identify); the other formats are
crafted samples in each format's documented layout (marked crafted)."""
from __future__ import annotations

import sqlite3
import struct

from firmpass.identify import pkgdb


def test_debian_upstream():
    assert pkgdb.debian_upstream("1:1.2.13.dfsg-1") == "1.2.13"
    assert pkgdb.debian_upstream("2:6.2.1+dfsg1-1.1") == "6.2.1"
    assert pkgdb.debian_upstream("3.0.22-1~deb12u2") == "3.0.22"
    assert pkgdb.debian_upstream("2.4+20151223.gitfa8646d.1-2+b2") == "2.4"
    assert pkgdb.debian_upstream("1.1.1n-0+deb11u5") == "1.1.1n"
    assert pkgdb.debian_upstream("2022.83-1+deb12u3") == "2022.83"


def test_crafted_opkg_status_skips_not_installed():
    text = ("Package: dropbear\nVersion: 2022.82-5\nDepends: libc\nStatus: install user installed\n"
            "Architecture: mipsel_24kc\nLicense: MIT\n\n"
            "Package: ghost\nVersion: 1.0-1\nStatus: deinstall ok not-installed\n\n")
    pk = pkgdb.parse_dpkg_status(text, "opkg")
    assert [(p.name, p.upstream, p.license, p.db) for p in pk] == [("dropbear", "2022.82", "MIT", "opkg")]


def test_crafted_apk_installed():
    text = ("C:Q1abc=\nP:busybox\nV:1.36.1-r2\nA:x86_64\nL:GPL-2.0-only\nU:https://busybox.net/\n"
            "o:busybox\nD:so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\n\n"
            "P:musl\nV:1.2.4-r2\nL:MIT\nF:lib\nR:ld-musl-x86_64.so.1\n")
    pk = {p.name: p for p in pkgdb.parse_apk_installed(text)}
    assert pk["busybox"].upstream == "1.36.1" and pk["busybox"].license == "GPL-2.0-only"
    assert pk["busybox"].files == ["/bin/busybox"] and pk["musl"].files == ["/lib/ld-musl-x86_64.so.1"]


def _rpm_blob(tags: dict[int, str]) -> bytes:
    store, index = b"", b""
    for tag, val in tags.items():
        index += struct.pack(">IIII", tag, 6, len(store), 1)
        store += val.encode() + b"\0"
    return struct.pack(">II", len(tags), len(store)) + index + store


def test_crafted_rpm_sqlite(tmp_path):
    db = tmp_path / "rpmdb.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    con.execute("INSERT INTO Packages (blob) VALUES (?)",
                (_rpm_blob({1000: "openssl-libs", 1001: "3.0.7", 1002: "25.el9", 1014: "Apache-2.0", 1022: "x86_64"}),))
    con.commit()
    con.close()
    pk = pkgdb.parse_rpm_sqlite(db)
    assert [(p.name, p.version, p.upstream, p.license) for p in pk] == [("openssl-libs", "3.0.7-25.el9", "3.0.7", "Apache-2.0")]


def test_crafted_buildroot_and_yocto_manifests():
    br = 'PACKAGE,VERSION,LICENSE,LICENSE FILES,SOURCE ARCHIVE,SOURCE SITE\n"busybox","1.36.1","GPL-2.0","LICENSE","busybox-1.36.1.tar.bz2","https://busybox.net"\n'
    assert [(p.name, p.upstream, p.license) for p in pkgdb.parse_buildroot_manifest(br)] == [("busybox", "1.36.1", "GPL-2.0")]
    yo = "busybox cortexa7t2hf_neon 1.36.1-r0\nlibssl3 cortexa7t2hf_neon 3.1.4-r0\n"
    assert [(p.name, p.upstream) for p in pkgdb.parse_yocto_manifest(yo)] == [("busybox", "1.36.1"), ("libssl3", "3.1.4")]


def test_debian_copyright_machine_readable_only():
    dep5 = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nCopyright: 1995-2022 Jean-loup Gailly\nLicense: Zlib\n\nFiles: debian/*\nLicense: Zlib\n")
    assert pkgdb.debian_copyright_license(dep5) == ["Zlib"]
    assert pkgdb.debian_copyright_license("This package was debianized by ... GPL") == []


def test_kernel_config_parsing_and_ikconfig():
    import gzip

    from firmpass.identify import kernel as kern

    cfg = "CONFIG_STRICT_DEVMEM=y\n# CONFIG_KEXEC is not set\nCONFIG_LOCALVERSION=\"-acme\"\n"
    assert kern.parse_config(cfg) == {"CONFIG_STRICT_DEVMEM": "y", "CONFIG_KEXEC": "n", "CONFIG_LOCALVERSION": "-acme"}
    blob = b"\x00" * 100 + b"IKCFG_ST" + gzip.compress(cfg.encode()) + b"IKCFG_ED"  # crafted
    assert kern.ikconfig(blob)["CONFIG_STRICT_DEVMEM"] == "y"
    assert kern.ikconfig(b"no config here") is None
