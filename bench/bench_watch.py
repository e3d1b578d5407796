"""Benchmark: `firmpass watch` over 100 saved scans against a store of 300,000 CVE records (target
<= 10 s), beside a floor measured in the same run: matching the portfolio's distinct components once
with the library call the scan itself uses (match_components), nothing else.

The saved scans are a portfolio as makers have them: 100 firmware versions of 10 products, each
with 60 components drawn from its product's pool of 80 (versions of one product share most of
their components), written as findings.json by the real result model."""
from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_vulns import synthetic_store
from firmpass.model import Component, ImageInfo, ScanResult, ToolInfo
from firmpass.vulns import match_components
from firmpass.watch import watch_scans

SCANS, PRODUCTS, PER_SCAN, POOL = 100, 10, 60, 80


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fp-bench-watch-"))
    st, products = synthetic_store(tmp / "synth.db")
    rnd = random.Random(7)
    pools = [[(rnd.randrange(len(products)), f"{rnd.randint(0, 7)}.{rnd.randint(0, 9)}") for _ in range(POOL)]
             for _ in range(PRODUCTS)]
    outs, distinct = [], {}
    for i in range(SCANS):
        pool = pools[i % PRODUCTS]
        comps = []
        for j, (pi, ver) in enumerate(rnd.sample(pool, PER_SCAN)):
            c = Component(bom_ref=f"c{j}", name=f"product{pi}", version=ver,
                          cpe=f"cpe:2.3:a:vendor{pi}:product{pi}:{ver}:*:*:*:*:*:*:*")
            comps.append(c)
            distinct[(pi, ver)] = c
        res = ScanResult(tool=ToolInfo(version="bench"), components=comps,
                         image=ImageInfo(path=f"fw{i}.bin", name=f"fw{i}.bin", sha256=f"{i:064x}", size=1))
        out = tmp / "portfolio" / f"product{i % PRODUCTS}" / f"v{i}"
        out.mkdir(parents=True)
        (out / "findings.json").write_text(res.to_json())
        outs.append(out)
    print(f"portfolio: {SCANS} saved scans, {SCANS * PER_SCAN} components, {len(distinct)} distinct")
    uniq = [c.model_copy(update={"bom_ref": f"u{k}"}) for k, c in enumerate(distinct.values())]
    match_components(st, uniq[:5])  # warm the connection and caches
    t = time.perf_counter()
    floor_vs = match_components(st, uniq)
    floor = time.perf_counter() - t
    now = dt.datetime.now(dt.timezone.utc)
    runs = []
    for k in range(3):  # the first run writes every watch.json from the scans; later runs compare with them
        t = time.perf_counter()
        docs = watch_scans(outs, st, now + dt.timedelta(minutes=k))
        runs.append(time.perf_counter() - t)
    opened = sum(d["counts"]["open"] for d in docs)
    print(f"floor: match the {len(uniq)} distinct components once: {floor:.2f} s ({len(floor_vs)} matches)")
    print(f"watch {SCANS} scans vs 300000 CVEs: first {runs[0]:.2f} s, then {min(runs[1:]):.2f} s "
          f"(target <= 10 s); {opened} open vulnerabilities in all; ratio {min(runs) / floor:.1f}x the floor")
    st.close()


if __name__ == "__main__":
    sys.exit(main())
