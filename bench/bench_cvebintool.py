"""firmpass identify beside cve-bin-tool on the same package-less trees: exact versions per image.

    PYTHONPATH=src:. python -m bench.bench_cvebintool

cve-bin-tool (PyPI) is installed into its own virtual environment under bench/out/ (never into
firmpass's); when it cannot be installed (offline, no venv module) this prints why and exits 0: the
comparison is skipped, firmpass's own figures are in bench_identify.  Its version checkers run over the
same files firmpass sees (every regular ELF file of the tree, symlinks skipped), through its own string
extraction (`cve_bin_tool.strings.parse_strings`) and checker classes, without its CVE database (only
product and version are compared).

Both are scored the same way: a package is found when a reported (product, version) names its product
(the rule's NVD vendor:product, cve-bin-tool's checker product) at the package's exact upstream version;
precision over every versioned report (a product/version that no package of the tree has counts as wrong).
Trees: the corpus rootfs (what rootfs-xz.sqfs, rootfs.jffs2 and firmware.bin unpack to, package
database ignored) and extra-rootfs (real Debian daemons and libraries, no package database).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.identify import identify, rule_for_package  # noqa: E402
from firmpass.identify.pkgdb import debian_upstream  # noqa: E402
from firmpass.identify.signatures import rules_by_id  # noqa: E402
from tests.corpus import build  # noqa: E402
from tests.identify.truth import _is_exe, packages  # noqa: E402
from tests.treectx import context_from_tree  # noqa: E402

VENV = ROOT / "bench" / "out" / "cve-bin-tool-venv"

# run inside cve-bin-tool's venv: every regular ELF file of a tree through every version checker
_RUNNER = r'''
import json, os, sys
from cve_bin_tool.strings import parse_strings
from cve_bin_tool.checkers import BUILTIN_CHECKERS
checkers, failed = {}, []
for ep in BUILTIN_CHECKERS.values():  # one by one: a checker that fetches data at import (sqlite) fails offline
    try:
        checkers[ep.name] = ep.load()
    except Exception:
        failed.append(ep.name)
print(json.dumps({"loaded": len(checkers), "failed": failed}), file=sys.stderr)
out = []
root = sys.argv[1]
for d, _dirs, files in os.walk(root):
    for n in files:
        p = os.path.join(d, n)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        with open(p, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        lines = parse_strings(p)
        for name, cls in checkers.items():
            try:
                res = cls().get_version(lines, n)
            except Exception:
                continue
            for r in ([res] if "is_or_contains" in res else res):
                v = r.get("version", "UNKNOWN")
                if "is_or_contains" in r and v and v != "UNKNOWN":
                    for vendor, product in cls.VENDOR_PRODUCT:
                        out.append([vendor, product, v, "/" + os.path.relpath(p, root)])
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh)
'''


def install() -> Path | None:
    """cve-bin-tool's python in its own venv, installed from PyPI on first use; None when that fails."""
    py = VENV / "bin" / "python"
    if py.is_file() and subprocess.run([str(py), "-c", "import cve_bin_tool"], capture_output=True).returncode == 0:
        return py
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "cve-bin-tool"], check=True, capture_output=True,
                       timeout=1200)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"cve-bin-tool could not be installed from PyPI into {VENV} ({e.__class__.__name__}): comparison skipped")
        return None
    return py


