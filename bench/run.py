"""Run every benchmark (bench/bench_*.py) in turn; each prints its own ratios against a floor
measured in the same run.  `make bench` or `python -m bench.run [name ...]`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    rc = 0
    for name in names:
        mod = name if name.startswith("bench_") else f"bench_{name}"
        print(f"\n=== {mod}", flush=True)
        r = subprocess.run([sys.executable, "-m", f"bench.{mod}"], cwd=HERE.parent)
        rc = rc or r.returncode
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
