"""Library file names -> releases only through identify/rules/soname-releases.yaml, and symbol version
nodes as a lower bound (issue 12, points 1 and 4), on the real Debian binaries of the corpus rootfs and of
extra-rootfs (tests/corpus/build-xtra-pkgless.sh: libbsd0, libmd0, libwrap0, libseccomp2 without a
package database)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmpass.formats.elf import facts
from firmpass.identify import identify, releases, rule_for_package
from firmpass.identify.pkgdb import debian_upstream
from firmpass.identify.signatures import match_file, rules_by_id, version_strings
from tests.treectx import context_from_tree

LIB = "usr/lib/x86_64-linux-gnu"


def test_table_rows_name_known_rules_and_say_where_checked():
    rows = releases.rows()
    assert len(rows) >= 20
    for row in rows:
        assert row["rule"] in rules_by_id(), row
        assert row.get("seen"), row
        assert ("pattern" in row) != ("files" in row and "releases" in row), row


@pytest.mark.parametrize("path, rule, version", [
    (f"{LIB}/libnettle.so.8.6", "nettle", "3.8.1"),  # the SONAME's 8.6 is not the release
    (f"{LIB}/libhogweed.so.6.6", "nettle", "3.8.1"),
    (f"{LIB}/librtmp.so.1", "rtmpdump", "2.4"),
    (f"{LIB}/libunistring.so.2.2.0", "libunistring", "1.0"),
    (f"{LIB}/libtommath.so.1.2.0", "libtommath", "1.2.0"),
])
def test_one_release_names_give_the_release(corpus, truth, path, rule, version):
    p = Path(corpus) / "rootfs" / path
    assert p.is_file()
    ms = [m for m in match_file(p.name, version_strings(p.read_bytes())) if m.rule.id == rule]
    assert ms and ms[0].version == version and ms[0].method == "soname-release-table"
    # and that is what the real package says (the corpus' ground truth, from the .deb control file)
    assert version in {t["upstream"] for t in truth if t["rule"] == rule}


@pytest.mark.parametrize("path, rule", [
    (f"{LIB}/libxtables.so.12.7.0", "iptables"),  # iptables 1.8.9 and 1.8.11 both ship it
    ("lib/x86_64-linux-gnu/libnl-3.so.200.26.0", "libnl"),
    (f"{LIB}/libnftnl.so.11.6.0", "libnftnl"),
    (f"{LIB}/libmnl.so.0.2.0", "libmnl"),
    ("lib/x86_64-linux-gnu/libcrypt.so.1.1.0", "libxcrypt"),
])
def test_names_several_releases_ship_give_no_version(corpus, path, rule):
    p = Path(corpus) / "rootfs" / path
    ms = [m for m in match_file(p.name, version_strings(p.read_bytes())) if m.rule.id == rule]
    assert ms and ms[0].version is None, ms
    assert releases.release_for(rule, p.name).releases[1:]  # on record with every release


def test_a_soname_alone_is_not_a_release():
    # a nettle file name the table does not list gives no version, however release-like it looks
    m = [m for m in match_file("libnettle.so.8.7", "") if m.rule.id == "nettle"]
    assert m and m[0].version is None


def test_extra_rootfs_versions_from_the_table(corpus, tmp_path):
    """libbsd / libseccomp (the build writes the release into the name), libmd, tcp_wrappers (table rows):
    found at the version of their real package, with the file as evidence."""
    gt = {p["package"]: p for p in json.loads((Path(corpus) / "extra-rootfs.json").read_text())["packages"]}
    comps = identify(context_from_tree((Path(corpus) / "extra-rootfs").resolve(), tmp_path), use_package_db=False)
    got = {c.properties.get("rule"): c for c in comps if c.version}
    for pkg, rule, method in (("libbsd0", "libbsd", "soname-release-pattern"),
                              ("libseccomp2", "libseccomp", None),
                              ("libmd0", "libmd", "soname-release-table"),
                              ("libwrap0", "tcp_wrappers", "soname-release-table")):
        assert rule_for_package(pkg, gt[pkg]["source"]).id == rule
        c = got[rule]
        assert c.version == debian_upstream(gt[pkg]["version"]), (rule, c.version, gt[pkg]["version"])
        if method:
            assert method in {e.method for e in c.evidence}, c.evidence
    assert got["tcp_wrappers"].version == "7.6"  # Debian's 7.6.q is upstream 7.6


def test_symbol_version_nodes_read_from_real_libraries(corpus):
    libc = facts((Path(corpus) / "rootfs/lib/x86_64-linux-gnu/libc.so.6").read_bytes())
    assert "GLIBC_2.36" in libc.verdefs and "GLIBC_2.2.5" in libc.verdefs
    crypto = facts((Path(corpus) / f"rootfs/{LIB}/libcrypto.so.3").read_bytes())
    assert "OPENSSL_3.0.0" in crypto.verdefs
    assert releases.symbol_floor(libc.verdefs)["glibc"] == ("2.36", "GLIBC_2.36")
    assert releases.symbol_floor(crypto.verdefs)["openssl"][0].startswith("3.0.")
    # ABI nodes named otherwise than a release give nothing (libmnl 1.0.4 defines LIBMNL_1.2)
    mnl = facts((Path(corpus) / f"rootfs/{LIB}/libmnl.so.0.2.0").read_bytes())
    assert "LIBMNL_1.2" in mnl.verdefs and releases.symbol_floor(mnl.verdefs) == {}


def test_symbol_floor_bounds_and_contradicts():
    assert releases.symbol_floor(["OPENSSL_1_1_0", "OPENSSL_1_1_1"])["openssl"] == ("1.1.1", "OPENSSL_1_1_1")
    assert releases.below_floor("2.35", "2.36") and not releases.below_floor("2.36", "2.36")
    assert not releases.below_floor("3.0", "3.0.9")  # a series is not below one of its releases
    assert not releases.below_floor("3.0.22", "3.0.9")


def test_floor_is_evidence_not_a_version(corpus, tmp_path):
    comps = identify(context_from_tree((Path(corpus) / "rootfs").resolve(), tmp_path), use_package_db=False)
    glibc = next(c for c in comps if c.properties.get("rule") == "glibc" and c.version)
    assert glibc.version == "2.36" and glibc.properties["version_at_least"] == "2.36"
    assert any(e.method == "symbol-version" and e.match == "GLIBC_2.36" for e in glibc.evidence)
    xcrypt = [c for c in comps if (c.properties.get("rule") == "libxcrypt" or c.name == "libcrypt")]
    assert xcrypt and all(c.version is None for c in xcrypt)
    assert any(c.properties.get("version_at_least") == "4.4" for c in xcrypt), [c.properties for c in xcrypt]


def test_verdef_chain_hostile_is_bounded(corpus):
    """A corrupted Elf_Verdef chain (next or aux past the end of the file) gives what it can and
    never raises or loops (hostile input is normal input)."""
    import struct

    from firmpass.formats import elf as elfr

    data = bytearray((Path(corpus) / "rootfs/lib/x86_64-linux-gnu/libcrypt.so.1.1.0").read_bytes())
    lay = elfr._Layout.read(bytes(data))
    loads, dyn = [], None
    for p_type, _fl, p_off, p_vaddr, p_filesz in lay.segments(bytes(data), bounded=True):
        if p_type == elfr.PT_LOAD:
            loads.append((p_vaddr, p_off, p_filesz))
        elif p_type == elfr.PT_DYNAMIC:
            dyn = (p_off, p_filesz)
    vd = next(v for t, v in lay.dynamic(bytes(data), *dyn) if t == elfr.DT_VERDEF)
    off = elfr._file_offset(loads, vd)
    struct.pack_into("<I", data, off + 16, 0)  # vd_next = 0 on the first entry: the chain ends at once
    assert elfr.facts(bytes(data)).verdefs == []  # the first entry is the file's base name
    struct.pack_into("<I", data, off + 16, 0xFFFFFF00)  # vd_next far past the end
    assert elfr.facts(bytes(data)).verdefs == []
    struct.pack_into("<I", data, off + 12, 0xFFFFFFF0)  # vd_aux past the end
    struct.pack_into("<I", data, off + 16, 0)
    assert elfr.facts(bytes(data)).verdefs == []


def test_table_agrees_with_real_debian_package_file_lists(fixtures):
    """Every library file of the table's libraries in the real Debian 11, 12 and 13 packages (their
    `dpkg-deb -c` listings and control versions, tests/fixtures/identify/debian-library-files.json): a
    name the table maps to one release is shipped only by that release; a name it marks ambiguous lists
    the release that ships it; and every one-release row is backed by a real package."""
    files = json.loads((fixtures / "identify" / "debian-library-files.json").read_text())["files"]
    rules = sorted({row["rule"] for row in releases.rows()})
    backed = set()
    checked = 0
    for f in files:
        verdicts = [(r, releases.release_for(r, f["file"])) for r in rules]
        verdicts = [(r, v) for r, v in verdicts if v is not None]
        assert len(verdicts) <= 1, (f, verdicts)
        if not verdicts:
            continue  # a name the table does not know gives no version (e.g. Debian 13's libffi.so.8.1.4)
        rule, v = verdicts[0]
        checked += 1
        if v.version is not None:
            assert v.version == f["upstream"], (f, v)
            backed.add((rule, v.version))
        else:
            assert f["upstream"] in v.releases, (f, v)
    assert checked >= 50
    one = {(row["rule"], row["releases"][0]) for row in releases.rows() if len(row.get("releases", ())) == 1}
    assert one <= backed, sorted(one - backed)
