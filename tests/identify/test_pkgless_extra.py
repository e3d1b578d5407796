"""Real Debian binaries that print their version through printf("%s") (socat, wget, GNU inetutils
telnetd / ftpd), unpacked without a package database (tests/corpus/build-xtra-pkgless.sh): each is
found at its exact upstream version from the binary alone (issue 12 found inetutils and socat without
a version and wget not at all)."""
from __future__ import annotations

import json
from pathlib import Path

from firmpass.identify import identify, rule_for_package
from firmpass.identify.pkgdb import debian_upstream
from tests.treectx import context_from_tree


# its binary carries no release version (libxml2 keeps only "20914"): found, without a version, never guessed.
# (tinyproxy's does, in its "Server: tinyproxy/1.11.1" and "Proxy-agent:" header strings, which its rule reads)
NO_VERSION_IN_BINARY = {"libxml2"}


def test_printf_versions_found_exactly(corpus, tmp_path):
    gt = json.loads((Path(corpus) / "extra-rootfs.json").read_text())["packages"]
    comps = identify(context_from_tree((Path(corpus) / "extra-rootfs").resolve(), tmp_path), use_package_db=False)
    got = {(c.properties.get("rule"), c.version) for c in comps if c.version}
    want = set()
    for p in gt:
        rule = rule_for_package(p["package"], p["source"])
        assert rule is not None, p
        if p["package"] in NO_VERSION_IN_BINARY:
            assert any(c.properties.get("rule") == rule.id and not c.version for c in comps), p
            continue
        want.add((rule.id, debian_upstream(p["version"])))
        assert (rule.id, debian_upstream(p["version"])) in got, (p, sorted(got))
    # precision: nothing else with a version
    assert got == want, sorted(got - want)
    # a product's plugins fold into it (strongSwan's /usr/lib/ipsec/plugins, proftpd's modules, not lighttpd's)
    names = {c.name for c in comps}
    assert not any(n.startswith(("libstrongswan-", "mod_")) for n in names), sorted(names)
    by = {c.name: c for c in comps}
    assert any(f.startswith("/usr/lib/proftpd/mod_") for f in by["proftpd"].files)
    assert by["wget"].cpe == "cpe:2.3:a:gnu:wget:1.21.3:*:*:*:*:*:*:*"
    assert {"/usr/sbin/telnetd", "/usr/sbin/ftpd"} <= set(by["inetutils"].files)
