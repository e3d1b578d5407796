"""Check the signature rules against real binaries of a directory of .deb files (a maintainer tool).

    mkdir debs && (cd debs && apt-get download openssh-server nginx-core libsqlite3-0 ...)
    PYTHONPATH=src:. python -m bench.check_rules_debs debs/

For each .deb: the rule its package maps to (Debian source name), the files where that rule found the
package's exact upstream version (ok), found another version (wrong), and any OTHER product claimed
from the package's files (a possible false product).  Prints a line per package and totals.  The
corpus tests cover the corpus products; this covers the rest of the table on real builds.  Needs
dpkg-deb; makes no network call itself.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.identify import rule_for_package  # noqa: E402
from firmpass.formats.elf import data_view
from firmpass.formats.elf import facts as dyn_info  # noqa: E402
from firmpass.identify.pkgdb import debian_upstream  # noqa: E402
from firmpass.identify.signatures import match_file, version_strings  # noqa: E402


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True).stdout.strip()


def main(argv: list[str]) -> int:
    debdir = Path(argv[0]) if argv else Path("debs")
    totals = {"packages": 0, "ok": 0, "wrong": 0, "other": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for deb in sorted(debdir.glob("*.deb")):
            pkg, ver = field(deb, "Package"), field(deb, "Version")
            src = (field(deb, "Source") or pkg).split()[0]
            up = debian_upstream(ver)
            rule = rule_for_package(pkg, src)
            d = Path(tmp) / pkg
            subprocess.run(["dpkg-deb", "-x", str(deb), str(d)], check=True)
            ok, wrong, other = set(), set(), set()
            for dirpath, _, files in os.walk(d):
                for fn in files:
                    p = Path(dirpath) / fn
                    if p.is_symlink() or not p.is_file():
                        continue
                    data = p.read_bytes()[: 64 << 20]
                    if data[:4] != b"\x7fELF":
                        continue
                    di = dyn_info(data)
                    for m in match_file(fn, version_strings(data_view(data, di)), needed=di.needed if di else None):
                        if not m.version:
                            continue
                        if rule and m.rule.id == rule.id:
                            (ok if m.version == up else wrong).add((m.version, fn))
                        else:
                            other.add((m.rule.id, m.version, fn))
            totals["packages"] += 1
            totals["ok"] += bool(ok)
            totals["wrong"] += bool(wrong)
            totals["other"] += bool(other)
            print(f"{pkg:28} {up:16} rule={rule.id if rule else '-':20} ok={len(ok):2} "
                  f"wrong={sorted(wrong)[:3]} other={sorted(other)[:3]}")
    print(f"packages {totals['packages']}: exact version found in {totals['ok']}, another version in "
          f"{totals['wrong']}, other products claimed in {totals['other']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
