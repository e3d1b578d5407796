"""Decisions on findings flow into the next scan like VEX decisions: recorded on a version's page
(accepted risk, fixed in version), written beside the next scan as its decisions file, and shown in
that scan's findings.json, report (both languages, image- and user-given text escaped) and evidence
package with who, when and why.  The same file given to `firmpass scan --decisions` is checked
before OUT is touched."""
from __future__ import annotations

import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from firmpass.server.app import Settings, create_app
from tests.clitool import cli

from .conftest import api_user_with_product, login, wait_scan

pytestmark = pytest.mark.corpus


def test_finding_decisions_reach_the_next_scans_report_and_evidence(corpus, tmp_path):
    app = create_app(Settings(data=tmp_path / "data", vulns_db=str(tmp_path / "none.db"), secure_cookies=False))
    srv = app.state.srv
    try:
        api, h, pid = api_user_with_product(app, "Camera")
        with open(corpus / "etc.tar.gz", "rb") as fh:
            r = api.post(f"/api/v1/products/{pid}/versions", files={"file": ("etc.tar.gz", fh)}, data={"label": "1.0"},
                         headers=h)
        vid, sid = r.json()["version"], r.json()["scan"]
        assert wait_scan(lambda: api.get(f"/api/v1/scans/{sid}", headers=h).json())["status"] == "done"
        first = json.loads((srv.scan_dir(sid) / "out" / "findings.json").read_text())
        checks = sorted({f["check"] for f in first["findings"]})
        assert len(checks) >= 2 and all(f["decision"] is None for f in first["findings"])
        accepted, fixed = checks[0], checks[1]

        c = TestClient(app)
        csrf = login(c, "a@a.example", "pw-long-enough")
        reason = "Lab units only <script>alert(1)</script>"
        for form in ({"finding": accepted, "kind": "accepted_risk", "reason": reason},
                     {"finding": fixed, "kind": "fixed_in_version", "fixed_in": "1.1", "reason": "patched"}):
            assert c.post(f"/versions/{vid}/findings", data={"csrf": csrf, **form},
                          follow_redirects=False).status_code == 303
        r = c.post(f"/versions/{vid}/rescan", data={"csrf": csrf}, follow_redirects=False)
        sid2 = int(r.headers["location"].rsplit("/", 1)[1])
        assert wait_scan(lambda: api.get(f"/api/v1/scans/{sid2}", headers=h).json())["status"] == "done"
        out = srv.scan_dir(sid2) / "out"

        # findings.json: every finding of the two checks carries its decision, the others none
        found = json.loads((out / "findings.json").read_text())["findings"]
        for f in found:
            d = f["decision"]
            if f["check"] == accepted:
                assert d["kind"] == "accepted_risk" and d["reason"] == reason and d["who"] == "a@a.example" and d["at"]
            elif f["check"] == fixed:
                assert d["kind"] == "fixed_in_version" and d["fixed_in"] == "1.1" and d["reason"] == "patched"
            else:
                assert d is None
        # the report: the decision beside the finding in both languages, the reason escaped
        html = (out / "report.html").read_text()
        assert "Risk accepted" in html and "已接受风险" in html
        assert "Fixed in version 1.1" in html and "已在版本 1.1 中修复" in html
        assert "decided by a@a.example" in html and "由 a@a.example 于" in html
        assert "Lab units only &lt;script&gt;" in html and "<script>alert(1)" not in html
        # the evidence package: the decisions the scan was given, listed in the manifest and the zip
        ev = json.loads((out / "evidence" / "finding-decisions.json").read_text())["decisions"]
        assert {d["check"]: d["kind"] for d in ev} == {accepted: "accepted_risk", fixed: "fixed_in_version"}
        assert "finding-decisions.json" in (out / "evidence" / "MANIFEST.sha256").read_text()
        with zipfile.ZipFile(out / "evidence.zip") as z:
            assert "evidence/finding-decisions.json" in z.namelist()
        # the scan was given the server's file, and the same file works from the command line
        side = srv.scan_dir(sid2) / "triage.findings.json"
        assert {d["check"] for d in json.loads(side.read_text())["decisions"]} == {accepted, fixed}
    finally:
        srv.close()


def test_scan_refuses_a_bad_decisions_file_before_out_is_touched(tmp_path, corpus):
    bad = tmp_path / "decisions.json"
    bad.write_text(json.dumps({"decisions": [{"check": "CRED-002", "kind": "ignored", "who": "x", "at": "now"}]}))
    out = tmp_path / "out"
    r = cli("scan", str(corpus / "etc.tar.gz"), "-o", str(out), "--no-pdf", "--decisions", str(bad))
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "kind must be one of" in lines[0] and "决定文件" in lines[0], r.stderr
    assert not out.exists()
