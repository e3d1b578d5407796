"""Files with only a weak signal (a SONAME, a file name, the directory they sit in) fold into the component
that owns them; what no owner claims still stands alone as a weak component.  All on the corpus' real
Debian files: spake.so is krb5's preauth plugin, libmemusage.so / libpcprofile.so are glibc's unversioned
libraries, libhistory is readline's, engines-3/ and ossl-modules/ hold OpenSSL's plugins, and
libnfnetlink is a library firmpass has no rule for."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from firmpass.identify import identify
from firmpass.identify.pkgdb import parse_file_list
from firmpass.identify.signatures import dir_owners, match_file, rules_by_id
from tests.treectx import context_from_tree, entries_from_tree

TRIPLET = "/usr/lib/x86_64-linux-gnu"
SPAKE = f"{TRIPLET}/krb5/plugins/preauth/spake.so"
MEMUSAGE = "/lib/x86_64-linux-gnu/libmemusage.so"
PCPROFILE = "/lib/x86_64-linux-gnu/libpcprofile.so"
HISTORY = "/lib/x86_64-linux-gnu/libhistory.so.8.2"
NFNETLINK = f"{TRIPLET}/libnfnetlink.so.0.2.0"
WEAK_METHODS = {"soname", "file-name", "directory", "file-name+sibling", "directory+sibling"}


def by_name(comps):
    return {c.name: c for c in comps}


def owner_of(comps, path):
    owners = [c for c in comps if path in c.files]
    assert len(owners) == 1, (path, [c.name for c in owners])
    return owners[0]


def weak_only(comps):
    return [c for c in comps if c.evidence and all(e.method in WEAK_METHODS for e in c.evidence)]


def test_corpus_files_exist(corpus):
    root = Path(corpus) / "rootfs"
    for p in (SPAKE, MEMUSAGE, PCPROFILE, HISTORY, NFNETLINK):
        assert (root / p.lstrip("/")).is_file(), p


@pytest.mark.parametrize("path,product,method", [
    (SPAKE, "krb5", "directory+sibling"),  # a plugin in krb5's plugin tree
    (MEMUSAGE, "glibc", "file-name+sibling"),  # unversioned: glibc's pattern names libmemusage.so.N
    (PCPROFILE, "glibc", "file-name+sibling"),
    (f"{TRIPLET}/ossl-modules/legacy.so", "openssl", "directory+sibling"),  # the rule's own `dirs`
    (f"{TRIPLET}/engines-3/padlock.so", "openssl", "directory+sibling"),
])
def test_weak_file_folds_into_its_product(binary_only, path, product, method):
    _, comps = binary_only
    c = owner_of(comps, path)
    assert c.name == product and c.version  # the versioned component, not a version-less one
    ev = [e for e in c.evidence if e.path == path]
    assert [e.method for e in ev] == [method]
    assert c.confidence >= 0.9  # folding a weak file does not lower the product's confidence
    # and no component of its own
    base = path.rsplit("/", 1)[1].split(".so")[0]
    assert base not in by_name(comps)


def test_libhistory_is_readline(binary_only):
    _, comps = binary_only
    c = owner_of(comps, HISTORY)
    assert c.name == "readline" and c.version == "8.2"
    assert "libhistory" not in by_name(comps)


def test_unknown_library_stays_a_weak_component(binary_only):
    """libnfnetlink: no rule, no package database, no product directory: kept, weak, never dropped."""
    _, comps = binary_only
    c = owner_of(comps, NFNETLINK)
    assert c.name == "libnfnetlink" and c.version is None
    assert c.confidence < 0.5 and c.properties["weak"] and c.properties["soname"] == "libnfnetlink.so.0"
    assert [e.method for e in c.evidence] == ["soname"]
    assert "product" not in c.properties
    # still a dependency target of the library that links it
    assert c.bom_ref in by_name(comps)["libnetfilter_conntrack"].dependencies


def test_no_weak_component_next_to_its_products_versioned_one(binary_only):
    """On the corpus every weak component left is a product with no versioned component (a real,
    separate product), and none sits in a directory or has a name a versioned product owns."""
    _, comps = binary_only
    versioned = {c.properties.get("rule") for c in comps if c.version}
    left = weak_only(comps)
    assert left  # the corpus does have libraries of products without a version (nettle, libnl, ...)
    for c in left:
        assert c.properties.get("product") is None or c.properties.get("rule") not in versioned, c.name
        for f in c.files:
            d, base = f.rsplit("/", 1)
            assert not any(m.rule.id in versioned for m in match_file(base, "", dirname=d)), f


def test_directory_ownership_is_narrow():
    krb5 = rules_by_id()["kerberos_5"]
    assert krb5 in dir_owners(f"{TRIPLET}/krb5/plugins/preauth")
    assert rules_by_id()["lighttpd"] in dir_owners("/usr/lib/lighttpd")
    assert rules_by_id()["glibc"] in dir_owners(f"{TRIPLET}/gconv")
    # a shared library directory, a Python / Perl module tree, a data directory: nobody's
    for d in (TRIPLET, "/lib", "/usr/lib/python3/dist-packages", f"{TRIPLET}/perl5/5.36",
              "/usr/share/krb5/plugins", "/usr/lib/krb5/data/x"):
        assert dir_owners(d) == (), d


def test_third_party_plugin_with_its_own_version_is_not_folded(corpus, tmp_path):
    """A binary with its own version banner in krb5's plugin directory stays its own product."""
    root = (Path(corpus) / "rootfs").resolve()
    extra = tmp_path / "extra"
    plug = extra / "usr/lib/x86_64-linux-gnu/krb5/plugins/kdb"
    plug.mkdir(parents=True)
    shutil.copyfile(root / "usr/sbin/dnsmasq", plug / "vendor_kdb.so")  # a real binary: 'dnsmasq-2.90'
    shutil.copyfile(root / "usr/lib/x86_64-linux-gnu/libnfnetlink.so.0.2.0", plug / "vendor_nl.so")
    ctx = context_from_tree(root, tmp_path / "out")
    have = {e.path for e in ctx.result.files}
    ctx.result.files += [e for e in entries_from_tree(extra) if e.path not in have]
    comps = identify(ctx, use_package_db=False)
    kdb = f"{TRIPLET}/krb5/plugins/kdb/vendor_kdb.so"
    assert {c.name for c in comps if kdb in c.files} == {"dnsmasq"}
    # a plugin without a version of its own, even one with a SONAME, is krb5's
    assert owner_of(comps, f"{TRIPLET}/krb5/plugins/kdb/vendor_nl.so").name == "krb5"
    assert owner_of(comps, NFNETLINK).name == "libnfnetlink"  # the original copy is still unknown


