"""Benchmark: all checks over the corpus rootfs three times (firmware.bin holds three copies: squashfs,
jffs2 and the FIT ramdisk) plus its boot images (uImage kernel, signed FIT).

    python -m bench.bench_checks

Prints the checks' wall time, a floor measured in the same run (reading every file of the three
copies and the boot blobs once) and the ratio.  Target: checks <= 3 s.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.model import ContainerNode  # noqa: E402
from tests.treectx import context_from_tree, entries_from_tree  # noqa: E402


def corpus_dir() -> Path:
    from tests.corpus import build

    return build()


def make_ctx(corpus: Path, out: Path, with_sha: bool):
    rootfs = (corpus / "rootfs").resolve()
    ctx = context_from_tree(rootfs, out)
    files = [e for c in ("0.2", "0.3", "0.4.3") for e in entries_from_tree(rootfs, container=c)]
    if with_sha:  # the inventory stage records sha256 of every file; do it outside the timing
        cache: dict[str, str] = {}
        for e in files:
            if e.type == "file":
                e.sha256 = cache.get(e.disk_path) or cache.setdefault(
                    e.disk_path, hashlib.sha256(Path(e.disk_path).read_bytes()).hexdigest())
    ctx.result.files = files
    ctx.result.image.container_chain = [
        ContainerNode(id="0.1", parent="0", format="uimage", blob=str(corpus / "uImage-kernel")),
        ContainerNode(id="0.4", parent="0", format="fit", blob=str(corpus / "fit-signed.itb")),
    ]
    return ctx


def floor(ctx) -> float:
    t0 = time.perf_counter()
    n = 0
    for e in ctx.result.files:
        if e.type == "file":
            with open(e.disk_path, "rb") as fh:
                n += len(fh.read())
    for node in ctx.result.image.container_chain:
        n += len(Path(node.blob).read_bytes())
    return time.perf_counter() - t0


def main() -> None:
    from firmpass.checks import run

    corpus = corpus_dir()
    with tempfile.TemporaryDirectory() as tmp:
        for with_sha in (True, False):
            ctx = make_ctx(corpus, Path(tmp) / f"o{with_sha}", with_sha)
            fl = min(floor(ctx) for _ in range(3))
            t0 = time.perf_counter()
            run(ctx)
            dt = time.perf_counter() - t0
            nfiles = sum(1 for e in ctx.result.files if e.type == "file")
            slow = sorted(ctx.result.tool.stages["checks"]["check_seconds"].items(), key=lambda kv: -kv[1])[:4]
            print(f"checks over rootfs x3 + boot blobs ({nfiles} files, sha256 {'known' if with_sha else 'unknown'}): "
                  f"{dt:.2f} s; floor (read all once) {fl:.2f} s; ratio {dt / fl:.1f}x; "
                  f"target <= 3 s: {'OK' if dt <= 3 else 'MISSED'}; findings {len(ctx.result.findings)}; "
                  f"slowest {', '.join(f'{k} {v:.2f}s' for k, v in slow)}")


if __name__ == "__main__":
    main()
