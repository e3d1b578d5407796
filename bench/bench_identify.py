"""Benchmark of component identification: recall / precision per image and the time it adds.

    PYTHONPATH=src:. python -m bench.bench_identify [--images rootfs-xz.sqfs,firmware.bin]

For each corpus image: unpack + inventory through the real pipeline (when the unpack stage is
installed), then `identify` twice: binary evidence only (the issue's measure: no package database)
and with package databases.  Recall is over the .deb packages whose own ELF files carry their
upstream version (tests/identify/truth.py derives that from the real .deb files); precision over
every versioned component reported.  Time is printed next to a floor measured in the same run:
reading and SHA-256-hashing every regular file of the image once (what any content scan costs).

Without the unpack stage (older checkouts) the corpus rootfs tree is used, once and as three filesystems (firmware.bin
holds the rootfs three times), which is what identification sees of firmware.bin.
Target: identification <= 3 s on the 74 MB firmware.bin on a 2-core machine.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.identify import identify  # noqa: E402
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="rootfs-xz.sqfs,rootfs-dpkg.sqfs,rootfs.jffs2,firmware.bin")
    args = ap.parse_args()
    corpus = build()
    truth = packages(corpus)
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
    print("\nexact upstream version, binary evidence only (package database removed):")
    print(f"{'image':34} {'executables':>14} {'all packages':>14} {'precision':>14} {'MB':>7} {'s/100MB':>8}")
    for name, r in results.items():
        print(f"{name:34} {r['exe_hit']:>4}/{r['exe']:<3} {r['exe_recall']:>6.1%} {r['all_hit']:>4}/{r['all']:<3} "
              f"{r['all_recall']:>6.1%} {r['reported'] - len(r['wrong']):>4}/{r['reported']:<3} {r['precision']:>6.1%} "
              f"{r['mb']:>7.1f} {r['t'] / r['mb'] * 100 if r['mb'] else 0:>8.2f}")
    worst = max(r["t"] for r in results.values())
    print(f"identification time, worst image: {worst:.2f}s (target <= {TARGET_S:.0f}s): {'OK' if worst <= TARGET_S else 'SLOW'}")
    ok = all(r["recall"] >= 0.95 and r["precision"] >= 0.98 for r in results.values())
    print(f"recall >= 0.95 and precision >= 0.98 on every image: {'OK' if ok else 'FAIL'}")
    return 0 if ok and worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