# ---------------------------------------------------------------------------------- package file lists
def _dpkg_status(corpus: Path) -> bytes:
    from PySquashfsImage import SquashFsImage

    img = SquashFsImage.from_file(str(corpus / "rootfs-dpkg.sqfs"))
    try:
        return img.select("/var/lib/dpkg/status").read_bytes()
    finally:
        img.close()


def _deb_list(deb: Path) -> str:
    """What dpkg writes to info/<package>.list, from the .deb's own table of contents."""
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    lines = []
    for line in out.splitlines():
        p = line.split(None, 5)[5].split(" -> ")[0].rstrip("/")
        lines.append("/." if p == "." else p.lstrip("."))
    return "\n".join(lines) + "\n"


def _with_dpkg_lists(corpus: Path, tmp_path: Path, with_lists: bool = True):
    from tests.identify.truth import _deb_path

    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is needed to read the corpus .deb files")
    db = tmp_path / "db"
    info = db / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    status = _dpkg_status(corpus)
    (db / "var/lib/dpkg/status").write_bytes(status)
    debs = dict(line.split() for line in (corpus / "packages.txt").read_text().splitlines() if line.strip())
    multi_arch_same = set()
    for stanza in status.decode().split("\n\n"):
        f = dict(ln.split(": ", 1) for ln in stanza.splitlines() if ": " in ln and not ln.startswith(" "))
        if f.get("Multi-Arch") == "same":
            multi_arch_same.add(f["Package"])
    if with_lists:
        for name, recorded in debs.items():
            deb = _deb_path(corpus, recorded)
            assert deb is not None, recorded
            fname = f"{name}:amd64.list" if name in multi_arch_same else f"{name}.list"  # as dpkg names them
            (info / fname).write_text(_deb_list(deb))
    ctx = context_from_tree((corpus / "rootfs").resolve(), tmp_path / "out")
    have = {e.path for e in ctx.result.files}
    ctx.result.files += [e for e in entries_from_tree(db) if e.path not in have]
    return ctx, multi_arch_same