def cvebintool(py: Path, tree: Path) -> tuple[list[tuple[str, str, str, str]], float]:
    t = time.perf_counter()
    # its checkers keep a cache database under ~/.cache/cve-bin-tool: a home of its own under bench/out
    home = VENV.parent / "cve-bin-tool-home"
    (home / ".cache" / "cve-bin-tool").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    res_file = home / "results.json"
    res = subprocess.run([str(py), "-c", _RUNNER, str(tree), str(res_file)], capture_output=True, text=True,
                         timeout=3600, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    info = next((json.loads(x) for x in res.stderr.splitlines() if x.startswith('{"loaded"')), {})
    if info:
        print(f"cve-bin-tool: {info['loaded']} checkers loaded; not loadable offline: {', '.join(info['failed']) or '-'}")
    return [tuple(x) for x in json.loads(res_file.read_text())], time.perf_counter() - t


# cve-bin-tool product names for the same product under another name (its checkers list NVD's older pairs)
_SYNONYMS = {"dbus": {"d-bus", "libdbus"}}


def _products(rule_id: str | None) -> set[str]:
    r = rules_by_id().get(rule_id or "")
    if r is None:
        return set()
    return ({c.split(":")[1] for c in [r.cpe or "", *r.cpe_aliases] if ":" in c} | {r.id, r.name}
            | _SYNONYMS.get(r.id, set()))


def score_pairs(found: set[tuple[str, str]], pkgs: list[dict]) -> dict:
    """found: (product, version) pairs; pkgs: {package, rule, upstream, exe}."""
    prods = [(p, _products(p["rule"]) | {p["package"]}) for p in pkgs]
    hit = [p for p, names in prods if any((n, p["upstream"]) in found for n in names)]
    ok = {(n, v) for (n, v) in found for p, names in prods if n in names and v == p["upstream"]}
    exe = [p for p in pkgs if p["exe"]]
    return {"all": len(pkgs), "all_hit": len(hit), "exe": len(exe), "exe_hit": sum(p in hit for p in exe),
            "reported": len(found), "correct": len(ok), "wrong": sorted(f"{n} {v}" for n, v in found - ok)}


def firmpass_pairs(tree: Path, tmp: Path) -> tuple[set[tuple[str, str]], float]:
    ctx = context_from_tree(tree.resolve(), tmp)
    t = time.perf_counter()
    comps = identify(ctx, use_package_db=False)
    dt = time.perf_counter() - t
    out = set()
    for c in comps:
        if c.version and c.name != "linux":
            rid = c.properties.get("rule")
            r = rules_by_id().get(rid or "")
            out.add(((r.cpe or "").split(":")[-1] or r.id if r else c.name, c.version))
    return out, dt


def trees(corpus: Path, tmp: Path) -> list[tuple[str, Path, list[dict]]]:
    out = []
    gt = [{"package": p["package"], "rule": p["rule"], "upstream": p["upstream"],
           "exe": any(_is_exe(f) for f in p["elfs"])} for p in packages(corpus)]
    out.append(("corpus rootfs (rootfs-xz.sqfs, jffs2, firmware.bin)", corpus / "rootfs", gt))
    if (corpus / "extra-rootfs.json").is_file():
        ex = []
        for p in json.loads((corpus / "extra-rootfs.json").read_text())["packages"]:
            r = rule_for_package(p["package"], p["source"])
            ex.append({"package": p["package"], "rule": r.id if r else None, "upstream": debian_upstream(p["version"]),
                       "exe": p["package"] in EXTRA_EXE})
        out.append(("extra-rootfs (real Debian, no package db)", corpus / "extra-rootfs", ex))
    return out


# extra-rootfs packages that install a program (bin/ or sbin/)
EXTRA_EXE = {"socat", "wget", "inetutils-telnetd", "inetutils-ftpd", "vsftpd", "proftpd-core", "openvpn",
             "strongswan-charon", "xl2tpd", "ppp", "pppoe", "wireguard-tools", "mosquitto", "lldpd", "snmpd",
             "avahi-daemon", "tinyproxy-bin", "mini-httpd", "sqlite3", "lua5.4"}


def main() -> int:
    py = install()
    corpus = build()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cbt-") as tmp:
        for label, tree, gt in trees(corpus, Path(tmp)):
            fp, t_fp = firmpass_pairs(tree, Path(tmp) / f"fp-{len(rows)}")
            row = {"label": label, "firmpass": score_pairs(fp, gt), "t_fp": t_fp}
            if py is not None:
                cb, t_cb = cvebintool(py, tree.resolve())
                row["cbt"] = score_pairs({(p, v) for _vd, p, v, _f in cb}, gt)
                row["t_cb"] = t_cb
            rows.append(row)
    print("\nexact upstream version from the binaries (package database removed): firmpass | cve-bin-tool")
    print(f"{'tree':52} {'firmpass all':>13} {'exe':>9} {'precision':>11} | {'cve-bin-tool all':>16} {'exe':>9} {'precision':>11}")
    for r in rows:
        f = r["firmpass"]
        line = (f"{r['label']:52} {f['all_hit']:>4}/{f['all']:<3} {f['all_hit'] / f['all']:>5.0%} {f['exe_hit']:>3}/{f['exe']:<3}"
                f" {f['correct']:>4}/{f['reported']:<3}{f['correct'] / max(f['reported'], 1):>4.0%}")
        if "cbt" in r:
            c = r["cbt"]
            line += (f" | {c['all_hit']:>6}/{c['all']:<3} {c['all_hit'] / c['all']:>5.0%} {c['exe_hit']:>3}/{c['exe']:<3}"
                     f" {c['correct']:>4}/{c['reported']:<3}{c['correct'] / max(c['reported'], 1):>4.0%}")
        else:
            line += " | (cve-bin-tool not installed)"
        print(line)
        for who in ("firmpass", "cbt"):
            if who in r and r[who]["wrong"]:
                print(f"{'':52} {who} wrong or not in the tree: {', '.join(r[who]['wrong'][:12])}"
                      f"{' ...' if len(r[who]['wrong']) > 12 else ''}")
        print(f"{'':52} time: firmpass identify {r['t_fp']:.1f} s"
              + (f", cve-bin-tool checkers {r['t_cb']:.1f} s" if "t_cb" in r else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
