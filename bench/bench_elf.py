"""Benchmark: the one ELF reader (formats/elf.py) over every ELF of the corpus rootfs, beside
pyelftools doing the hardening part alone on the same files - the measurement behind the reader's
choice of a struct parser for the main path.

    python -m bench.bench_elf

Prints the reader's time, pyelftools' time, a floor (reading the files once) and the ratios.
Target: the reader <= 1x the floor (reading the files), and at least 10x faster than pyelftools.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from firmpass.formats import elf  # noqa: E402


def main() -> None:
    from tests.corpus import build

    rootfs = (build() / "rootfs").resolve()
    paths = [p for p in sorted(rootfs.rglob("*")) if p.is_file() and not p.is_symlink()
             and p.open("rb").read(4) == b"\x7fELF"]
    t0 = time.perf_counter()
    blobs = [p.read_bytes() for p in paths]
    floor = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in blobs:
        elf.facts(b)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in blobs:
        elf.hardening_pyelftools(b)
    ref = time.perf_counter() - t0
    print(f"{len(blobs)} ELF files, {sum(map(len, blobs)) >> 20} MiB")
    print(f"floor (read): {floor:.3f} s; formats.elf.facts: {ours:.3f} s ({ours / floor:.1f}x floor); "
          f"pyelftools (hardening only): {ref:.3f} s ({ref / ours:.0f}x the reader)")


if __name__ == "__main__":
    main()
