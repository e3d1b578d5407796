"""Benchmark of component identification: recall / precision per image and the time it adds.

    PYTHONPATH=src:. python -m bench.bench_identify [--images rootfs-xz.sqfs,firmware.bin]

For each corpus image: unpack + inventory through the real pipeline (when the unpack stage is
installed), then `identify` twice: binary evidence only (the issue's measure: no package database)
and with package databases.  Recall is over the .deb packages whose own ELF files carry their
upstream version (tests/identify/truth.py derives that from the real .deb files); precision over
every versioned component reported.  Time is printed next to a floor measured in the same run:
reading and SHA-256-hashing every regular file of the image once (what any content scan costs).
Identification is timed after the inventory stage, as in a scan (the directory trees, extra-rootfs and
the ph0wn rootfs, go through firmpass.inventory first: file hashes and ELF facts are that stage's work).

Without the unpack stage (older checkouts) the corpus rootfs tree is used, once and as three filesystems (firmware.bin
holds the rootfs three times), which is what identification sees of firmware.bin.
Target: identification <= 3 s on the 74 MB firmware.bin on a 2-core machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.identify import identify, rule_for_package  # noqa: E402
from firmpass.identify.pkgdb import debian_upstream  # noqa: E402
from firmpass.inventory import run as inventory  # noqa: E402
from tests.corpus import build  # noqa: E402
from tests.identify.truth import packages, score  # noqa: E402
from tests.treectx import context_from_tree  # noqa: E402

TARGET_S = 3.0


def floor_seconds(ctx) -> float:
    t = time.perf_counter()
    for f in ctx.iter_files(("file",)):
        if f.disk_path:
            try:
                hashlib.sha256(ctx.read(f, None)).digest()
            except OSError:
                pass
    return time.perf_counter() - t


def rule_tables() -> None:
    """The once-per-process cost of the rule tables, printed apart from the per-image times (which are
    measured after it): loading them, and compiling every pattern, which a scan does only for the rules
    its files reach (signatures.py compiles on first use)."""
    from firmpass.identify import signatures

    signatures.load_rules.cache_clear()
    t = time.perf_counter()
    rules = signatures.load_rules()
    signatures.any_files_rx.cache_clear()
    signatures.any_files_rx()
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    for r in rules:
        (r.files, r.dirs, r.anywhere, r.owned, r.bare, r.fname)
    print(f"rule tables ({len(rules)} rules): load {t_load:.2f}s once per process; compiling every pattern "
          f"would add {time.perf_counter() - t:.2f}s (a scan compiles only the rules its files reach)")


def measure(label: str, ctx, truth) -> dict:
    files = list(ctx.result.files)
    fl = floor_seconds(ctx)
    ctx.result.files = [f.model_copy() for f in files]
    t = time.perf_counter()
    comps = identify(ctx, use_package_db=False)
    t_bin = time.perf_counter() - t
    s = score(comps, truth)
    ctx.result.files = [f.model_copy() for f in files]
    t = time.perf_counter()
    comps_db = identify(ctx, use_package_db=True)
    t_db = time.perf_counter() - t
    s_db = score(comps_db, truth)
    kern = ctx.result.extra.get("kernel") or {}
    print(f"{label:34} files={len(files):6}  binary-only: recall={s['recall']:.3f} ({s['hit']}/{s['carry']}) "
          f"precision={s['precision']:.3f} ({s['reported'] - len(s['wrong'])}/{s['reported']})  "
          f"identify={t_bin:.2f}s floor={fl:.2f}s ratio={t_bin / fl if fl else 0:.1f}x  "
          f"| with pkg db: components={len(comps_db)} recall={s_db['recall']:.3f} t={t_db:.2f}s"
          f"{'  kernel=' + str(kern.get('version')) if kern.get('version') else ''}")
    print(f"{'':34} exact version: executables {s['exe_hit']}/{s['exe']} ({s['exe_recall']:.1%})  "
          f"all packages {s['all_hit']}/{s['all']} ({s['all_recall']:.1%})  precision {s['precision']:.1%}")
    if s["missed"]:
        print(f"{'':34} missed: {', '.join(s['missed'])}")
    if s["all_missed"]:
        print(f"{'':34} no version evidence in the binaries (missed): {', '.join(s['all_missed'])}")
    if s["wrong"]:
        print(f"{'':34} wrong: {', '.join(s['wrong'])}")
    mb = sum(f.size for f in files if f.type == "file") / 1e6
    return {"t": t_bin, "floor": fl, "mb": mb, **s}


PH0WN = ROOT.parent / "shared" / "data" / "firmware" / "ph0wn-r0-rootfs-mipsel.tar.bz2"
# OpenWrt package names -> the product (rule id) a binary identifies
_OPKG_PRODUCT = {"libc": "uclibc", "libopenssl": "openssl", "agetty": "util-linux", "libjson-c": "json-c",
                 "kernel": "linux_kernel", "libgcc": "gcc", "libnl-tiny": "libnl-tiny"}


def measure_ph0wn(tmp: Path) -> dict | None:
    """The real OpenWrt-based router rootfs in ../shared (when present): binary evidence only, scored
    against its own opkg status for the packages that have a release version (OpenWrt's own tools
    are versioned by git snapshot date and carry no release to find; kmod-* are the kernel's)."""
    import re
    import tarfile

    from firmpass.identify.pkgdb import parse_dpkg_status, debian_upstream as _up  # noqa: F401

    if not PH0WN.is_file():
        print(f"(ph0wn router rootfs not found at {PH0WN}: skipped)")
        return None
    d = tmp / "ph0wn"
    with tarfile.open(PH0WN) as t:
        t.extractall(d, filter=lambda m, p: None if m.issym() and m.linkname.startswith("/") else tarfile.data_filter(m, p))
    root = d / "rootfs-mipsel"
    pkgs = parse_dpkg_status((root / "usr/lib/opkg/status").read_text(), "opkg")
    truth = {}
    for p in pkgs:
        if p.name.startswith("kmod-") or p.name == "base-files" or not re.match(r"^\d+\.\d+", p.version):
            continue
        rid = _OPKG_PRODUCT.get(p.name) or p.name
        truth[rid] = re.match(r"^\d+(?:\.\d+)+[a-z]?", p.version).group(0)  # 1.0.2n-1, 3.18.109-1-17b4..., 4.6-linaro-1
    ctx = context_from_tree(root, tmp / "ph0wn-out")
    inventory(ctx)  # as in a scan: hashes and ELF facts come from the inventory stage, not from identify
    mb = sum(f.size for f in ctx.result.files if f.type == "file") / 1e6
    t = time.perf_counter()
    comps = identify(ctx, use_package_db=False)
    dt = time.perf_counter() - t
    found = {c.properties.get("rule"): c.version for c in comps if c.version}
    hit = [r for r, v in truth.items() if found.get(r) == v]
    wrong = [f"{r} {found[r]} (opkg: {v})" for r, v in truth.items() if r in found and found[r] != v]
    print(f"ph0wn router rootfs (real, opkg status ignored): {len(hit)}/{len(truth)} release-versioned packages at the "
          f"exact version; missed: {', '.join(f'{r} {v}' for r, v in truth.items() if r not in hit) or '-'}; "
          f"wrong: {', '.join(wrong) or '-'}; also found: "
          f"{', '.join(f'{r} {v}' for r, v in found.items() if r not in truth) or '-'}")
    n = len(hit) + len(wrong)
    return {"t": dt, "mb": mb, "exe_hit": len(hit), "exe": len(truth), "exe_recall": len(hit) / len(truth),
            "all_hit": len(hit), "all": len(truth), "all_recall": len(hit) / len(truth),
            "reported": n, "wrong": wrong, "precision": len(hit) / n if n else 1.0}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="rootfs-xz.sqfs,rootfs-dpkg.sqfs,rootfs.jffs2,firmware.bin")
    args = ap.parse_args()
    corpus = build()
    truth = packages(corpus)
    rule_tables()
    try:
        import firmpass.unpack  # noqa: F401

        have_unpack = True
    except ModuleNotFoundError:
        have_unpack = False
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-identify-") as tmp:
        if have_unpack:
            from firmpass.pipeline import scan

            for name in args.images.split(","):
                img = corpus / name
                t = time.perf_counter()
                ctx = scan(img, Path(tmp) / name, stages=["unpack", "inventory"])
                print(f"{name}: unpack+inventory {time.perf_counter() - t:.2f}s")
                results[name] = measure(name, ctx, truth)
        else:
            print("unpack stage not installed: measuring on the corpus rootfs tree (1x and as 3 filesystems)")
            root = (corpus / "rootfs").resolve()
            ctx = context_from_tree(root, Path(tmp) / "t1")
            results["rootfs tree"] = measure("rootfs tree", ctx, truth)
            ctx3 = context_from_tree(root, Path(tmp) / "t3")
            base = list(ctx3.result.files)
            ctx3.result.files = base + [e.model_copy(update={"container": c}) for c in ("0.2", "0.3") for e in base]
            results["rootfs tree x3 (firmware.bin)"] = measure("rootfs tree x3 (firmware.bin)", ctx3, truth)
        ph = measure_ph0wn(Path(tmp))
        if ph is not None:
            results["ph0wn router (real, MIPS)"] = ph
        extra = corpus / "extra-rootfs"
        if extra.is_dir():  # real socat / wget / inetutils, no package database
            gt = json.loads((corpus / "extra-rootfs.json").read_text())["packages"]
            ctx = context_from_tree(extra.resolve(), Path(tmp) / "extra")
            inventory(ctx)  # as in a scan: hashes and ELF facts come from the inventory stage
            files = list(ctx.result.files)
            fl = floor_seconds(ctx)
            t = time.perf_counter()
            comps = identify(ctx, use_package_db=False)
            dt = time.perf_counter() - t
            print(f"{'extra-rootfs':34} files={len(files):6}  identify={dt:.2f}s floor={fl:.2f}s "
                  f"ratio={dt / fl if fl else 0:.1f}x")
            got = {(c.properties.get("rule"), c.version) for c in comps if c.version}
            want = {(rule_for_package(p["package"], p["source"]).id, debian_upstream(p["version"])) for p in gt}
            h = len(want & got)
            results["extra-rootfs (socat, wget, inetutils)"] = {
                "t": dt, "mb": sum(f.size for f in files if f.type == "file") / 1e6, "exe_hit": h, "exe": len(want),
                "exe_recall": h / len(want), "all_hit": h, "all": len(want), "all_recall": h / len(want),
                "reported": len(got), "wrong": sorted(f"{r} {v}" for r, v in got - want),
                "precision": len(got & want) / len(got) if got else 1.0}
    print("\nexact upstream version, binary evidence only (package database removed):")
    print(f"{'image':34} {'executables':>14} {'all packages':>14} {'precision':>14} {'MB':>7} {'s/100MB':>8}")
    for name, r in results.items():
        print(f"{name:34} {r['exe_hit']:>4}/{r['exe']:<3} {r['exe_recall']:>6.1%} {r['all_hit']:>4}/{r['all']:<3} "
              f"{r['all_recall']:>6.1%} {r['reported'] - len(r['wrong']):>4}/{r['reported']:<3} {r['precision']:>6.1%} "
              f"{r['mb']:>7.1f} {r['t'] / r['mb'] * 100 if r['mb'] else 0:>8.2f}")
    worst = max(r["t"] for r in results.values())
    per100 = max(r["t"] / r["mb"] * 100 for r in results.values() if r["mb"] > 10)
    print(f"identification time per 100 MB of unpacked files, worst image over 10 MB: {per100:.2f}s (target < 1 s)")
    print(f"identification time, worst image: {worst:.2f}s (target <= {TARGET_S:.0f}s): {'OK' if worst <= TARGET_S else 'SLOW'}")
    ok = all(r["recall"] >= 0.95 and r["precision"] >= 0.98 and r["exe_recall"] >= 0.95
             for r in results.values() if "recall" in r)
    print(f"corpus images: recall (packages whose binaries carry their version) and executables >= 0.95, "
          f"precision >= 0.98: {'OK' if ok else 'FAIL'}; all packages >= 0.90: "
          f"{'OK' if all(r['all_recall'] >= 0.9 for r in results.values()) else 'NOT MET (see the table)'}")
    return 0 if ok and worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
