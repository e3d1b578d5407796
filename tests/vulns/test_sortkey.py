"""The stored version keys (versions.sortable_key / range_keys) and the SQL range filter must give
exactly what the Python comparator gives."""
import functools
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from firmpass.vulns.matcher import row_matches
from firmpass.vulns.store import AffectedRow, Store, VulnRow, affected_rows
from firmpass.vulns.versions import compare, in_range, key_in_range, range_keys, sortable_key

VERSIONS = Path(__file__).resolve().parent.parent / "fixtures" / "vulnperf" / "versions.txt"
EXTRA = ["1.1.1k", "1.1.1za", "1.1.1z", "1.1.1zh", "1.1.1", "2022.83", "2020.81", "2019.78", "2.6.36.4", "2.6.36",
         "0.9.33.2", "0.9.33", "1.0.0-rc1", "1.0.0rc2", "1.0.0", "1.0.0-alpha", "1.0.0-beta.2", "1.0.0.dev1",
         "1.0snapshot", "1.0-pre1", "1.0preview", "1.0-cr1", "7.4p1", "7.4", "2.78rc4", "2.78", "1:2.0", "0:1.9",
         "1.4.9", "1.4.69", "V1.2", "1.2a", "1.2b", "1.2.0", "007.1", "7.1", "", "-", "x", "1.0_2", "١٢.٣"]


def real_versions() -> list[str]:
    lines = VERSIONS.read_text(encoding="utf-8").splitlines()
    return [x for x in lines if x and not x.startswith("#")] + EXTRA


@pytest.mark.parametrize("a,b", [
    ("1.1.1k", "1.1.1za"), ("1.1.1z", "1.1.1za"), ("1.1.1", "1.1.1k"), ("2020.81", "2022.83"),
    ("2.6.36", "2.6.36.4"), ("0.9.33", "0.9.33.2"), ("0.9.33.2", "0.9.34"), ("3.0.9", "3.0.11"),
    ("1.0.0-rc1", "1.0.0"), ("1.0.0-alpha", "1.0.0-beta"), ("1.0.0-beta", "1.0.0-rc1"), ("1.0.0dev", "1.0.0alpha"),
    ("7.4", "7.4p1"), ("2.78rc4", "2.78"), ("1.2", "1.2a"), ("1.2a", "1.2b"), ("1.2b", "1.2.0"), ("1.4.9", "1.4.69"),
])
def test_key_order(a, b):
    assert sortable_key(a) < sortable_key(b)
    assert compare(a, b) == -1  # and the comparator agrees


def test_key_equal_versions():
    assert sortable_key("1.0.0-rc1") == sortable_key("1.0.0rc1") == sortable_key("1.0.0_RC1")
    assert sortable_key("1:2.0") == sortable_key("2.0")  # epoch stripped, as generic_key does
    assert sortable_key("007.1") == sortable_key("7.1")
    assert sortable_key("1.0dev") == sortable_key("1.0snapshot")  # same pre-release rank
    assert sortable_key("1.0") != sortable_key("1.0.0")


def test_key_too_long_is_none():
    assert sortable_key("1." * 200) is None
    assert sortable_key("9" * 300) is None
    assert sortable_key("1.2." + "9" * 200) is not None


def test_key_order_equals_comparator_on_real_versions():
    vs = real_versions()
    assert len(vs) > 3000
    by_cmp = sorted(vs, key=functools.cmp_to_key(compare))
    by_key = sorted(vs, key=sortable_key)
    assert [sortable_key(v) for v in by_cmp] == [sortable_key(v) for v in by_key]
    rnd = random.Random(7)
    for _ in range(20000):  # pairwise, including equal-comparing pairs
        a, b = rnd.choice(vs), rnd.choice(vs)
        ka, kb = sortable_key(a), sortable_key(b)
        assert compare(a, b) == (ka > kb) - (ka < kb), (a, b)


def test_range_keys_equal_in_range():
    vs = real_versions()
    rnd = random.Random(11)
    for _ in range(20000):
        v = rnd.choice(vs)
        lo, hi = sorted((rnd.choice(vs), rnd.choice(vs)), key=sortable_key)
        kind = rnd.randrange(7)
        bounds = [{"exact": lo}, {"start_incl": lo, "end_excl": hi}, {"start_excl": lo, "end_incl": hi},
                  {"end_excl": hi}, {"end_incl": hi}, {"start_incl": lo},
                  {"start_incl": lo, "start_excl": hi, "end_excl": hi, "end_incl": lo}][kind]
        keys = range_keys(**bounds)
        assert keys["keyed"]
        assert key_in_range(sortable_key(v), keys) == in_range(v, **bounds), (v, bounds)


def test_range_with_own_scheme_is_not_keyed():
    assert not range_keys(start_incl="1.0", end_excl="2.0", scheme="deb")["keyed"]  # univers Debian order
    assert not range_keys(end_excl="1." * 200)["keyed"]  # no key: compared in Python
    assert range_keys(end_excl="2.0", scheme="no-such-scheme")["keyed"]  # compare() falls back to generic too
    assert in_range("1.5", end_excl="2.0", scheme="no-such-scheme")


