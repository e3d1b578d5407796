"""A large NVD API 2.0 feed made from the real records of tests/fixtures/vulns/nvd_fixture.json.gz,
repeated under new CVE ids and written as a stream (the test material for B12's memory bound)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

FIX = Path(__file__).parents[1] / "fixtures" / "vulns" / "nvd_fixture.json.gz"


def write_feed(path: Path, records: int, source: Path = FIX) -> int:
    """Write a feed of `records` vulnerabilities to `path` (plain JSON); returns its size in bytes.
    `source` is a gzip NVD API 2.0 feed whose records are repeated (the fixture by default)."""
    src = json.loads(gzip.decompress(source.read_bytes()))["vulnerabilities"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"resultsPerPage": %d, "startIndex": 0, "totalResults": %d, "format": "NVD_CVE", '
                 '"version": "2.0", "timestamp": "2026-01-01T00:00:00.000", "vulnerabilities": [' % (records, records))
        for i in range(records):
            v = json.loads(json.dumps(src[i % len(src)]))
            v["cve"]["id"] = f"CVE-2099-{100000 + i}"
            fh.write(("," if i else "") + json.dumps(v))
        fh.write("]}")
    return path.stat().st_size
