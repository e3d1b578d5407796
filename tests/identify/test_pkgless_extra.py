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


def test_printf_versions_found_exactly(corpus, tmp_path):
    gt = json.loads((Path(corpus) / "extra-rootfs.json").read_text())["packages"]
    comps = identify(context_from_tree((Path(corpus) / "extra-rootfs").resolve(), tmp_path), use_package_db=False)
    got = {(c.properties.get("rule"), c.version) for c in comps if c.version}
    for p in gt:
        rule = rule_for_package(p["package"], p["source"])
        assert rule is not None, p
        assert (rule.id, debian_upstream(p["version"])) in got, (p, got)
    # nothing else with a version, and every versioned one carries its CPE
    assert len(got) == len({rule_for_package(p["package"], p["source"]).id for p in gt})
    by = {c.name: c for c in comps}
    assert by["wget"].cpe == "cpe:2.3:a:gnu:wget:1.21.3:*:*:*:*:*:*:*"
    assert {"/usr/sbin/telnetd", "/usr/sbin/ftpd"} <= set(by["inetutils"].files)
