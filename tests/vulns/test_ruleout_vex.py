import http.server
import json
import threading
from pathlib import Path

import pytest

from firmpass.errors import FirmpassError
from firmpass.model import ImageInfo, ScanResult, ToolInfo
from firmpass.vulns import match_components, ruleout
from firmpass.vulns.importers import import_paths
from firmpass.vulns.store import Store
from firmpass.vulns.vex import to_csaf, to_cyclonedx_vex, validate_csaf

from .conftest import comp


def test_debian_revision_fixed_is_not_affected(store):
    fixed = comp("dnsmasq-base", "2.76-5+deb9u1", "cpe:2.3:a:thekelleys:dnsmasq:2.76:*:*:*:*:*:*:*", distro="debian",
                 package_version="2.76-5+deb9u1", source_package="dnsmasq")
    old = comp("dnsmasq-base", "2.76-5", "cpe:2.3:a:thekelleys:dnsmasq:2.76:*:*:*:*:*:*:*", distro="debian",
               package_version="2.76-5", source_package="dnsmasq")
    vs = match_components(store, [fixed, old])
    v = next(v for v in vs if v.id == "CVE-2017-14491" and v.component == fixed.bom_ref)
    assert v.vex.state == "not_affected" and v.vex.justification == "code_not_present"
    assert "2.76-5+deb9u1" in v.vex.detail.en and "2.76-5+deb9u1" in v.vex.detail.zh
    assert v.match["ruled_out_by"]["release"] == "stretch"
    w = next(v for v in vs if v.id == "CVE-2017-14491" and v.component == old.bom_ref)
    assert w.vex.state == "affected"  # revision before the fix
    # an open tracker entry never rules out
    assert next(v for v in vs if v.id == "CVE-2017-14492" and v.component == fixed.bom_ref).vex.state == "affected"


def test_busybox_applet_not_built(store):
    c = comp("busybox", "1.29.3", "cpe:2.3:a:busybox:busybox:1.29.3:*:*:*:*:*:*:*")
    vs = match_components(store, [c], {"busybox": {"version": "1.31.1", "applets": ["sh", "ash", "ls", "udhcpc"]}})
    wget = next(v for v in vs if v.id == "CVE-2018-1000500")
    assert wget.vex.state == "not_affected" and "wget" in wget.vex.detail.en
    udhcp = next(v for v in vs if v.id == "CVE-2018-20679")  # udhcp components: udhcpc is built
    assert udhcp.vex.state == "affected"
    vs = match_components(store, [c], {"busybox": {"applets": ["sh", "wget"]}})
    assert next(v for v in vs if v.id == "CVE-2018-1000500").vex.state == "affected"


def test_kernel_rule_out_only_with_clear_evidence():
    desc = "In the Linux kernel, ksmbd: fix use-after-free in smb2_open"
    kernel = {"version": "6.1.0", "config": {"CONFIG_NET": "y"}, "modules": ["kernel/fs/ext4/ext4.ko"]}
    r = ruleout.kernel_not_built(desc, kernel)
    assert r and "CONFIG_SMB_SERVER" in r[1].en
    assert ruleout.kernel_not_built(desc, dict(kernel, config={"CONFIG_SMB_SERVER": "m"})) is None
    assert ruleout.kernel_not_built(desc, dict(kernel, modules=["kernel/fs/smb/server/ksmbd.ko"])) is None
    assert ruleout.kernel_not_built(desc, dict(kernel, config=None)) is None  # no config: no evidence
    assert ruleout.kernel_not_built("In the Linux kernel, a race in the scheduler", kernel) is None


def _result(vs, comps):
    r = ScanResult(tool=ToolInfo(version="t"), image=ImageInfo(path="/x/fw.bin", name="fw.bin", sha256="a" * 64, size=1))
    r.components, r.vulnerabilities = comps, vs
    return r


