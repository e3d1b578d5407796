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
from firmpass.vulns.store import AffectedRow, Store, VulnRow

DATA = Path("/work/shared/data/vuln")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    if DATA.is_dir():
        st = Store(tmp / "real.db")
        t = time.perf_counter()
        rep = import_paths(st, [DATA])
        dt = time.perf_counter() - t
        print(f"import {DATA}: {dt:.2f} s (target <= 10 s) {rep.by_format}")
        st.close()
    st = Store(tmp / "synth.db")
    rnd = random.Random(1)
    n_products = 3000
    products = [(f"vendor{i}", f"product{i}") for i in range(n_products)]
    t = time.perf_counter()
    with st.session() as s, s.begin():
        vulns, aff = [], []
        for i in range(300_000):
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
        s.execute(AffectedRow.__table__.insert(), aff)
    print(f"synthetic store: 300000 CVE records in {time.perf_counter() - t:.1f} s")
    comps = [Component(bom_ref=f"c{i}", name=f"product{j}", version=f"{rnd.randint(0, 7)}.{rnd.randint(0, 9)}",
                       cpe=f"cpe:2.3:a:vendor{j}:product{j}:*:*:*:*:*:*:*:*")
             for i, j in enumerate(rnd.sample(range(n_products), 500))]
    for c in comps:
        c.cpe = c.cpe.replace(":*:*:*:*:*:*:*:*", f":{c.version}:*:*:*:*:*:*:*")
    match_components(st, comps[:5])  # warm caches / connection
    t = time.perf_counter()
    vs = match_components(st, comps)
    dt = time.perf_counter() - t
    # floor: the bare indexed SELECT of each component's rows, nothing else
    t = time.perf_counter()
    with st.session() as s:
        n = 0
        for c in comps:
            j = c.name[7:]
            n += len(s.execute(select(AffectedRow.pk, AffectedRow.end_excl).where(
                AffectedRow.vendor == f"vendor{j}", AffectedRow.product == f"product{j}")).all())
    floor = time.perf_counter() - t
    print(f"match 500 components vs 300000 CVEs: {dt:.3f} s (target <= 1 s), {len(vs)} matches")
    print(f"floor (500 indexed SELECTs, {n} rows): {floor:.3f} s; ratio {dt / floor:.1f}x")
    with st.session() as s:
        plan = s.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM affected WHERE kind='cpe' AND (vendor, product) IN (VALUES ('vendor1','product1'))").all()
    print("query plan:", "; ".join(str(r[-1]) for r in plan))
    st.close()


if __name__ == "__main__":
    sys.exit(main())
