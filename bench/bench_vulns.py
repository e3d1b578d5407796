"""Benchmark: import /work/shared/data/vuln (target <= 10 s) and match 500 components against a
synthetic store of 300,000 CVE records (target <= 1 s), with a floor measured in the same run."""
from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from firmpass.model import Component
from firmpass.vulns import match_components
from firmpass.vulns.importers import import_paths
from firmpass.vulns.store import AffectedRow, Store, VulnRow, affected_rows
from firmpass.vulns.versions import in_range

DATA = Path("/work/shared/data/vuln")
REPEAT = 5


def synthetic_store(path: Path, n: int = 300_000, n_products: int = 3000) -> tuple[Store, list[tuple[str, str]]]:
    """A store of `n` synthetic CVE records over `n_products` (vendor, product) pairs, each with one
    version range, written as an importer writes them (also used by bench_watch)."""
    st = Store(path)
    rnd = random.Random(1)
    products = [(f"vendor{i}", f"product{i}") for i in range(n_products)]
    t = time.perf_counter()
    with st.session() as s, s.begin():
        vulns, aff = [], []
        for i in range(n):
            vid = f"CVE-2099-{i:07d}"
            vulns.append({"id": vid, "description": "synthetic", "cvss": [], "references": [], "aliases": [],
                          "configs": {}, "sources": ["synthetic"]})
            v, p = products[rnd.randrange(n_products)]
            lo = rnd.randint(0, 5)
            aff.append({"vuln_id": vid, "source": "synthetic", "kind": "cpe", "vendor": v, "product": p,
                        "start_incl": f"{lo}.0", "end_excl": f"{lo + rnd.randint(1, 3)}.{rnd.randint(0, 9)}",
                        "vulnerable": True, "authority": False, "config": -1,
                        "criteria": f"cpe:2.3:a:{v}:{p}:*:*:*:*:*:*:*:*"})
        s.execute(VulnRow.__table__.insert(), vulns)
        s.execute(AffectedRow.__table__.insert(), affected_rows(aff))  # as an importer writes them (range keys)
    del vulns, aff  # build data only: a scan process never holds 600k dicts (they inflated GC time)
    print(f"synthetic store: {n} CVE records in {time.perf_counter() - t:.1f} s")
    return st, products


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    if DATA.is_dir():
        st = Store(tmp / "real.db")
        t = time.perf_counter()
        rep = import_paths(st, [DATA])
        dt = time.perf_counter() - t
        print(f"import {DATA}: {dt:.2f} s (target <= 10 s) {rep.by_format}")
        st.close()
    st, products = synthetic_store(tmp / "synth.db")
    rnd = random.Random(1)
    n_products = len(products)
    comps = [Component(bom_ref=f"c{i}", name=f"product{j}", version=f"{rnd.randint(0, 7)}.{rnd.randint(0, 9)}",
                       cpe=f"cpe:2.3:a:vendor{j}:product{j}:*:*:*:*:*:*:*:*")
             for i, j in enumerate(rnd.sample(range(n_products), 500))]
    for c in comps:
        c.cpe = c.cpe.replace(":*:*:*:*:*:*:*:*", f":{c.version}:*:*:*:*:*:*:*")
    match_components(st, comps[:5])  # warm caches / connection

    def floor() -> tuple[float, list]:
        # the bare indexed SELECT of each component's rows, nothing else
        t = time.perf_counter()
        with st.session() as s:
            got = [s.execute(select(AffectedRow.vuln_id, AffectedRow.start_incl, AffectedRow.end_excl).where(
                AffectedRow.vendor == f"vendor{c.name[7:]}", AffectedRow.product == f"product{c.name[7:]}")).all()
                for c in comps]
        return time.perf_counter() - t, got

    runs, floors = [], []
    for _ in range(REPEAT):  # the machine is shared: several runs, min and median reported
        t = time.perf_counter()
        vs = match_components(st, comps)
        runs.append(time.perf_counter() - t)
        f, rows = floor()
        floors.append(f)
    # cross-check against the plain Python comparator over every row of every component
    expect = sum(1 for c, rs in zip(comps, rows) for r in rs
                 if in_range(c.version, start_incl=r.start_incl, end_excl=r.end_excl))
    n = sum(len(rs) for rs in rows)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"shape: {n} rows for the 500 components ({n / 500:.0f} CVE ranges per product), {len(vs)} matches "
          f"= {100 * len(vs) / n:.0f} % of rows (Python comparator over all rows: {expect})")
    print(f"match 500 components vs 300000 CVEs: min {min(runs):.3f} s, median {med(runs):.3f} s over {REPEAT} runs "
          f"(target <= 1 s)")
    print(f"floor (500 indexed SELECTs, {n} rows): min {min(floors):.3f} s, median {med(floors):.3f} s; "
          f"ratio {min(runs) / min(floors):.1f}x (min/min), {med(runs) / med(floors):.1f}x (median/median)")
    assert len(vs) == expect, (len(vs), expect)
    with st.session() as s:
        plan = s.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM affected WHERE kind='cpe' AND (vendor, product) IN (VALUES ('vendor1','product1'))").all()
    print("query plan:", "; ".join(str(r[-1]) for r in plan))
    st.close()


if __name__ == "__main__":
    sys.exit(main())