def test_csaf_and_cyclonedx_export(store):
    comps = [comp("curl", "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"),
             comp("dnsmasq-base", "2.76-5+deb9u1", "cpe:2.3:a:thekelleys:dnsmasq:2.76:*:*:*:*:*:*:*", distro="debian",
                  package_version="2.76-5+deb9u1", source_package="dnsmasq")]
    comps[0].purl = "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64"
    vs = match_components(store, comps)
    res = _result(vs, comps)
    doc = to_csaf(res, {"manufacturer": {"name": "ACME", "website": "https://acme.example"},
                        "product": {"name": "R1000", "firmware_version": "1.0.0"}})
    assert validate_csaf(doc) == []
    # the installed Debian revision carries the fix (tracker rule-out): CSAF says fixed, not known_not_affected
    assert any({"fixed", "known_not_affected"} & set(v["product_status"]) for v in doc["vulnerabilities"])
    assert doc["document"]["tracking"]["status"] == "draft"
    bad = json.loads(json.dumps(doc))
    del bad["document"]["tracking"]["id"]
    bad["vulnerabilities"][0]["product_status"] = {}
    errs = validate_csaf(bad)
    assert any("tracking" in e for e in errs) and any("product_status" in e for e in errs)
    cdx = to_cyclonedx_vex(res)
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(cdx)) is None
    states = {v["analysis"]["state"] for v in cdx["vulnerabilities"]}
    assert {"exploitable", "not_affected"} <= states