def test_dpkg_file_lists_fold_every_listed_library(corpus, tmp_path):
    ctx, multi = _with_dpkg_lists(Path(corpus), tmp_path)
    assert "libc6" in multi and (tmp_path / "db/var/lib/dpkg/info/libc6:amd64.list").is_file()
    comps = identify(ctx)
    c = by_name(comps)
    # every library of the corpus belongs to a package: no weak component remains
    assert weak_only(comps) == []
    assert all(x.properties.get("package_db") == "dpkg" or x.name == "linux" for x in comps)
    # the library firmpass knows nothing about: its package, by the package's file list
    nf = owner_of(comps, NFNETLINK)
    assert nf.name == "libnfnetlink0"
    ev = [e for e in nf.evidence if e.path == NFNETLINK]
    assert [e.method for e in ev] == ["dpkg-file-list"] and ev[0].match == NFNETLINK
    assert nf.hashes.get("sha256")  # the package's file gives the component its hashes
    # the three files of the defect: libc6 and libkrb5-3 (where the .deb files put them)
    for path, pkg in ((MEMUSAGE, "libc6"), (PCPROFILE, "libc6"), (SPAKE, "libkrb5-3"), (HISTORY, "libreadline8")):
        assert owner_of(comps, path).name == pkg, path
        assert any(e.path == path for e in c[pkg].evidence), path
    # files the lists name are files of the package (docs too), once each
    assert "/usr/share/doc/libnfnetlink0/copyright" in nf.files or not (
        Path(corpus) / "rootfs/usr/share/doc/libnfnetlink0/copyright").exists()
    assert len(nf.files) == len(set(nf.files))


def test_dpkg_status_without_lists_folds_by_product(corpus, tmp_path):
    """No file lists (the corpus' rootfs-dpkg.sqfs): the weak files still fold, by name / directory, into
    the package component of their product; spake.so into libkrb5-3, not another krb5 package."""
    ctx, _ = _with_dpkg_lists(Path(corpus), tmp_path, with_lists=False)
    comps = identify(ctx)
    assert owner_of(comps, SPAKE).name == "libkrb5-3"
    assert owner_of(comps, MEMUSAGE).name == "libc6"
    assert owner_of(comps, HISTORY).name == "libreadline8"
    assert weak_only(comps) == []


def test_parse_file_list():
    text = "/.\n/usr\n/usr/sbin/dropbear\t755\n\n/etc/init.d/dropbear\n"
    assert parse_file_list(text) == ["/usr", "/usr/sbin/dropbear", "/etc/init.d/dropbear"]


def test_unversioned_name_owned_by_versioned_pattern():
    glibc = rules_by_id()["glibc"]
    assert glibc.owns("libmemusage.so") and glibc.owns("libm.so.6")
    assert not glibc.owns("libmemusage.a") and not glibc.owns("libmemusagex.so")
    # an unversioned name no pattern covers is nobody's
    from firmpass.identify.signatures import load_rules

    assert not any(r.owns("libnfnetlink.so") for r in load_rules())


def test_opkg_file_list_folds(corpus, tmp_path):
    """OpenWrt's opkg keeps <pkg>.list next to its status: a listed library belongs to the package."""
    root = (Path(corpus) / "rootfs").resolve()
    db = tmp_path / "db/usr/lib/opkg"
    (db / "info").mkdir(parents=True)
    (db / "status").write_text("Package: libnfnetlink\nVersion: 1.0.2-1\nArchitecture: x86_64\n"
                               "Status: install user installed\n\n")
    (db / "info/libnfnetlink.list").write_text(f"{NFNETLINK}\n/usr/lib/x86_64-linux-gnu/libnfnetlink.so.0\n")
    ctx = context_from_tree(root, tmp_path / "out")
    have = {e.path for e in ctx.result.files}
    ctx.result.files += [e for e in entries_from_tree(tmp_path / "db") if e.path not in have]
    comps = identify(ctx)
    c = owner_of(comps, NFNETLINK)
    assert c.name == "libnfnetlink" and c.version == "1.0.2" and c.properties["package_db"] == "opkg"
    assert [e.method for e in c.evidence if e.path == NFNETLINK] == ["opkg-file-list"]
    assert all(x.name != "libnfnetlink" or x is c for x in comps)