def test_sql_filter_equals_python_on_fixture_store(store):
    """Every CPE row of the fixture store, for many real versions: the row is returned by the keyed
    SQL lookup, with the same in/out decision, exactly when the Python comparator says so."""
    with store.session() as s:
        t = AffectedRow.__table__
        pairs = s.execute(select(t.c.vendor, t.c.product).where(t.c.kind == "cpe").distinct()).all()
        rows_all = {tuple(p): [r for r in store.affected_for_products(s, [tuple(p)]) if r.vulnerable] for p in pairs}
        keyed = sum(1 for rs in rows_all.values() for r in rs if r.keyed)
        assert keyed > 0.9 * sum(len(rs) for rs in rows_all.values())
        checked = 0
        for p, rs in rows_all.items():
            vs = sorted({x for r in rs for x in (r.exact, r.start_incl, r.start_excl, r.end_incl, r.end_excl) if x})
            vs = vs[:: max(1, len(vs) // 12)] + ["0.0.1", "99.0"]
            for v in vs:
                want = {(r.vuln_id, r.criteria, r.exact, r.start_incl, r.end_excl, r.end_incl) for r in rs
                        if row_matches(r, v)}
                got = set()
                for r in store.affected_for_version(s, [p], sortable_key(v)):
                    ok = bool(r.inrange) if r.keyed else row_matches(r, v)
                    if ok:
                        got.add((r.vuln_id, r.criteria, r.exact, r.start_incl, r.end_excl, r.end_incl))
                assert got == want, (p, v)
                checked += 1
        assert checked > 100


def test_old_store_gets_keys_on_open(tmp_path):
    """A store written before the key columns existed is upgraded when opened, and matches the same."""
    db = tmp_path / "old.db"
    st = Store(db)
    with st.engine.begin() as conn:
        for c in ("keyed", "key_lo", "lo_incl", "key_hi", "hi_incl"):
            conn.exec_driver_sql(f"ALTER TABLE affected DROP COLUMN {c}")
        conn.exec_driver_sql(
            "INSERT INTO affected (vuln_id, source, kind, vendor, product, start_incl, end_excl, vulnerable, authority,"
            " config) VALUES ('CVE-2000-0001', 'nvd', 'cpe', 'v', 'p', '1.1.1', '1.1.1za', 1, 0, -1)")
    st.close()
    st = Store(db)
    with st.session() as s:
        r = s.execute(select(AffectedRow.__table__)).one()
        assert r.keyed and r.key_lo == sortable_key("1.1.1") and r.key_hi == sortable_key("1.1.1za")
        assert [x.inrange for x in st.affected_for_version(s, [("v", "p")], sortable_key("1.1.1k"))] == [True]
        assert st.affected_for_version(s, [("v", "p")], sortable_key("1.1.1zb")) == []
    st.close()


def test_rows_inserted_without_keys_fall_back_to_python(tmp_path):
    st = Store(tmp_path / "s.db")
    with st.engine.begin() as conn:  # a writer that does not know the key columns: keyed stays NULL
        conn.execute(AffectedRow.__table__.insert(), [{"vuln_id": "CVE-1", "source": "x", "kind": "cpe",
                                                        "vendor": "v", "product": "p", "end_excl": "2.0",
                                                        "vulnerable": True, "authority": False, "config": -1}])
        conn.execute(AffectedRow.__table__.insert(), affected_rows([{"vuln_id": "CVE-2", "source": "x", "kind": "cpe",
                                                                      "vendor": "v", "product": "p", "end_excl": "1.0"}]))
    with st.session() as s:
        rows = st.affected_for_version(s, [("v", "p")], sortable_key("1.5"))
        assert [(r.vuln_id, r.keyed) for r in rows] == [("CVE-1", None)]  # CVE-2 dropped in SQL
        assert row_matches(rows[0], "1.5")
    assert st.fill_range_keys() == 1
    with st.session() as s:
        assert [(r.vuln_id, bool(r.inrange)) for r in st.affected_for_version(s, [("v", "p")], sortable_key("1.5"))] \
            == [("CVE-1", True)]
    st.close()


def test_batch_results_share_nothing_and_keep_kev_without_record(tmp_path):
    """Per-CVE fields are built once per batch, but each Vulnerability owns its lists and scores;
    an applicability row whose CVE record is missing still gets its KEV/EPSS entry."""
    from firmpass.model import Component
    from firmpass.vulns import match_components

    st = Store(tmp_path / "s.db")
    with st.session() as s, s.begin():
        s.execute(VulnRow.__table__.insert(), [{"id": "CVE-2", "description": "d", "aliases": ["GHSA-x"],
                                                "cvss": [{"version": "3.1", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                                          "base_score": 9.8, "severity": "critical", "source": "nvd"}],
                                                "references": ["https://example.org/a"], "configs": {}, "sources": ["x"]}])
        rows = [{"vuln_id": v, "source": "x", "kind": "cpe", "vendor": "v", "product": "p", "end_excl": "2.0",
                 "criteria": "cpe:2.3:a:v:p:*:*:*:*:*:*:*:*"} for v in ("CVE-1", "CVE-2")]
        s.execute(AffectedRow.__table__.insert(), affected_rows(rows))
        st.replace_kev(s, [{"cve": "CVE-1", "date_added": "2024-01-02", "name": "p flaw"}])
    comps = [Component(bom_ref=f"c{i}", name="p", version="1.5", cpe="cpe:2.3:a:v:p:1.5:*:*:*:*:*:*:*")
             for i in range(2)]
    vs = {(v.id, v.component): v for v in match_components(st, comps)}
    assert set(vs) == {(c, r) for c in ("CVE-1", "CVE-2") for r in ("c0", "c1")}
    assert vs[("CVE-1", "c0")].kev["date_added"] == "2024-01-02" and vs[("CVE-1", "c1")].kev["name"] == "p flaw"
    a, b = vs[("CVE-2", "c0")], vs[("CVE-2", "c1")]
    assert a.cvss == b.cvss and a.cvss[0].base_score == 9.8 and a.severity == "critical"
    assert a.cvss[0] is not b.cvss[0] and a.aliases is not b.aliases and a.references is not b.references
    a.aliases.append("mutated")
    assert b.aliases == ["GHSA-x"]
    st.close()
