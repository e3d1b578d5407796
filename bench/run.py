"""`make bench`: run every benchmark in bench/ (each prints its own ratios against a floor)."""
from __future__ import annotations

import sys

from bench import bench_unpack

if __name__ == "__main__":
    sys.exit(bench_unpack.main(sys.argv[1:]))
