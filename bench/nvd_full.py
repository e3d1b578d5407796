"""Peak memory of `firmpass db import` on a feed the size of the full NVD (issue 14, point 3: under
500 MB).  The feed is made of real NVD API 2.0 records - the shared reference subset
(../shared/data/vuln/nvd_subset.json.gz) when present, else the test fixture - repeated under new CVE
ids to RECORDS records, written as a stream; then imported by the real command in its own process,
whose peak RSS is read with os.wait4.  The full NVD holds about 250,000 CVE records (about 2 GB as one
API 2.0 JSON document: the records here average 6 KB).

    python -m bench.nvd_full              # 250,000 records (the full NVD; slow)
    python -m bench.nvd_full 80000        # a 500 MB feed
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.nvdgen import FIX, write_feed

SHARED = ROOT.parent / "shared" / "data" / "vuln" / "nvd_subset.json.gz"
RECORDS = 250_000
LIMIT_MB = 500


def measure(records: int, tmp: Path) -> dict:
    src = SHARED if SHARED.is_file() else FIX
    feed = tmp / "nvd-full.json"
    size = write_feed(feed, records, src)
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "firmpass.cli", "db", "import", str(feed), "--db", str(tmp / "v.db")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    err = p.stderr.read().decode("utf-8", "replace")
    _pid, status, ru = os.wait4(p.pid, 0)
    return {"records": records, "feed_mb": size >> 20, "source": src.name, "seconds": round(time.monotonic() - t0, 1),
            "peak_rss_mb": ru.ru_maxrss // 1024, "exit": os.waitstatus_to_exitcode(status), "stderr": err.strip()[-300:]}


def main(argv: list[str]) -> int:
    records = int(argv[0]) if argv else RECORDS
    with tempfile.TemporaryDirectory(prefix="firmpass-bench-nvd-") as d:
        r = measure(records, Path(d))
    print(f"db import of an NVD feed of {r['records']:,} records ({r['feed_mb']} MiB, records from {r['source']}): "
          f"{r['seconds']} s, peak RSS {r['peak_rss_mb']} MiB (limit {LIMIT_MB} MB), exit {r['exit']}")
    if r["exit"]:
        print(r["stderr"])
    return 0 if r["exit"] == 0 and r["peak_rss_mb"] * 1.048576 < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
