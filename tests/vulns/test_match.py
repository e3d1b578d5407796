
from firmpass.vulns import match_components
from firmpass.vulns.matcher import component_key

from .conftest import comp

CORPUS = [  # the versions the corpus ships (ground_truth.json) with the CPEs identify emits
    comp("busybox", "1.35.0", "cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*"),
    comp("dropbear", "2022.83", "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*"),
    comp("dnsmasq", "2.90", "cpe:2.3:a:thekelleys:dnsmasq:2.90:*:*:*:*:*:*:*"),
    comp("lighttpd", "1.4.69", "cpe:2.3:a:lighttpd:lighttpd:1.4.69:*:*:*:*:*:*:*"),
    comp("hostapd", "2.10", "cpe:2.3:a:w1.fi:hostapd:2.10:*:*:*:*:*:*:*"),
    comp("miniupnpd", "2.3.1", "cpe:2.3:a:miniupnp_project:miniupnpd:2.3.1:*:*:*:*:*:*:*"),
    comp("openssl", "3.0.22", "cpe:2.3:a:openssl:openssl:3.0.22:*:*:*:*:*:*:*"),
    comp("curl", "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"),
]


def ids(vs, state=None):
    return {v.id for v in vs if state is None or v.vex.state == state}


def test_import_counts(store):
    src = store.sources()
    assert src["nvd"]["records"] == 124
    assert src["vendor:curl"]["records"] == 7 and src["vendor:openssl"]["records"] == 10
    assert src["kev"]["records"] == 1 and src["epss"]["records"] > 100
    assert store.counts()["distro_fix"] == 4


def test_reimport_is_idempotent(store, fixdir):
    from firmpass.vulns.importers import import_paths
    before = store.counts()
    import_paths(store, [fixdir / "nvd_fixture.json.gz", fixdir / "curl_vuln.json"])
    assert store.counts() == before


def test_corpus_versions_every_cve_in_range(store):
    vs = match_components(store, CORPUS)
    # old CVEs for these products exist in the fixture but none covers the corpus versions
    assert not ids(vs) - {"CVE-2023-38545", "CVE-2024-2398", "CVE-2023-28319", "CVE-2023-27533", "CVE-2023-27537"}
    assert {"CVE-2023-27533", "CVE-2023-27537", "CVE-2023-38545"} <= ids(vs, "affected")
    for v in vs:  # every reported CVE: the recorded range holds the component version
        assert v.component_name == "curl" and v.match["source"] == "vendor:curl"
        lo, hi = [p.split()[-1] for p in v.match["range"].split(", ")]
        assert v.match["version"] == "7.88.1"


def test_ranges_including_excluding(store):
    vs = match_components(store, [comp("dnsmasq", "2.77", "cpe:2.3:a:thekelleys:dnsmasq:2.77:*:*:*:*:*:*:*"),
                                  comp("dnsmasq", "2.78", "cpe:2.3:a:thekelleys:dnsmasq:2.78:*:*:*:*:*:*:*")])
    a = {v.id for v in vs if v.component_version == "2.77"}
    b = {v.id for v in vs if v.component_version == "2.78"}
    assert "CVE-2017-14491" in a and "CVE-2017-14491" not in b  # versionEndIncluding 2.77
    assert "CVE-2017-15107" in b  # versionEndIncluding 2.78
    assert "CVE-2021-3448" in b  # versionEndExcluding 2.85
    v = next(v for v in vs if v.id == "CVE-2017-14491")
    assert v.match["criteria"].startswith("cpe:2.3:a:thekelleys:dnsmasq") and v.match["range"] == "<= 2.77"


def test_dropbear_year_versions(store):
    vs = match_components(store, [comp("dropbear", "2016.73", "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2016.73:*:*:*:*:*:*:*")])
    got = ids(vs)
    assert {"CVE-2016-7406", "CVE-2017-9078", "CVE-2018-15599"} <= got
    assert "CVE-2013-4421" not in got and "CVE-2016-3116" not in got  # < 2013.59, <= 2015.71