def test_triage_sticks_across_versions(store, tmp_path):
    """A CSAF VEX decision exported for 7.88.1 is imported and applies to a rescan of 7.88.2."""
    c1 = comp("curl", "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*")
    c1.purl = "pkg:deb/debian/curl@7.88.1-10"
    vs = match_components(store, [c1])
    v = next(v for v in vs if v.id == "CVE-2023-28319")
    v.vex.state, v.vex.justification = "not_affected", "requires_configuration"
    doc = to_csaf(_result([v], [c1]), None)
    p = tmp_path / "triage.csaf.json"
    p.write_text(json.dumps(doc))
    st = Store(tmp_path / "t.db")
    import_paths(st, [p] + [Path(__file__).parent.parent / "fixtures" / "vulns" / "curl_vuln.json"])
    c2 = comp("curl", "7.88.2", "cpe:2.3:a:haxx:curl:7.88.2:*:*:*:*:*:*:*")
    c2.purl = "pkg:deb/debian/curl@7.88.2-1"
    got = {v.id: v for v in match_components(st, [c2])}
    assert got["CVE-2023-28319"].vex.state == "not_affected"
    assert got["CVE-2023-28319"].vex.source.endswith("triage.csaf.json")
    assert got["CVE-2023-38545"].vex.state == "affected"
    # OpenVEX given at scan time
    ov = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "me", "timestamp": "2026-01-01T00:00:00Z",
          "version": 1, "statements": [{"vulnerability": {"name": "CVE-2023-38545"}, "products": [{"@id": "pkg:deb/debian/curl"}],
                                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}
    from firmpass.vulns.vex import parse_triage
    got = {v.id: v for v in match_components(st, [c2], triage_files=parse_triage(ov, "ov.json"))}
    assert got["CVE-2023-38545"].vex.state == "not_affected"
    assert got["CVE-2023-38545"].vex.justification == "code_not_reachable"


def test_stage_with_empty_store_warns_once(tmp_path):
    from firmpass.context import ScanContext, ScanOptions
    from firmpass.vulns import run
    r = _result([], [comp("curl", "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*")])
    ctx = ScanContext(tmp_path / "img", tmp_path, r, ScanOptions(db_path=tmp_path / "none.db"))
    run(ctx)
    assert r.vulnerabilities == [] and r.extra["vuln_db"]["empty"] is True
    assert len(r.warnings) == 1 and "db import" in r.warnings[0].message.en and r.warnings[0].message.zh


def test_db_update_against_local_server(tmp_path, fixdir):
    """NVD paging with lastModStartDate, a 500 retried, KEV + EPSS, cursor saved; no real network."""
    import gzip
    nvd = json.loads(gzip.open(fixdir / "nvd_fixture.json.gz").read())
    pages = [nvd["vulnerabilities"][:60], nvd["vulnerabilities"][60:]]
    seen, fail = [], {"n": 1}

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            from urllib.parse import parse_qs, urlparse
            u = urlparse(self.path)
            q = parse_qs(u.query)
            if u.path == "/nvd":
                seen.append(q)
                i = int(q["startIndex"][0])
                if i == 60 and fail["n"]:
                    fail["n"] -= 1
                    self.send_response(500); self.end_headers(); return
                body = {"resultsPerPage": len(pages[i // 60]), "startIndex": i, "totalResults": 124, "format": "NVD_CVE",
                        "version": "2.0", "timestamp": "2026-01-01T00:00:00.000", "vulnerabilities": pages[i // 60]}
                data = json.dumps(body).encode()
            elif u.path == "/kev":
                data = (fixdir / "kev.json").read_bytes()
            else:
                data = gzip.compress((fixdir / "epss.csv").read_bytes())
            self.send_response(200); self.end_headers(); self.wfile.write(data)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    from datetime import datetime, timezone

    from firmpass.vulns import update
    st = Store(tmp_path / "u.db")
    try:
        n = update.update_nvd(st, base + "/nvd", now=datetime(2026, 1, 1, tzinfo=timezone.utc), sleep=lambda s: None)
        assert n == 124 and st.sources()["nvd"]["records"] > 100
        assert [q["startIndex"][0] for q in seen] == ["0", "60", "60"]
        assert "lastModStartDate" in seen[0] and "lastModEndDate" in seen[0]
        assert st.get_cursor("nvd") == {"last_mod": "2026-01-01T00:00:00+00:00"}
        assert update.update_file(st, base + "/kev", "kev", sleep=lambda s: None) == 1
        assert update.update_file(st, base + "/epss", "epss", sleep=lambda s: None) == 20
        with pytest.raises(FirmpassError):
            update.fetch(base.replace(str(srv.server_address[1]), "1") + "/x", retries=2, sleep=lambda s: None)
    finally:
        srv.shutdown()


def test_db_update_euvd_windows_pages_and_resume(tmp_path):
    """EUVD incremental update: week windows by fromUpdatedDate/toUpdatedDate, pages of 100, the cursor
    saved per page so a failure resumes at the failed page, then `last_update` for the next run.
    Items are in the shape of the EUVD search API (id, aliases as newline-separated text,
    enisaIdProduct/enisaIdVendor, baseScore*), for a curl CVE whose range is public (CVE-2023-38545)."""
    from datetime import datetime, timezone

    from firmpass.vulns import update

    def item(n):
        return {"id": f"EUVD-2023-{49000 + n}", "aliases": f"CVE-2023-{38545 + n}\n" if n == 0 else f"GHSA-test-{n}\n",
                "description": "SOCKS5 heap buffer overflow" if n == 0 else f"record {n}",
                "datePublished": "Oct 18, 2023, 4:15:11 AM", "dateUpdated": "Dec 1, 2025, 9:00:00 AM",
                "baseScore": 9.8, "baseScoreVersion": "3.1", "baseScoreVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "references": "https://curl.se/docs/CVE-2023-38545.html\n",
                "enisaIdProduct": [{"id": f"p{n}", "product": {"name": "curl"}, "product_version": "7.69.0 <=8.3.0"}],
                "enisaIdVendor": [{"id": f"v{n}", "vendor": {"name": "curl"}}]}

    windows, fail = [], {"n": 1}

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            from urllib.parse import parse_qs, urlparse
            q = parse_qs(urlparse(self.path).query)
            key = (q["fromUpdatedDate"][0], q["toUpdatedDate"][0], q["page"][0])
            windows.append(key)
            first_window = q["fromUpdatedDate"][0] == "2025-11-17"
            if first_window and q["page"][0] == "1" and fail["n"]:
                fail["n"] -= 1
                self.send_response(404); self.end_headers(); return  # not retried: the run stops here
            total = 150 if first_window else 0
            page = int(q["page"][0])
            items = [item(i) for i in range(page * 100, min(total, page * 100 + 100))]
            data = json.dumps({"items": items, "total": total}).encode()
            self.send_response(200); self.end_headers(); self.wfile.write(data)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/api/search"
    st = Store(tmp_path / "e.db")
    st.set_cursor("euvd", {"last_update": "2025-11-17T00:00:00+00:00"}, kind="euvd")
    now = datetime(2025, 12, 1, tzinfo=timezone.utc)
    try:
        with pytest.raises(FirmpassError):
            update.update_euvd(st, base, now=now, sleep=lambda s: None)
        cur = st.get_cursor("euvd")
        assert cur["page"] == 1 and cur["window_start"].startswith("2025-11-17")
        n = update.update_euvd(st, base, now=now, sleep=lambda s: None)  # resumes at page 1 of the first week
        assert n == 50 and st.get_cursor("euvd") == {"last_update": "2025-12-01T00:00:00+00:00"}
        assert windows == [("2025-11-17", "2025-11-24", "0"), ("2025-11-17", "2025-11-24", "1"),
                           ("2025-11-17", "2025-11-24", "1"), ("2025-11-24", "2025-12-01", "0")]
        assert st.sources()["euvd"]["records"] == 150
        vs = match_components(st, [comp("curl", "8.1.2", "cpe:2.3:a:haxx:curl:8.1.2:*:*:*:*:*:*:*")])
        assert "CVE-2023-38545" in {v.id for v in vs}
    finally:
        srv.shutdown()
        st.close()