def test_busybox_start_end_range(store):
    vs = match_components(store, [comp("busybox", "1.32.1", "cpe:2.3:a:busybox:busybox:1.32.1:*:*:*:*:*:*:*")])
    assert "CVE-2021-28831" in ids(vs) and "CVE-2018-1000500" not in ids(vs)
    vs = match_components(store, [comp("busybox", "1.31.1", "cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*")])
    assert "CVE-2021-28831" not in ids(vs) and "CVE-2018-1000500" in ids(vs)


def test_exact_version_criteria(store):
    vs = match_components(store, [comp("lighttpd", "1.4.18", "cpe:2.3:a:lighttpd:lighttpd:1.4.18:*:*:*:*:*:*:*")])
    assert "CVE-2008-1111" in ids(vs)  # exact cpe:...:1.4.18
    vs = match_components(store, [comp("lighttpd", "1.4.19", "cpe:2.3:a:lighttpd:lighttpd:1.4.19:*:*:*:*:*:*:*")])
    assert "CVE-2008-1111" not in ids(vs)


def test_vendor_authority_openssl(store):
    vs = match_components(store, [comp("openssl", "3.0.2", "cpe:2.3:a:openssl:openssl:3.0.2:*:*:*:*:*:*:*"),
                                  comp("openssl", "3.0.4", "cpe:2.3:a:openssl:openssl:3.0.4:*:*:*:*:*:*:*")])
    a = {v.id for v in vs if v.component_version == "3.0.2" and v.vex.state == "affected"}
    b = {v.id for v in vs if v.component_version == "3.0.4" and v.vex.state == "affected"}
    assert "CVE-2022-1292" in a and "CVE-2022-1292" not in b  # 3.0.0 <= v < 3.0.3 (OpenSSL's own record)
    assert "CVE-2022-2097" in a and "CVE-2022-2097" in b  # < 3.0.5
    v = next(v for v in vs if v.id == "CVE-2022-1292")
    assert v.match["authority"] and v.match["source"] == "vendor:openssl"


def test_name_without_cpe_and_debian_epoch(store):
    c = comp("busybox-static", "1:1.31.1-4+deb11u1", None, distro="debian", package_version="1:1.31.1-4+deb11u1",
             source_package="busybox")
    assert component_key(c).version == "1.31.1"
    assert "CVE-2018-1000500" in ids(match_components(store, [c]))


def test_and_configuration_needs_other_product(store):
    # CVE-2003-0851-style AND configurations: openssl AND a Cisco product, both vulnerable entries.
    with store.session() as s:
        rows = [r for r in store.affected_for_products(s, [("openssl", "openssl")]) if r.config >= 0]
    assert rows, "fixture holds AND configurations"
    r = rows[0]
    ver = r.exact or r.end_incl or r.end_excl
    vs = match_components(store, [comp("openssl", ver, f"cpe:2.3:a:openssl:openssl:{ver}:*:*:*:*:*:*:*")])
    assert r.vuln_id not in ids(vs)


def test_kev_epss_sorting(store):
    vs = match_components(store, [comp("openssl", "1.0.1f", "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"),
                                  comp("dnsmasq", "2.77", "cpe:2.3:a:thekelleys:dnsmasq:2.77:*:*:*:*:*:*:*")])
    kev = [v for v in vs if v.kev]
    if kev:  # Heartbleed is in the fixture's KEV
        assert vs[0].kev is not None
        assert kev[0].kev["date_added"]
    aff = [v for v in vs if v.vex.state == "affected" and not v.kev]
    scores = [(v.epss or {}).get("score", 0) for v in aff]
    assert scores == sorted(scores, reverse=True)
    assert all(s.base_score > 0 for v in vs for s in v.cvss)
